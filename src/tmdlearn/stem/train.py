"""Training segmentation U-Nets on simulated twisted-bilayer images generated on the fly.

Every step draws a fresh batch from the simulator (image k of the "train" stream of the seed),
so the network never sees the same image twice; validation uses the fixed "val" stream.
Checkpoints (model, optimiser, step, history) are written atomically as a model folder
(``checkpoint/``, :mod:`tmdlearn.models.store`: data, never code) and a run resumes from
them; the model with the best validation mean IoU (or the last, ``train.keep: last``) is
kept as ``model/``. ``init`` warm-starts from the weights of an earlier model (e.g. the
shipped one). The history records the process CPU time (``cpu_minutes``, all threads,
including the CPU time of the ``init`` model).
Validation scores come from :mod:`tmdlearn.stem.evaluation` (:func:`evaluate`,
:func:`scored_images` and :func:`summarise_images`, importable from here too).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tmdlearn.config import Checked, Open, check_least, check_one_among
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.learn.train import resolve_device, torch_threads
from tmdlearn.models.store import read_model, write_model
from tmdlearn.models.unet import NORMS, UNet
from tmdlearn.progress import track
from tmdlearn.stem.abtem_set import HELDOUT_SEED, load_set, training_batch
from tmdlearn.stem.evaluation import evaluate, scored_images, summarise_images
from tmdlearn.stem.losses import LOSSES, make_loss
from tmdlearn.stem.modelstore import save_model, stem_card
from tmdlearn.stem.normalisation import ROBUST, prepare_image
from tmdlearn.synth.stem import N_LAYERS, StemSimConfig, simulate_batch

__all__ = ["DEFAULTS", "build_model", "evaluate", "save_checkpoint", "scored_images",
           "summarise_images", "train", "warm_start"]


#: Films of another metal whose columns fill a TMD model's channels (metal, S2, SSe, Se2):
#: simulated on the ``films`` steps, and taken from an ``abtem`` folder beside the model's own.
FILMS = {"ws2": ("mos2",)}


def _check_films(films: dict[str, Any]) -> None:
    """The ``films`` section in range: a known film, a period of 0 or more, a share in [0, 1]."""
    check_least(films, "films.", every=0, monolayer_probability=0)
    check_one_among(films, "films.", material=FILMS["ws2"])
    if films["monolayer_probability"] > 1:
        raise InputError("config key 'films.monolayer_probability' must be at most 1, got "
                         f"{films['monolayer_probability']!r}")


def _check_model(model: dict[str, Any]) -> None:
    """The network's shape in range (``model`` of a training config)."""
    check_least(model, "model.", branches=1, depth=1, filters=1, dropout=0)
    check_one_among(model, "model.", norm=NORMS)
    if model.get("dropout") is not None and not model["dropout"] < 1:
        raise InputError(f"config key 'model.dropout' must be below 1, got {model['dropout']!r}")


def _check_train(train: dict[str, Any]) -> None:
    """The ``train`` section in range, ``keep`` best or last."""
    check_least(train, "train.", steps=1, batch_size=1, lr=1e-12, eval_every=1, val_images=1,
                minutes=0, match_radius_angstrom=1e-6)
    check_one_among(train, "train.", keep=("best", "last"))


