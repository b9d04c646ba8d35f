"""Issue #18's real graphene image, simulated: `stem predict` then `stem analyze` through the
command line, with and without `--refine`, against the truth and the image's own FFT.

Each of ``--n`` images is drawn by :mod:`tmdlearn.synth.stem` at the settings of the real
image of issue #18: 512 x 512 px at 0.1062 Å/px (5.44 nm), twist 27°, a real microscope
(aberrations and source drawn as in training) at a low dose (``--dose`` electrons on a C
column: heavy shot noise), counts 10,000-16,400 (uint16), anisotropic scan distortion up to
±3 %, a smooth contamination field on a 4 nm scale and a little amorphous carbon. It is saved
as .npy and run through ``tmdlearn stem predict IMG --pixel-size 0.1062 --out D [--refine]``
and ``tmdlearn stem analyze D/atoms.csv --pixel-size 0.1062 --out D2``. Reported per run and
image: the study's bond statistic per layer (mean, FWHM, Å; ``analysis.json``), the twist
between the found layers' honeycombs against the FFT twist
(:func:`tmdlearn.stem.fourier.fft_twist_deg`), and, against the simulator's truth, recall,
precision and RMS position error (Å) per layer (matched within 0.5 Å, the layers in the order
that matches most atoms, a 4 px band at the edges not scored). Prints one JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_real_like.py [--n 3] \
        [--out benchmarks/results/stem-real-like.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.stem.atoms import atom_scores
from tmdlearn.stem.fourier import angle_between, fft_lattices, fft_twist_deg
from tmdlearn.stem.honeycomb import fit_lattice
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

PIXEL_ANGSTROM = 0.1062
#: The issue's image: 512 px at 0.1062 Å/px, 27° twist, counts 10,000-16,400, ±3 % scan
#: distortion, contamination on a ~4 nm scale; aberrations, source and detector as in training.
MICROSCOPE = {"dark_offset": (10000.0, 10000.0), "fill": (0.09, 0.09), "scan_scale": 0.03,
              "scan_shear": 0.03}


def real_like_config(dose: float) -> StemSimConfig:
    """The simulator settings of issue #18's graphene image at ``dose`` (electrons on C)."""
    return StemSimConfig(
        material="graphene", size_px=512, pixel_size_angstrom=PIXEL_ANGSTROM,
        magnification_jitter=0.0, twist_deg=(27.0, 27.0), atom_sigma_angstrom=(0.1, 0.13),
        contamination=(0.3, 0.3), contamination_scale_angstrom=40.0,
        thermal_sigma_angstrom=(0.03, 0.05), vacancy_fraction=(0.0, 0.0),
        hole_probability=0.0, edge_probability=0.0,
        amorphous_coverage=(0.05, 0.1), amorphous_scale_angstrom=(20.0, 50.0),
        native_ratio=(1.0, 1.0),
        microscope={**MICROSCOPE, "dose": (dose, dose)})


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "tmdlearn", "stem", *args], check=True,
                   capture_output=True, text=True)


def _layer_twist(atoms: pd.DataFrame) -> float:
    """Twist (degrees, 0-30) between the honeycombs of the two found layers."""
    angles = [fit_lattice(g[["x_px", "y_px"]].to_numpy(float)) for _, g in atoms.groupby("layer")]
    angles = [np.degrees(a.angle_rad) % 60 for a in angles if a is not None]
    return angle_between(*angles[:2]) if len(angles) >= 2 else float("nan")


def _truth_scores(found: pd.DataFrame, truth: pd.DataFrame, shape) -> dict:
    """Recall, precision and RMS error (Å) per layer, branches in the better order."""
    found = found.assign(species=0)
    tables = [atom_scores(found, truth, 0.5 / PIXEL_ANGSTROM, assignment=order, border_px=4,
                          shape=shape) for order in ((0, 1), (1, 0))]
    best = max(tables, key=lambda t: t.matched.sum())
    return {f"{name}_layer{row.layer}": round(float(getattr(row, key)) * scale, 4)
            for row in best.itertuples()
            for key, name, scale in (("recall", "recall", 1), ("precision", "precision", 1),
                                     ("rms_error_px", "rms_error_angstrom", PIXEL_ANGSTROM))}


def run_image(image: np.ndarray, truth: pd.DataFrame, folder: Path, refine: bool) -> dict:
    """One predict + analyze run of the saved image; its bonds, twist and truth scores."""
    name = "refine" if refine else "plain"
    started = time.perf_counter()
    _cli("predict", str(folder / "image.npy"), "--pixel-size", str(PIXEL_ANGSTROM),
         "--out", str(folder / name), *(["--refine"] if refine else []))
    seconds = time.perf_counter() - started
    _cli("analyze", str(folder / name / "atoms.csv"), "--pixel-size", str(PIXEL_ANGSTROM),
         "--out", str(folder / f"{name}-analysis"), "--n-boot", "10")
    summary = json.loads((folder / f"{name}-analysis" / "analysis.json").read_text())
    atoms = pd.read_csv(folder / name / "atoms.csv")
    bonds = {layer: {"mean_angstrom": round(row["mean_angstrom"], 4),
                     "fwhm_angstrom": round(row["fwhm_angstrom"], 4), "atoms": row["atoms"]}
             for layer, row in summary["bond_statistics"].items()}
    return {"bonds": bonds, "twist_found_deg": round(_layer_twist(atoms), 3),
            **_truth_scores(atoms, truth, image.shape), "predict_wall_s": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="images (seeds 0..n-1)")
    parser.add_argument("--dose", type=float, default=50.0)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    cfg = real_like_config(args.dose)
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.n):
            s = simulate_image(cfg, split_seed(18, "test", k))
            image = np.clip(np.rint(s.image), 0, 65535).astype(np.uint16)
            folder = Path(tmp) / f"image{k}"
            folder.mkdir()
            np.save(folder / "image.npy", image)
            fft_twist = fft_twist_deg(fft_lattices(image, PIXEL_ANGSTROM, 2.46))
            row = {"seed": k, "counts": [int(image.min()), int(image.max())],
                   "fft_twist_deg": round(fft_twist, 3),
                   "scan": {key: round(float(s.params[key]), 4)
                            for key in ("scale_x", "scale_y", "shear")}}
            for refine in (False, True):
                result = run_image(image, s.atoms, folder, refine)
                result["twist_error_deg"] = round(abs(result["twist_found_deg"] - fft_twist), 3)
                row["refine" if refine else "plain"] = result
            images.append(row)
    out = {"settings": {"size_px": 512, "pixel_size_angstrom": PIXEL_ANGSTROM, "twist_deg": 27,
                        "dose": args.dose, **{k: list(v) if isinstance(v, tuple) else v
                                              for k, v in MICROSCOPE.items()}},
           "images": images}
    for name in ("plain", "refine"):
        rows = [image[name] for image in images]
        out[f"mean_{name}"] = {
            f"bond_{stat}_layer{layer}": round(float(np.mean(
                [r["bonds"][str(layer)][f"{stat}_angstrom"] for r in rows])), 4)
            for layer in (0, 1) for stat in ("mean", "fwhm")} | {
            key: round(float(np.mean([r[key] for r in rows])), 4)
            for key in rows[0] if key.startswith(("recall", "precision", "rms", "twist_error"))}
    text = json.dumps(out)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
