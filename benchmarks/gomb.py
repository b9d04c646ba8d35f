"""Gomb-Net vs U-Net + Dice vs U-Net + Gomb loss on simulated twisted bilayer graphene.

All three models are trained with the same budget (steps, capped by minutes) from
configs/stem-graphene.yaml and scored on the same N test images (the simulator's "test"
stream, 256 x 256 px): pixel accuracy, mean IoU, atom precision / recall / RMS error per
layer within 0.5 Å, and inference images/s at 256 x 256 on this machine's CPU threads.
Prints one JSON object.

    python benchmarks/gomb.py --n 800 --train-steps 1500
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from tmdlearn.config import load_config
from tmdlearn.stem.inference import load_model, predict_logits
from tmdlearn.stem.train import DEFAULTS, evaluate, train
from tmdlearn.synth.stem import StemSimConfig

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "gombnet": ["model.branches=2", "loss.name=gomb"],
    "unet_dice": ["model.branches=1", "loss.name=dice"],
    "unet_gomb": ["model.branches=1", "loss.name=gomb"],
}


def images_per_second(model: torch.nn.Module, size: int = 256, n: int = 16) -> float:
    """Inference throughput on ``n`` images of ``size`` x ``size`` px, batches of 4."""
    batch = np.random.default_rng(0).poisson(100, (4, size, size)).astype(np.float32)
    predict_logits(model, batch[0])  # warm-up
    began = time.perf_counter()
    for _ in range(n // 4):
        predict_logits(model, None, batch=batch)
    return n / (time.perf_counter() - began)


def _plain(value):
    """JSON-safe number: rounded, NaN (no atoms found at all) as null."""
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 4)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=800, help="test images")
    parser.add_argument("--train-steps", type=int, default=1500)
    parser.add_argument("--train-minutes", type=float, default=None, help="cap per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="test image side, px")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-gomb"))
    parser.add_argument("--reuse", action="store_true", help="reuse trained models in --out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"n_test_images": args.n, "test_size_px": args.size, "train_steps": args.train_steps,
              "train_minutes_cap": args.train_minutes, "threads": args.threads,
              "match_radius_angstrom": 0.5}
    for name, overrides in VARIANTS.items():
        cfg = load_config(ROOT / "configs" / "stem-graphene.yaml",
                          [*overrides, f"train.steps={args.train_steps}",
                           f"train.minutes={args.train_minutes or 'null'}",
                           f"threads={args.threads}", "device=cpu",
                           f"train.eval_every={args.train_steps}"], DEFAULTS)
        run = args.out / name
        began = time.time()
        if not (args.reuse and (run / "model.pt").is_file()):
            train(cfg, run, log=lambda _: None)
        seconds = time.time() - began
        model, meta = load_model(run / "model.pt", device="cpu")
        sim = StemSimConfig.from_dict({**cfg["data"], "size_px": args.size})
        scores = evaluate(model, sim, int(cfg["seed"]), args.n, 0.5, split="test")
        scores["train_seconds"] = round(seconds, 1)
        scores["train_steps_done"] = int(meta["step"])
        scores["inference_images_per_s_256"] = round(images_per_second(model), 2)
        result[name] = {k: _plain(v) for k, v in scores.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
