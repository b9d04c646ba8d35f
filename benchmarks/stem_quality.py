"""Calibration of the STEM self-check (tmdlearn.stem.quality): does its score separate good
predictions from bad ones?

For each material (graphene with its model at 0.1 Å/px, WS2 with its model at 0.15 Å/px) and
each class, ``--n`` simulated 256 x 256 images are predicted (``identify_atoms``, one view, the
lattice step) and self-checked (``assess``):

- ``good``: twisted bilayers (``--realistic``: the realistic microscope, ``microscope={}``;
  ``--ideal``: the ideal one);
- ``pixel_plus30`` / ``pixel_minus30``: the same images read with the pixel size 30 % too
  large / small;
- ``monolayer``: one layer (``layers=1``);
- ``amorphous``: amorphous carbon only (``layers=0``, full coverage, realistic microscope);
- ``low_dose``: realistic bilayers at ``--low-dose`` electrons per pixel on a column.

Reports, for the model's predictions and for the true atoms (``truth``: what a perfect
prediction would be graded), the ROC AUC of ``score`` for good against the bad classes, the
confusion table (class x trust), each class's median score and most common main reason, and
the median time per image of the self-check and of ``identify_atoms`` (wall, one thread). The
truth of a low-dose image is right (the atoms are there), so its AUC leaves that class out.
``correct`` splits the model's predictions on bilayers at the true pixel size (``good`` and
``low_dose``) by what they really are: correct when every layer's atom precision and recall
within 0.5 Å reach 0.9 (best layer assignment, a 4 px border band as don't-care);
``correct_auc`` is the AUC of the score for correct against wrong ones and
``correct_confusion`` counts trust against it. A model trained on ideal images gets many
realistic ``good`` images wrong: those are bad predictions the self-check should catch.
Prints one JSON object.

    nice -n 10 python benchmarks/stem_quality.py --n 10 [--ideal] [--model PATH] [--ws2-model PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import roc_auc_score

from tmdlearn.data.containers import StemImage
from tmdlearn.stem.atoms import atom_scores
from tmdlearn.stem.inference import identify_atoms, load_model
from tmdlearn.stem.quality import assess
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

MATERIAL_PIXEL = {"graphene": 0.1, "ws2": 0.15}
CLASSES = ("good", "pixel_plus30", "pixel_minus30", "monolayer", "amorphous", "low_dose")
TRUSTS = ("ok", "doubtful", "fail")


def class_images(material: str, name: str, n: int, size: int, realistic: bool,
                 low_dose: tuple[float, float], seed: int,
                 twist: tuple[float, float] = (0.0, 30.0)):
    """(image, pixel size given, true atoms with species names) of ``n`` images of a class,
    bilayers twisted by ``twist`` (°, drawn)."""
    micro = {} if realistic else None
    base = dict(material=material, size_px=size, pixel_size_angstrom=MATERIAL_PIXEL[material],
                twist_deg=tuple(twist))
    if realistic:  # the column weights and widths the shipped models train on (abTEM-calibrated)
        data = yaml.safe_load((CONFIGS / f"stem-{material}.yaml").read_text())["data"]
        base |= {k: tuple(data[k]) for k in ("z_exponent", "metal_z_exponent",
                                              "metal_z_offset", "atom_sigma_angstrom") if k in data}
    cfg, factor, stream = {
        "good": (StemSimConfig(**base, microscope=micro), 1.0, 0),
        "pixel_plus30": (StemSimConfig(**base, microscope=micro), 1.3, 0),
        "pixel_minus30": (StemSimConfig(**base, microscope=micro), 0.7, 0),
        "monolayer": (StemSimConfig(**base, microscope=micro, layers=1), 1.0, 1),
        "amorphous": (StemSimConfig(**base, microscope={}, layers=0,
                                    amorphous_coverage=(1.0, 1.0)), 1.0, 2),
        "low_dose": (StemSimConfig(**base, microscope={"dose": low_dose}), 1.0, 3),
    }[name]
    for k in range(n):
        s = simulate_image(cfg, split_seed(seed + 1000 * stream, "test", k))
        truth = s.atoms.assign(species=np.array(s.species)[s.atoms.species.to_numpy(int)])
        yield s.image, s.pixel_size_angstrom * factor, truth, s


def correct(found, sample) -> bool:
    """Whether every layer's atom precision and recall within 0.5 Å reach 0.9 (best of the two
    layer assignments, a 4 px border band as don't-care)."""
    best = max((atom_scores(found.assign(species=0), sample.atoms.assign(species=0),
                            0.5 / sample.pixel_size_angstrom, assignment=perm, border_px=4,
                            shape=sample.image.shape) for perm in ((0, 1), (1, 0))),
               key=lambda t: np.nansum(t.recall))
    return bool(np.nan_to_num(best[["precision", "recall"]].to_numpy()).min() >= 0.9)