#: CPU-friendly defaults (configs/stem-graphene.yaml spells them out).
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "device": "auto",
    "threads": 2,
    "init": None,
    "normalisation": "zscore",
    "data": Open({"material": "graphene", "size_px": 128}, check=StemSimConfig.from_dict),
    "model": Checked({"branches": 2, "depth": 4, "filters": 16, "dropout": 0.0,
                      "norm": "batch"}, check=_check_model),
    "loss": Checked({"name": "gomb", "alpha": 2.0, "per_species": False},
                    check=lambda loss: check_one_among(loss, "loss.", name=LOSSES)),
    # every: each every-th step trains on abTEM images of folder (benchmarks/stem_abtem.py
    # sets; never the held-out one) recorded through the microscope chain; 0: never.
    # validation_every: k leaves out the files whose index is k - 1 mod k (the set's own
    # validation images); 0: all
    "abtem": Checked({"folder": None, "every": 0, "validation_every": 0},
                     check=lambda abtem: check_least(abtem, "abtem.", every=0,
                                                     validation_every=0)),
    # every: each every-th step that is no abTEM step simulates a film of another metal
    # (material: mos2, whose columns the model's W channel then holds), monolayer_probability
    # of them monolayers; 0: never
    "films": Checked({"material": "mos2", "every": 0, "monolayer_probability": 0.5},
                     check=_check_films),
    # keep: which weights model/ holds, the best validation mean IoU (best) or the last
    # evaluated (last)
    "train": Checked({"steps": 2000, "batch_size": 8, "lr": 1e-3, "eval_every": 200,
                      "val_images": 16, "minutes": None, "match_radius_angstrom": 0.5,
                      "keep": "best"}, check=_check_train),
}


def _normalisation(config: dict[str, Any]) -> dict[str, Any] | None:
    """The normalisation spec a config asks for: ``robust`` (:data:`ROBUST`) or ``zscore``."""
    name = config.get("normalisation", "zscore")
    if name not in ("robust", "zscore"):
        raise InputError(f"normalisation must be robust or zscore, got {name!r}")
    return dict(ROBUST) if name == "robust" else None


def build_model(config: dict[str, Any]) -> UNet:
    """The U-Net of a config: ``branches`` decoders of S species each, or one decoder of B*S.

    Parameters
    ----------
    config : dict
        A training config (:data:`DEFAULTS` layout): ``data`` gives the species, ``model`` the
        architecture.

    Returns
    -------
    UNet
        Untrained, one input channel.
    """
    species = len(StemSimConfig.from_dict(config["data"]).species)
    m = config["model"]
    branches = int(m["branches"])
    out = species if branches > 1 else N_LAYERS * species
    return UNet(1, out, branches, int(m["depth"]), int(m["filters"]), float(m["dropout"]),
                m["norm"])


def warm_start(model: UNet, path: str | Path) -> float:
    """Load the weights of a saved model or checkpoint folder at ``path`` into ``model``.

    Parameters
    ----------
    model : UNet
        A network of the same architecture, changed in place.
    path : str or Path
        The model or checkpoint folder.

    Returns
    -------
    float
        The CPU minutes that model's training recorded (0 when it recorded none).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("init model not found", path)
    payload, _, _ = read_model(path, {"workflow": "stem"})
    try:
        model.load_state_dict(payload["state_dict"] if "state_dict" in payload
                              else payload["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"init is not a model of this architecture "
                         f"({err.__class__.__name__})", path) from None
    history = payload.get("history") or [payload.get("meta", {}).get("val", {})]
    return float(history[-1].get("cpu_minutes", 0.0))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training checkpoint as a model folder with its card.

    Parameters
    ----------
    path : str or Path
        The checkpoint folder.
    state : dict
        ``model`` and ``optimizer`` state dicts, ``step``, ``history``, ``best``,
        ``torch_rng`` and ``config``.

    Returns
    -------
    Path
        The folder written.
    """
    sim = StemSimConfig.from_dict(state["config"]["data"])
    meta = {"material": sim.material, "species": list(sim.species), "layers": N_LAYERS,
            "pixel_size_angstrom": sim.pixel_size_angstrom, "config": state["config"],
            "step": state["step"], "val": state["history"][-1] if state["history"] else {}}
    card = {**stem_card(meta), "task": "training checkpoint (resume with --resume)"}
    return write_model(path, state, card)


