"""Gomb-Net vs U-Net + Dice vs U-Net + Gomb loss on simulated twisted bilayer graphene.

All three models are trained with the same budget (steps, capped by minutes) from
configs/stem-graphene.yaml and scored on the same N test images (the simulator's "test"
stream, 256 x 256 px): pixel accuracy, mean IoU, atom precision / recall / RMS error per
layer within 0.5 Å, before and after the lattice layer reassignment (keys ending in
``_lattice``), training CPU minutes, and inference images/s at 256 x 256 on this machine's
CPU threads (folded batch norm; ``--views`` averages mirror images at inference, for all
models); ``--prior P`` also scores the atoms and masks after pulling the positions P of the
way to each layer's fitted honeycomb (keys ending in ``_prior``; see
``tmdlearn.stem.lattice.pull_to_lattice``). Prints one JSON object.

``--reuse`` scores the models already in OUT/<variant>/model/ (e.g. trained by
``tmdlearn stem train``) and takes their training record from OUT/<variant>/history.csv:
steps done, total training CPU minutes and wall seconds (evaluations included), and the step
and CPU minutes of the kept (best validation mean IoU) model; ``training_finished`` is false
when fewer than ``--train-steps`` steps were done.

    python benchmarks/gomb.py --n-test 800 --train-steps 700
    python benchmarks/gomb.py --out /work/bench-gomb --reuse --n-test 800 --train-steps 8000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stem_inference import throughput
from tmdlearn.config import load_config
from tmdlearn.stem.inference import load_model
from tmdlearn.stem.train import DEFAULTS, evaluate, train
from tmdlearn.synth.stem import StemSimConfig

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "gombnet": ["model.branches=2", "loss.name=gomb"],
    "unet_dice": ["model.branches=1", "loss.name=dice"],
    "unet_gomb": ["model.branches=1", "loss.name=gomb"],
}


def _plain(value):
    """JSON-safe number: rounded, NaN (no atoms found at all) as null."""
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 4)
    return value


def _training_record(run: Path, meta: dict, steps: int) -> dict:
    """Steps done, total training CPU minutes and wall seconds (last row of history.csv), and
    the step and CPU minutes of the kept model (its metadata)."""
    last = pd.read_csv(run / "history.csv").iloc[-1]
    return {"train_steps_done": int(last["step"]), "training_finished": int(last["step"]) >= steps,
            "train_cpu_minutes": float(last["cpu_minutes"]),
            "train_wall_seconds": float(last["seconds"]),
            "kept_model_step": int(meta["step"]),
            "kept_model_cpu_minutes": meta["val"].get("cpu_minutes")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-test", "--n", type=int, default=800, dest="n_test",
                        help="test images")
    parser.add_argument("--train-steps", type=int, default=700)
    parser.add_argument("--train-minutes", type=float, default=None, help="cap per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="test image side, px")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-gomb"))
    parser.add_argument("--reuse", action="store_true", help="reuse trained models in --out")
    parser.add_argument("--views", type=int, default=1,
                        help="mirror views averaged at inference (1, 2 or 4)")
    parser.add_argument("--prior", type=float, default=0.0,
                        help="lattice prior pull (0-1) scored after the lattice step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"n_test_images": args.n_test, "test_size_px": args.size,
              "train_steps": args.train_steps, "train_minutes_cap": args.train_minutes,
              "threads": args.threads, "views": args.views, "prior": args.prior,
              "match_radius_angstrom": 0.5}
    for name, overrides in VARIANTS.items():
        cfg = load_config(ROOT / "configs" / "stem-graphene.yaml",
                          [*overrides, f"train.steps={args.train_steps}",
                           f"train.minutes={args.train_minutes or 'null'}",
                           f"threads={args.threads}", "device=cpu",
                           f"train.eval_every={args.train_steps}"], DEFAULTS)
        run = args.out / name
        if not (args.reuse and (run / "model").is_file()):
            train(cfg, run, log=lambda _: None)
        model, meta = load_model(run / "model", device="cpu")
        sim = StemSimConfig.from_dict({**cfg["data"], "size_px": args.size})
        cpu = time.process_time()
        scores = evaluate(model, sim, int(cfg["seed"]), args.n_test, 0.5, split="test",
                          lattice=True, views=args.views, lattice_prior=args.prior)
        scores["eval_cpu_minutes"] = round((time.process_time() - cpu) / 60, 2)
        scores |= _training_record(run, meta, args.train_steps)
        speed = throughput(model, args.size, views=args.views)[0]
        scores["inference_images_per_s_256"] = round(speed, 2)
        result[name] = {k: _plain(v) for k, v in scores.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