def _auc(labels: list[bool], scores: list[float]) -> float | None:
    labels = np.asarray(labels, bool)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def summary(rows: list[dict], skip_bad: tuple[str, ...] = ()) -> dict:
    """ROC AUC of the score (good vs bad classes but ``skip_bad``), confusion table,
    per-class medians and reasons, and the split by correctness where it is known."""
    used = [r for r in rows if r["class"] not in skip_bad]
    out = {"roc_auc": _auc([r["class"] == "good" for r in used], [r["score"] for r in used])}
    out["confusion"] = {c: {t: sum(r["class"] == c and r["trust"] == t for r in rows)
                            for t in TRUSTS} for c in CLASSES}
    bad = [r for r in rows if r["class"] != "good"]
    out["good_ok_fraction"] = float(np.mean([r["trust"] == "ok" for r in rows if r["class"]
                                             == "good"]))
    out["bad_not_ok_fraction"] = float(np.mean([r["trust"] != "ok" for r in bad]))
    out["median_score"] = {c: float(np.median([r["score"] for r in rows if r["class"] == c]))
                           for c in CLASSES}
    out["main_reason"] = {}
    for c in CLASSES:
        reasons = Counter(r["check"] for r in rows if r["class"] == c and r["check"])
        out["main_reason"][c] = dict(reasons.most_common(3))
    known = [r for r in rows if r.get("correct") is not None]
    if known:
        out["correct_auc"] = _auc([r["correct"] for r in known], [r["score"] for r in known])
        out["correct_confusion"] = {
            label: {t: sum(r["correct"] == flag and r["trust"] == t for r in known)
                    for t in TRUSTS} for label, flag in (("correct", True), ("wrong", False))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="Images per class and material.")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--realistic", dest="realistic", action="store_true", default=True)
    parser.add_argument("--ideal", dest="realistic", action="store_false")
    parser.add_argument("--model", default=None, help="Graphene model (default: shipped).")
    parser.add_argument("--ws2-model", default=None, help="WS2 model (default: shipped).")
    parser.add_argument("--materials", nargs="+", default=["graphene", "ws2"])
    parser.add_argument("--low-dose", nargs=2, type=float, default=(1.0, 2.0),
                        help="Dose range (electrons per pixel on a column) of low_dose.")
    parser.add_argument("--twist", nargs=2, type=float, default=(0.0, 30.0),
                        help="Twist range (°) of the bilayers (e.g. 0 6: near-aligned).")
    args = parser.parse_args()
    paths = {"graphene": args.model, "ws2": args.ws2_model}
    rows = {"model": [], "truth": []}
    ms = {}
    for material in args.materials:
        net, meta = load_model(paths[material], material=material, device="cpu")
        times, network = [], []
        for name in CLASSES:
            for image, pixel, truth, sample in class_images(
                    material, name, args.n, args.size, args.realistic, tuple(args.low_dose),
                    args.seed, tuple(args.twist)):
                began = time.perf_counter()
                atoms, _ = identify_atoms(StemImage(image, pixel), net, meta)
                network.append(time.perf_counter() - began)
                right = correct(atoms, sample) if name in ("good", "low_dose") else None
                for kind, found in (("model", atoms), ("truth", truth)):
                    began = time.perf_counter()
                    q = assess(image, found, pixel, material, int(meta["layers"]))
                    if kind == "model":
                        times.append(time.perf_counter() - began)
                    worst = min(q.grades, key=q.grades.get) if q.reasons else ""
                    rows[kind].append({"material": material, "class": name, "trust": q.trust,
                                       "score": q.score, "check": worst,
                                       "correct": right if kind == "model" else None})
        ms[material] = {"assess": round(1000 * float(np.median(times)), 1),
                        "identify_atoms": round(1000 * float(np.median(network)), 1)}
    result = {"config": {"n_per_class": args.n, "size_px": args.size, "seed": args.seed,
                         "microscope": "realistic" if args.realistic else "ideal",
                         "low_dose": list(args.low_dose), "twist_deg": list(args.twist),
                         "materials": args.materials,
                         "model": args.model or "shipped", "ws2_model": args.ws2_model
                         or "shipped"},
              "median_ms_per_image": ms}
    for kind, found in rows.items():
        skip = ("low_dose",) if kind == "truth" else ()
        result[kind] = {"all": summary(found, skip)}
        for material in args.materials:
            result[kind][material] = summary([r for r in found if r["material"] == material],
                                             skip)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