def train(config: dict[str, Any], out_dir: str | Path, resume: bool = False,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a model described by ``config`` into ``out_dir``.

    Writes ``checkpoint/`` (resumable), ``model/`` (best validation mean IoU, or the last with
    ``train.keep: last``) and ``history.csv``.

    Parameters
    ----------
    config : dict
        The training config (see :data:`DEFAULTS`); ``train.minutes`` stops early on a
        wall-clock budget.
    out_dir : str or Path
        The run folder.
    resume : bool
        Continue from ``out_dir/checkpoint``.
    log : callable
        Receives one line of scores per evaluation.

    Returns
    -------
    dict
        The final validation scores (:func:`evaluate`, with step, loss, seconds and
        cpu_minutes); empty when no step ran.
    """
    with torch_threads(config.get("threads") or None):
        return _train(copy.deepcopy(config), Path(out_dir), resume, log)


def _train(config: dict[str, Any], out_dir: Path, resume: bool,
           log: Callable[[str], None]) -> dict[str, Any]:
    seed = int(config["seed"])
    torch.manual_seed(seed)
    sim = StemSimConfig.from_dict(config["data"])
    tc = config["train"]
    device = resolve_device(config.get("device", "auto"))
    model = build_model(config).to(device)
    loss_fn = make_loss(config["loss"]["name"], N_LAYERS, float(config["loss"].get("alpha", 2.0)),
                        bool(config["loss"].get("per_species", False)))
    opt = torch.optim.Adam(model.parameters(), lr=float(tc["lr"]))
    steps = int(tc["steps"])
    start, history, best, cpu_before = 0, [], -1.0, 0.0
    if config.get("init") and not resume:
        cpu_before = warm_start(model, config["init"])
    if resume:
        start, history, best, cpu_before = _resume(out_dir / "checkpoint", model, opt)
    meta = {"material": sim.material, "species": list(sim.species), "layers": N_LAYERS,
            "pixel_size_angstrom": sim.pixel_size_angstrom,
            "label_radius_angstrom": sim.label_radius_angstrom, "loss": config["loss"]["name"],
            "normalisation": _normalisation(config), "config": config}
    model.normalisation = meta["normalisation"]
    batch_size, began, cpu_began = int(tc["batch_size"]), time.time(), time.process_time()
    minutes = tc.get("minutes")
    running = []
    every, abtem_items = _abtem_items(config.get("abtem") or {}, sim)
    films_every, film_sim = _film_sim(config.get("films") or {}, sim)
    for step in track(range(start, steps), "training", total=steps - start):
        if every and (step + 1) % every == 0:
            images, labels = training_batch(abtem_items, sim, np.random.default_rng([seed, step]),
                                            batch_size)
        else:
            drawn = film_sim if films_every and (step + 1) % films_every == 0 else sim
            images, labels, _ = simulate_batch(drawn, seed, "train", step * batch_size,
                                               batch_size)
        # cosine decay to 5 % of lr, resumable at any step
        lr = float(tc["lr"]) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * step / steps)))
        running.append(_step(model, opt, loss_fn, images, labels, meta, lr, device))
        done = step + 1
        out_of_time = minutes is not None and time.time() - began > 60 * float(minutes)
        if done % int(tc["eval_every"]) == 0 or done == steps or out_of_time:
            scores = evaluate(model, sim, seed, int(tc["val_images"]),
                              float(tc["match_radius_angstrom"]))
            scores.update(step=done, loss=float(np.mean(running)),
                          seconds=round(time.time() - began, 1),
                          cpu_minutes=round(cpu_before + (time.process_time() - cpu_began) / 60, 4))
            running = []
            history.append(scores)
            log(" ".join(f"{k}={v:.4g}" for k, v in scores.items()))
            best = _save_progress(out_dir, model, opt, meta, history, best)
        if out_of_time:
            break
    return history[-1] if history else {}


def _abtem_items(abtem: dict[str, Any], sim: StemSimConfig) -> tuple[int, list[dict]]:
    """The ``abtem`` config's step period and its images (of the simulator's material, or for
    a WS2 model also of MoS2(1-x)Se2x, whose columns fill the same channels; at the
    simulator's pixel size; without the validation files ``validation_every`` leaves out);
    (0, []) when ``every`` is 0."""
    every = int(abtem.get("every") or 0)
    if not every:
        return 0, []
    folder = abtem.get("folder")
    if folder and not Path(folder).is_dir():
        raise InputError(f"abtem.folder {folder!r} is not a folder (a relative one is read from "
                         f"{Path.cwd()})")
    items = load_set(Path(folder)) if folder else []
    materials = {sim.material, *FILMS.get(sim.material, ())}
    apart = int(abtem.get("validation_every") or 0)
    items = [i for i in items if i["material"] in materials
             and np.isclose(float(i["pixel_angstrom"]), sim.pixel_size_angstrom)
             and not (apart and _index(i["name"]) % apart == apart - 1)]
    if not items:
        raise InputError(f"abtem.folder {folder!r} holds no {sim.material} images at "
                         f"{sim.pixel_size_angstrom} Å/px (benchmarks/stem_abtem.py writes them)")
    if any(json.loads(str(i["structure"]))["seed"][0] == HELDOUT_SEED for i in items):
        raise InputError(f"abtem.folder {folder!r} holds images of the held-out set (seed "
                         f"{HELDOUT_SEED}), which is never trained on: simulate a training set "
                         "with another --seed")
    return every, items


def _index(name: str) -> int:
    """The index a set's file name ends with (``ws2-007`` -> 7; -1 without one)."""
    digits = re.search(r"(\d+)$", name)
    return int(digits.group(1)) if digits else -1


def _film_sim(films: dict[str, Any], sim: StemSimConfig) -> tuple[int, StemSimConfig | None]:
    """The ``films`` config's step period and its simulator (``sim`` with the film's material
    and monolayer share); (0, None) when ``every`` is 0. Only for a TMD model: a film's
    species channels (metal, S2, SSe, Se2) are the model's."""
    every = int(films.get("every") or 0)
    if not every:
        return 0, None
    if films["material"] not in FILMS.get(sim.material, ()):
        raise InputError(f"films are for a TMD model (data.material ws2), not {sim.material}")
    return every, replace(sim, material=films["material"],
                          monolayer_probability=float(films["monolayer_probability"]))


def _resume(ckpt_path: Path, model: UNet, opt: torch.optim.Optimizer
            ) -> tuple[int, list[dict], float, float]:
    """Load the checkpoint into ``model``, ``opt`` and torch's random state; its step,
    history, best mean IoU and CPU minutes so far."""
    if not ckpt_path.exists():
        raise InputError("no checkpoint to resume from", ckpt_path)
    ckpt, _, _ = read_model(ckpt_path, {"workflow": "stem"})
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["torch_rng"])
    history = ckpt["history"]
    cpu_before = float(history[-1].get("cpu_minutes", 0.0)) if history else 0.0
    return ckpt["step"], history, ckpt["best"], cpu_before


