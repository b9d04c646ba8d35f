"""The cross-modal workflow: embedding targets, spectra → AFM regression, spectrum generation,
feature heads and read-outs, collected into tables, figures, models and headline metrics.
``DEFAULTS``, ``load(cfg)`` (the paired dataset) and ``run(data, cfg)`` ->
:class:`~tmdlearn.outcome.Outcome`; the steps are in :mod:`.tasks` (splits),
:mod:`.regression_step`, :mod:`.generation_step` and :mod:`.readout_step`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from sklearn.svm import SVR

from tmdlearn.config import (
    Checked,
    Open,
    check_among,
    check_keys,
    check_least,
    is_number,
    merged,
)
from tmdlearn.crossmodal.data import TASKS, CrossModalData, SpectrumGrid, load_pairs
from tmdlearn.crossmodal.generation_step import run_generation
from tmdlearn.crossmodal.published import citation, note
from tmdlearn.crossmodal.regress import MODELS
from tmdlearn.crossmodal.regression_step import run_regression
from tmdlearn.crossmodal.saved import save_models
from tmdlearn.crossmodal.targets import METHODS
from tmdlearn.crossmodal.tasks import held_out_samples, task_split
from tmdlearn.engine import workflow_engine
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import write_text
from tmdlearn.learn import torch_threads
from tmdlearn.learn.tune import check_space, open_storage
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing

__all__ = ["DEFAULTS", "HELP", "LARGE_KEYS", "compute_image_features", "held_out_samples",
           "load", "run", "task_split"]

_DECODER = {"n_decoder_layers": {"type": "int", "low": 1, "high": 3},
            "activation": {"type": "categorical", "choices": ["relu", "leaky_relu", "elu"]},
            "dropout": {"type": "float", "low": 0.0, "high": 0.3},
            "lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
            "batch_size": {"type": "categorical", "choices": [16, 32]}}
_SPECTRAL = {"n_layers": {"type": "int", "low": 1, "high": 3},
             "units": {"type": "categorical", "choices": [64, 128, 256, 512, 1024]}}


def check_generation_spaces(spaces: dict) -> None:
    """InputError for a malformed ``generation.space``: one search space per generator kind
    (image, spectrum, fusion), each checked by :func:`~tmdlearn.learn.tune.check_space`.

    Parameters
    ----------
    spaces : dict
        The config's ``generation.space``.
    """
    if not isinstance(spaces, dict):
        raise InputError(f"generation.space must map image, spectrum and fusion to search "
                         f"spaces, got {spaces!r}")
    check_keys(spaces, ("image", "spectrum", "fusion"), "generation.space.")
    for kind, space in spaces.items():
        check_space(space, f"generation.space.{kind}.")


def _check_split(split: dict) -> None:
    """``split``: at least 2 folds, a test fraction in (0, 1)."""
    check_least(split, "split.", folds=2)
    fraction = split["test_size"]
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise InputError(f"config key 'split.test_size' must be a fraction in (0, 1), got "
                         f"{fraction!r}")


def _check_data(data: dict) -> None:
    """``data``: spectral windows [low, high] with low < high, at least 2 points each."""
    check_least(data, "data.", raman_points=2, pl_points=2)
    for key in ("raman_window_cm1", "pl_window_ev"):
        window = data.get(key)
        if not (isinstance(window, (list, tuple)) and len(window) == 2
                and all(is_number(v) for v in window)
                and window[0] < window[1]):
            raise InputError(f"config key 'data.{key}' must be [low, high] with low < high, "
                             f"got {window!r}")


#: The least value of SVR's numeric parameters (C and gamma: above 0).
_SVR_LEAST = {"C": 1e-12, "gamma": 1e-12, "epsilon": 0, "degree": 1}


def _check_svr_grid(grid: dict) -> None:
    """``regression.svr_grid``: SVR parameters, each a list; C and gamma positive (or gamma
    scale / auto), epsilon at least 0, degree at least 1, known kernels."""
    where = "regression.svr_grid."
    check_keys(grid, SVR().get_params(), where)
    for key, values in grid.items():
        if not isinstance(values, list):
            raise InputError(f"config key '{where}{key}' must be a list of values, got "
                             f"{values!r}")
        for value in values:
            if key in _SVR_LEAST and not (key == "gamma" and value in ("scale", "auto")):
                check_least({key: value}, where, **{key: _SVR_LEAST[key]})
    check_among(grid, where, kernel=("linear", "poly", "rbf", "sigmoid"))


def _check_regression(regression: dict) -> None:
    """``regression``: known inputs and models, counts in range."""
    check_among(regression, "regression.", inputs=("raman", "pl"), models=MODELS)
    check_least(regression, "regression.", bootstrap=0)
    check_least(regression.get("mlp") or {}, "regression.mlp.", trials=1, epochs=1)


def _check_generation(generation: dict) -> None:
    """``generation``: known tasks, counts in range."""
    check_among(generation, "generation.", tasks=TASKS)
    check_least(generation, "generation.", folds=2, trials=1, epochs=1, patience=1,
                n_figure=0)


DEFAULTS: dict = {
    "seed": 0,
    "device": "auto",
    "threads": 1,
    "optuna": {"storage": None, "study": None},
    "data": Checked({"folder": None, "scan_size_um": 1.0, "raman_power_mw": None,
                     "pl_power_mw": None, "raman_window_cm1": [360.0, 480.0],
                     "raman_points": 202, "pl_window_ev": [1.6, 2.2], "pl_points": 200},
                    check=_check_data),
    "split": Checked({"test_size": 0.2, "folds": 5}, check=_check_split),
    "embedding": Checked({"backbone": "efficientnet-lite0", "weights": "default",
                          "cache_dir": None, "clip_nm": 1.5, "methods": ["umap", "pca"],
                          "umap_neighbors": 15, "umap_metric": "cosine"},
                         check=lambda emb: check_among(emb, "embedding.", methods=METHODS)),
    "regression": Checked({
        "inputs": ["raman", "pl"], "models": list(MODELS), "bootstrap": 30,
        "physical": ["coverage", "domain_density_um2", "bilayer_fraction", "sq_nm"],
        "ridge_alphas": [1.0, 10.0, 100.0, 1000.0, 10000.0],
        "svr_grid": Open({"C": [0.1, 1.0, 10.0], "gamma": ["scale"],
                          "kernel": ["rbf", "poly"], "degree": [2]}, check=_check_svr_grid),
        "mlp": {"trials": 2, "epochs": 120,
                "space": Open({"n_layers": {"type": "int", "low": 1, "high": 3},
                          "units": {"type": "categorical", "choices": [32, 64, 128, 256]},
                          "activation": {"type": "categorical",
                                         "choices": ["relu", "tanh", "elu"]},
                          "dropout": {"type": "float", "low": 0.0, "high": 0.3},
                          "l1": {"type": "float", "low": 1e-7, "high": 1e-4, "log": True},
                          "lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                          "batch_size": {"type": "categorical", "choices": [16, 32]}},
                              check=partial(check_space, where="regression.mlp.space."))},
    }, check=_check_regression),
    "generation": Checked({
        "tasks": list(TASKS), "folds": 3, "trials": 1, "epochs": 100, "patience": 15,
        "n_figure": 4,
        # optional peaks of the read-out presets fitted too: the study's films are on sapphire,
        # whose 417.6 cm-1 line tops thin films' Raman spectra (docs/crossmodal.md)
        "readout_include": {"raman": ["sapphire", "sapphire378"], "pl": []},
        "space": Open({"image": dict(_DECODER), "spectrum": {**_DECODER, **_SPECTRAL},
                       "fusion": {**_DECODER, **_SPECTRAL,
                                  "fusion_width": {"type": "categorical",
                                                   "choices": [256, 512, 1024]}}},
                      check=check_generation_spaces),
    }, check=_check_generation),
    # where the folds of every search run, each a task (docs/scale.md)
    "run": run_section(),
    "heads": {"epochs": 150,
              "params": {"n_layers": 2, "units": 128, "activation": "relu", "dropout": 0.1,
                         "l1": 0.0, "lr": 1e-3, "batch_size": 16}},
}


#: Meaning of config keys, shared by the command-line help and the docs' config table.
HELP = dict(RUN_HELP)
#: ``run.scheduler: auto`` starts a local cluster of processes from this many keys on.
LARGE_KEYS = 2000


def load(config: dict) -> CrossModalData:
    """The paired dataset of ``data.folder`` (:func:`~tmdlearn.crossmodal.data.load_pairs`; the
    filters used in its ``filters``) with the backbone features of its AFM maps, cached under
    ``embedding.cache_dir`` when set.

    Parameters
    ----------
    config : dict
        Workflow configuration (:data:`DEFAULTS`): ``data``, ``embedding``, ``device``,
        ``threads``.

    Returns
    -------
    CrossModalData
        With ``image_features`` and ``filters`` filled.
    """
    d, emb = config["data"], config["embedding"]
    if not d.get("folder"):
        raise InputError("no dataset: give --data FOLDER or set data.folder")
    with torch_threads(config.get("threads") or None):
        pairs, filters = load_pairs(
            d["folder"], d["scan_size_um"], d["raman_power_mw"], d["pl_power_mw"],
            SpectrumGrid(tuple(d["raman_window_cm1"]), int(d["raman_points"]), "cm-1"),
            SpectrumGrid(tuple(d["pl_window_ev"]), int(d["pl_points"]), "eV"))
        compute_image_features(pairs, emb, config["device"], emb["cache_dir"])
    pairs.filters = filters
    return pairs


def run(data: CrossModalData, config: dict, progress: bool | None = None) -> Outcome:
    """Run every part of the workflow on ``data`` (image features already computed, as by
    :func:`load`).

    ``optuna.storage``: Optuna storage (SQLite path or database URL) of resumable searches,
    shared by every process that runs with it (:func:`~tmdlearn.learn.tune.tune`), opened once
    for the run; None keeps them in memory. ``optuna.study`` prefixes the studies' names. The
    models are saved as ``models/<name>/`` (model folders with cards,
    :func:`~tmdlearn.crossmodal.saved.save_models`). ``run.scheduler`` and ``run.workers``:
    where the folds of every search run, one task each (docs/scale.md).

    Parameters
    ----------
    data : CrossModalData
        The dataset of :func:`load`.
    config : dict
        Workflow configuration, possibly partial (missing keys take :data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off, or None (on a terminal).

    Returns
    -------
    Outcome
        Metrics, tables (Tables 3, 4, 6), figures, models and the files to write.
    """
    cfg = merged(DEFAULTS, config)
    seed = int(cfg["seed"])
    storage = open_storage(cfg["optuna"]["storage"])
    outcome = Outcome()
    held_out = held_out_samples(data.groups, cfg["split"]["test_size"], seed)
    outcome.info["test_samples"] = held_out.tolist()
    with showing(progress), torch_threads(cfg.get("threads") or None), workflow_engine(
            cfg["run"], len(data), LARGE_KEYS, parallel_threads=False) as engine:
        if cfg["regression"]["inputs"]:
            run_regression(data, cfg, held_out, storage, outcome, engine)
        if cfg["generation"]["tasks"]:
            run_generation(data, cfg, held_out, storage, outcome, engine)
    fit_domains(data, cfg, held_out, outcome)
    n_samples = int(np.unique(data.groups).size)
    outcome.files["models"] = partial(save_models, models=outcome.models, config=cfg,
                                      metrics=outcome.metrics, n_samples=n_samples)
    outcome.files["published.md"] = partial(write_text, text=note())
    outcome.info.update(published=citation(), filters=data.filters, n_keys=len(data),
                        n_samples=n_samples)
    return outcome


def fit_domains(data: CrossModalData, cfg: dict, held_out: np.ndarray,
                outcome: Outcome) -> None:
    """``outcome.models["domain_<modality>"]``: the training inputs of every modality a
    single-input model reads (:func:`tmdlearn.crossmodal.domain.fit_domain`, the held-out
    samples left out), which ``crossmodal predict`` checks new inputs against.

    Parameters
    ----------
    data : CrossModalData
        The dataset.
    cfg : dict
        The full config (``regression.inputs``, ``generation.tasks``).
    held_out : array
        The held-out samples.
    outcome : Outcome
        Filled in place.
    """
    from tmdlearn.crossmodal.domain import fit_domain

    single = [TASKS[task][0] for task in cfg["generation"]["tasks"] if len(TASKS[task][0]) == 1]
    modalities = set(cfg["regression"]["inputs"]) | {inputs[0] for inputs in single}
    train = ~np.isin(data.groups, held_out)
    for modality in sorted(modalities):
        domain = fit_domain(data.inputs(modality)[train])
        if domain is not None:
            sizes = [getattr(h, "pixel_size_nm", None) for h, t in
                     zip(data.heights, train, strict=True) if t and modality == "afm"]
            sizes = [size for size in sizes if size]
            if sizes:  # the resolution the AFM embeddings were made at
                domain.pixel_size_nm = float(np.median(sizes))
            outcome.models[f"domain_{modality}"] = domain


def compute_image_features(data: CrossModalData, embedding: dict, device: str = "auto",
                           cache_dir: str | Path | None = None) -> None:
    """Fill ``data.image_features`` (N, D; NaN rows without AFM) with pooled backbone features
    of the height maps, cached on disk under ``cache_dir``.

    Parameters
    ----------
    data : CrossModalData
        The dataset; changed in place.
    embedding : dict
        The config's ``embedding`` section (backbone, weights, clip_nm in nm).
    device : str
        Torch device, "auto" picks CUDA when available.
    cache_dir : str or Path, optional
        Folder of the feature cache.
    """
    from tmdlearn.afm.embed import embed

    rows = data.rows(["afm"])
    features = embed([data.heights[i] for i in rows], backbone=embedding["backbone"],
                     weights=embedding["weights"], device=device, cache_dir=cache_dir,
                     clip_nm=float(embedding["clip_nm"]))
    out = np.full((len(data), features.shape[1]), np.nan, dtype=np.float32)
    out[rows] = features
    data.image_features = out
