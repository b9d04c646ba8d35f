"""Tiled against whole-image prediction of the shipped Gomb-Net models.

For ``--n`` simulated test images of ``--size`` px per material (at the model's pixel size):
the fraction of mask pixels on which tiled (``--tiles``, overlap 48 px) and whole-image logits
agree (min and mean over the images), pixel accuracy and mean IoU against the true labels of
both, and CPU s per image.
``--memory`` adds the peak resident memory (MB above the process's peak once the model and the
image are loaded) of one prediction of a random image of each ``--memory`` size, whole and with
each tile size, each in a fresh process.
Prints one JSON object.

    python benchmarks/stem_tiles.py --n 5 --size 512 --tiles 128 256 --memory 1024 2048
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

from tmdlearn.stem.inference import load_model, predict_tiled, prepare_image
from tmdlearn.stem.metrics import segmentation_scores
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed


def _peak_mb(size: int, tile: int) -> float:
    """Peak RSS (MB) added by one prediction, measured in a fresh process."""
    code = (
        "import resource, numpy as np, torch; torch.set_num_threads(1)\n"
        "from tmdlearn.stem.inference import load_model, predict_tiled\n"
        "m, _ = load_model(device='cpu')\n"
        f"im = np.random.default_rng(0).poisson(100, ({size}, {size})).astype(float)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"predict_tiled(m, im, tile={tile})\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)\n"
    )
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tiles", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--memory", type=int, nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"n": args.n, "size_px": args.size, "overlap_px": 48}
    for material in ("graphene", "ws2"):
        model, meta = load_model(material=material, device="cpu")
        rows: dict[int, list] = {0: [], **{t: [] for t in args.tiles}}
        for k in range(args.n):
            cfg = StemSimConfig(material=material, size_px=args.size,
                                pixel_size_angstrom=float(meta["pixel_size_angstrom"]))
            s = simulate_image(cfg, split_seed(0, "test", k))
            whole = None
            for tile in rows:
                start = time.process_time()
                logits = predict_tiled(model, prepare_image(s.image, meta), int(meta["layers"]),
                                       tile=tile)
                seconds = time.process_time() - start
                whole = logits if tile == 0 else whole
                scores = segmentation_scores(logits > 0, s.labels)
                rows[tile].append((float(((logits > 0) == (whole > 0)).mean()),
                                   scores["pixel_accuracy"], scores["mean_iou"], seconds))
        for tile, values in rows.items():
            agree, accuracy, iou, seconds = np.array(values).T
            name = f"{material}_{'whole' if tile == 0 else f'tile{tile}'}"
            result[name] = {"pixel_accuracy": round(float(accuracy.mean()), 4),
                            "mean_iou": round(float(iou.mean()), 4),
                            "cpu_s_per_image": round(float(seconds.mean()), 3)}
            if tile:
                result[name]["agreement_min"] = round(float(agree.min()), 4)
                result[name]["agreement_mean"] = round(float(agree.mean()), 4)
    for size in args.memory:
        result[f"peak_mb_{size}px"] = {("whole" if t == 0 else f"tile{t}"): round(_peak_mb(size, t))
                                       for t in (0, *args.tiles)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
