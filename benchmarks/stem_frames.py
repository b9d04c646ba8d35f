"""A low-dose series of drifting frames: atoms found in the first frame, in the frames
averaged without registration and in their registered mean (``stem predict --frames mean``,
:func:`tmdlearn.io.frames.combine_frames`).

Each series: a simulated twisted-bilayer image (``simulate_image``, 0.1 Å/px graphene or
0.15 Å/px WS2, the ideal microscope at its highest dose, no holes, edges or contamination,
192 px), recorded ``--frames`` times with the specimen
drifting by a random walk of ``--drift`` px per frame (default 1-3 px: 0.1-0.45 Å, a stage
settling), each
frame Poisson counts at ``--counts`` electrons per pixel at the brightest column, cropped to
160 px. Scored against the truth of the first frame (the registration's reference): atom
recall, precision and RMS position error (Å) within 0.5 Å, layers pooled
(:func:`tmdlearn.stem.atoms.atom_scores` with every atom in one layer, a 4 px border band as
don't-care: what the registration changes), and the per-layer recall (the branch-to-layer
assignment that matches most), pooled over ``--n`` series per dose, with the shipped model
of the material; and the registration's error (px) against the planted drift. Prints one
JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_frames.py --material graphene
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from scipy import ndimage

from tmdlearn.data.containers import StemImage
from tmdlearn.io.frames import combine_frames
from tmdlearn.stem.atoms import atom_scores
from tmdlearn.stem.inference import identify_atoms
from tmdlearn.stem.modelstore import load_model
from tmdlearn.synth.stem import StemSimConfig, simulate_image

SIZE, CROP = 192, slice(16, 176)
MATCH_ANGSTROM, BORDER_PX = 0.5, 4


def series(material: str, counts: float, frames: int, step_px: tuple[float, float],
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, float]:
    """Noisy drifting frames (frames, 160, 160), their drift (frames, 2; px, dy dx), the first
    frame's true atoms and the pixel size (Å)."""
    pixel = 0.1 if material == "graphene" else 0.15
    sample = simulate_image(StemSimConfig(
        size_px=SIZE, material=material, pixel_size_angstrom=pixel, magnification_jitter=0.0,
        dose=(3000.0, 3000.0), contamination=(0.0, 0.0), hole_probability=0.0,
        edge_probability=0.0), seed=rng)
    clean = sample.image.astype(float)
    clean = np.clip(clean - np.percentile(clean, 1), 0, None) / clean.max()
    steps = rng.normal(size=(frames, 2))
    steps *= rng.uniform(*step_px, (frames, 1)) / np.linalg.norm(steps, axis=1, keepdims=True)
    drift = np.cumsum(steps, axis=0) - steps[0]
    stack = np.array([rng.poisson(counts * np.clip(ndimage.shift(clean, d, order=3), 0, None))
                      [CROP, CROP] for d in drift], float)
    atoms = sample.atoms.assign(x_px=sample.atoms.x_px - CROP.start,
                                y_px=sample.atoms.y_px - CROP.start)
    return stack, drift, atoms, sample.pixel_size_angstrom


def score(image: np.ndarray, truth: pd.DataFrame, pixel: float, model, meta) -> pd.DataFrame:
    """Matched, missed and false atoms of ``image`` against ``truth``: layers pooled (row
    ``all``) and per layer (rows 0, 1)."""
    found, _ = identify_atoms(StemImage(image, pixel), model, meta)
    radius, options = MATCH_ANGSTROM / pixel, {"border_px": BORDER_PX, "shape": image.shape}
    tables = [atom_scores(found, truth, radius, assignment=a, **options)
              for a in ((0, 1), (1, 0))]
    layers = max(tables, key=lambda t: t.matched.sum())
    pooled = atom_scores(found.assign(layer=0), truth.assign(layer=0), radius, n_layers=1,
                         **options).assign(layer="all")
    return pd.concat([layers, pooled]).set_index("layer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--material", default="graphene", choices=("graphene", "ws2"))
    parser.add_argument("--counts", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift", type=float, nargs=2, default=[1.0, 3.0],
                        help="drift per frame, px (low, high)")
    args = parser.parse_args()
    model, meta = load_model(material=args.material)
    started, out = time.process_time(), {}
    for counts in args.counts:
        rng = np.random.default_rng([args.seed, int(counts * 100)])
        pooled: dict[str, list] = {"first": [], "unregistered": [], "mean": []}
        errors = []
        for _ in range(args.n):
            stack, drift, truth, pixel = series(args.material, counts, args.frames, args.drift, rng)
            mean, info = combine_frames(None, stack, "mean")
            m = info["frames_cropped_px"]
            inner = truth.assign(x_px=truth.x_px - m, y_px=truth.y_px - m)
            pooled["first"].append(score(stack[0], truth, pixel, model, meta))
            pooled["unregistered"].append(score(stack.mean(0), truth, pixel, model, meta))
            pooled["mean"].append(score(mean, inner, pixel, model, meta))
            errors += list(np.abs(np.array(info["frame_shifts_px"]) + drift).max(axis=1)[1:])
        out[f"counts_{counts:g}"] = {
            **{name: _rates(tables, pixel) for name, tables in pooled.items()},
            "registration_error_px": {"median": round(float(np.median(errors)), 3),
                                      "max": round(float(np.max(errors)), 3)}}
    print(json.dumps({"material": args.material, "frames": args.frames, "series": args.n,
                      "drift_px_per_frame": args.drift,
                      "size_px": CROP.stop - CROP.start, "match_angstrom": MATCH_ANGSTROM,
                      "scores": out, "cpu_seconds": round(time.process_time() - started, 1)},
                     indent=1))


def _rates(tables: list[pd.DataFrame], pixel: float) -> dict[str, float]:
    """Recall, precision and RMS error (Å) of the pooled layers, and per-layer recall, over
    the series' score tables."""
    out = {}
    for layer, names in (("all", ("recall", "precision")), (0, ("recall_layer0",)),
                         (1, ("recall_layer1",))):
        rows = pd.concat([t.loc[[layer]] for t in tables])
        matched = rows.matched.sum()
        values = {"recall": matched / max(rows.n_true.sum(), 1),
                  "precision": matched / max(rows.n_found.sum(), 1)}
        out.update({name: round(float(values[name.split("_")[0]]), 4) for name in names})
        if layer == "all":
            squared = (rows.rms_error_px.fillna(0) ** 2 * rows.matched).sum()
            out["rms_error_angstrom"] = round(float(np.sqrt(squared / max(matched, 1)) * pixel),
                                              4)
    return out


if __name__ == "__main__":
    main()