def _step(model: UNet, opt: torch.optim.Optimizer, loss_fn, images: np.ndarray,
          labels: np.ndarray, meta: dict[str, Any], lr: float, device) -> float:
    """One optimiser step at learning rate ``lr`` on a batch; its loss."""
    model.train()
    x = np.stack([prepare_image(im, meta) for im in images])[:, None]
    x = torch.from_numpy(x).to(device)
    y = torch.from_numpy(labels).float().to(device)
    for group in opt.param_groups:
        group["lr"] = lr
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _save_progress(out_dir: Path, model: UNet, opt: torch.optim.Optimizer,
                   meta: dict[str, Any], history: list[dict], best: float) -> float:
    """After an evaluation (the last of ``history``): the model when its mean IoU beats
    ``best`` (or always, with ``train.keep`` last), the checkpoint and history.csv; the best
    mean IoU."""
    scores = history[-1]
    last = meta["config"]["train"].get("keep") == "last"
    if scores["mean_iou"] > best or last:
        best = max(best, scores["mean_iou"])
        save_model(out_dir / "model", model, {**meta, "step": scores["step"], "val": scores})
    save_checkpoint(out_dir / "checkpoint", {"model": model.state_dict(),
                                             "optimizer": opt.state_dict(),
                                             "step": scores["step"], "history": history,
                                             "best": best, "torch_rng": torch.get_rng_state(),
                                             "config": meta["config"]})
    with atomic_path(out_dir / "history.csv") as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    return best
