"""Inference speed of the shipped Gomb-Net at 256 x 256 px: folded batch norm + channels-last
against the plain torch module (same weights, same outputs to 1e-5).

Runs batches of 4 noisy 256 x 256 images through both, alternating, and reports the median
images/s of the repeats. ``--score N`` adds the model's scores on the first N simulated test
images (pixel accuracy, mean IoU, atom precision/recall/RMS error per layer, before and after
the lattice step; docs/stem.md quotes N = 50); ``--model`` times and scores another saved model,
e.g. one from ``tmdlearn stem train``. ``--views 1 2 4`` also times the folded model averaged
over 2 and 4 mirror views (``folded_views2_*``, ...), and ``--score`` then scores with the
last of them; ``--prior P`` also scores with the lattice prior (keys ending in ``_prior``);
``--split val`` scores validation images instead (to choose settings without the test set).
``stages_cpu_ms`` times the steps after the network on simulated 256 x 256 test images (one
view): atom finding, lattice step and, with ``--prior``, the lattice prior.
Prints one JSON object.

    python benchmarks/stem_inference.py --threads 2 --n 64
    python benchmarks/stem_inference.py --score 50 [--model runs/stem-graphene/model]
    python benchmarks/stem_inference.py --threads 1 --n 16 --repeats 1 --views 1 2 4
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from tmdlearn.stem.atoms import find_atoms
from tmdlearn.stem.inference import (
    apply_lattice_prior,
    fast_model,
    load_model,
    predict_logits,
    predict_views,
    prepare_image,
)
from tmdlearn.stem.lattice import reassign_layers
from tmdlearn.stem.train import evaluate
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed


def throughput(model: torch.nn.Module, size: int = 256, n: int = 16,
               views: int = 1) -> tuple[float, float]:
    """Images/s (wall) and CPU seconds per image (all threads) of :func:`predict_logits` on
    ``n`` images of ``size`` x ``size`` px in batches of 4 (with ``views`` > 1: of
    :func:`predict_views`, one image at a time)."""
    batch = np.random.default_rng(0).poisson(100, (4, size, size)).astype(np.float32)
    predict_logits(model, batch[0])  # warm-up
    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(n // 4):
        if views == 1:
            predict_logits(model, None, batch=batch)
        else:
            for image in batch:
                predict_views(model, image, views=views)
    done = 4 * (n // 4)
    return done / (time.perf_counter() - began), (time.process_time() - cpu) / done


def stage_times(model: torch.nn.Module, meta: dict, lattice_prior: float, n: int = 16) -> dict:
    """CPU ms per image of each step of :func:`identify_atoms` on ``n`` simulated test images."""
    stages = ["network", "find_atoms", "lattice"] + (["prior"] if lattice_prior else [])
    times = dict.fromkeys(stages, 0.0)
    for k in range(n):
        image = simulate_image(StemSimConfig(size_px=256), split_seed(0, "test", k)).image
        clock = [time.process_time()]
        logits = predict_views(model, prepare_image(image, meta))
        clock.append(time.process_time())
        atoms = find_atoms(logits)
        clock.append(time.process_time())
        atoms, masks = reassign_layers(atoms, logits > 0)
        clock.append(time.process_time())
        if lattice_prior:
            apply_lattice_prior(atoms, masks.shape, lattice_prior, meta,
                                float(meta["pixel_size_angstrom"]))
            clock.append(time.process_time())
        for name, began, ended in zip(times, clock[:-1], clock[1:], strict=True):
            times[name] += 1000 * (ended - began) / n
    return {name: round(value, 1) for name, value in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=64, help="images per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--model", default=None, help="saved model folder (default: shipped)")
    parser.add_argument("--score", type=int, default=0, help="test images to score (0: none)")
    parser.add_argument("--views", type=int, nargs="+", default=[1],
                        help="mirror views to time the folded model with (1, 2, 4)")
    parser.add_argument("--prior", type=float, default=0.0,
                        help="lattice prior pull (0-1) also scored with --score")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="images scored with --score")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plain, meta = load_model(args.model, device="cpu", fast=False)
    fast = fast_model(plain)
    image = np.random.default_rng(1).poisson(100, (args.size, args.size)).astype(np.float32)
    max_diff = float(np.abs(predict_logits(fast, image) - predict_logits(plain, image)).max())
    extra = [v for v in args.views if v != 1]
    runs = {"plain": [], "folded": []} | {f"folded_views{v}": [] for v in extra}
    cpu = time.process_time()
    for _ in range(args.repeats):
        runs["plain"].append(throughput(plain, args.size, args.n))
        runs["folded"].append(throughput(fast, args.size, args.n))
        for v in extra:
            runs[f"folded_views{v}"].append(throughput(fast, args.size, args.n, views=v))
    result = {"size_px": args.size, "threads": args.threads, "images_per_repeat": args.n,
              "repeats": args.repeats}
    for name, values in runs.items():
        speed, cpu_per_image = np.median(np.asarray(values), axis=0)
        result[f"{name}_images_per_s"] = round(float(speed), 2)
        result[f"{name}_cpu_ms_per_image"] = round(1000 * float(cpu_per_image), 1)
    result |= {"speedup": round(result["folded_images_per_s"] / result["plain_images_per_s"], 2),
               "max_abs_logit_difference": max_diff,
               "cpu_seconds": round(time.process_time() - cpu, 1),
               "load_average_1min": os.getloadavg()[0]}
    result["stages_cpu_ms"] = stage_times(fast, meta, args.prior)
    if args.score > 0:
        scores = evaluate(fast, StemSimConfig(size_px=args.size), 0, args.score, split=args.split,
                          lattice=True, views=args.views[-1],
                          lattice_prior=args.prior)
        result |= {"scored_images": args.score, "score_split": args.split,
                   "score_views": args.views[-1],
                   "score_prior": args.prior} | {
            k: round(v, 4) for k, v in scores.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
