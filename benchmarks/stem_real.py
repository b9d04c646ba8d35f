"""Gomb-Net on realistic held-out images: abTEM multislice specimens recorded through tmdlearn's
microscope artefact chain. Never used for training or for choosing a model.

The held-out set (``benchmarks/data/abtem-heldout``, made by ``benchmarks/stem_abtem.py``) holds
clean abTEM HAADF images (aberrated probe, frozen phonons, source size) with their true
columns. Each is recorded here at every ``--doses`` level as a real microscope would record it
(:mod:`tmdlearn.synth.microscope`, as ``_render_real`` in ``tmdlearn.synth.stem`` does): a native
pixel size (``native_ratio`` × the model's), the scan of the image's drawn microscope
(:func:`draw_scan` of a 512-line frame, of which the image is the first columns of the middle
lines; its positions sample the clean grid with :func:`sample_grid`), a background
and contamination (the simulator's default ranges), and the detector (:func:`detect`) with the
dose set to the level (mean electrons on a reference column: C for graphene, W for WS2); truth
positions are mapped to the image with :meth:`Scan.pixels`. The recorded image goes at its
native pixel size into :func:`tmdlearn.stem.inference.identify_atoms` (which resamples it to the
model's pixel). The same recordings serve every model.

Per model (``--models`` paths, default the shipped graphene and WS2 models), material and dose,
pooled over images: per-layer atom recall and precision within 0.5 Å
(:func:`tmdlearn.stem.atoms.atom_scores`, predicted branches mapped to the true layers by the
assignment that matches most atoms, a 4-px border band as don't-care), species accuracy of the
matched atoms (and, for WS2, their confusion: rows true, columns found, and
``species_accuracy_by_overlap``: the accuracy by how near the other layer's nearest true column
is, :data:`OVERLAP_ANGSTROM`; ``se_fraction_abs_error``: the Se fraction counted per layer
against the true one, :func:`se_fraction_errors`), and for graphene the
nearest-neighbour statistic of the Gomb-Net study (two nearest neighbours of every found atom
in its layer; mean and FWHM of the distribution) against 1.42 Å: ``nn_image{k}`` in the image
at the nominal pixel size, as a user measures it; ``nn_true_image{k}`` the same of the true
positions in the distorted image (the columns where the image's frozen-phonon configurations
put them, :data:`TRUTH`, seen through the scan: the two nearest of three bonds of unequal
length are biased short), ``nn_true_undistorted{k}`` of the true positions with the shared
distortion removed (the best a perfect model can reach on these images: the phonon
configurations' offsets, the microscope's magnification error and scan jitter remain);
``nn_specimen{k}`` between the specimen points the beam was on at the found positions (scan
distortion undone: the model's own error).
``self_check`` counts the verdicts of the self-check (``stem predict``'s
``quality.json``) on these images, which should all be ``ok``; ``trusted`` pools the scores
over the recordings it calls ``ok`` (what a user who keeps only those gets);
``self_check_roc`` (per model) separates them from bad cases (:func:`roc_rows`: the same
recordings with the pixel size 30 % off, recorded at ``--low-dose``, and simulated monolayers
and amorphous-only fields): ROC AUC of the score, confusion table (class x trust), as
``benchmarks/stem_quality.py`` reports it.
``--per-image`` adds one row per recording (``per_image``: image, dose, the probe's defocus
``C10`` and astigmatism ``C12`` in Å, per-layer scores and the self-check): which recordings
fail, and whether the self-check says so. Prints one JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_real.py
    ... benchmarks/stem_real.py --models old-graphene/ new-graphene/
    ... benchmarks/stem_real.py --ideal     # perfect scan and detector: the physics gap alone
    ... benchmarks/stem_real.py --models src/tmdlearn/stem/weights/ws2 --roc-n 0 --per-image
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.stats import gaussian_kde

from stem_quality import class_images, summary  # a sibling script (benchmarks/ on the path)
from tmdlearn.data.containers import StemImage
from tmdlearn.stem.abtem_set import FINAL_PX, load_set, record
from tmdlearn.stem.atoms import atom_scores, other_layer_angstrom, species_confusion
from tmdlearn.stem.composition import species_se_fraction
from tmdlearn.stem.distortion import remove_scan_distortion
from tmdlearn.stem.inference import identify_atoms, load_model, shipped_model_path
from tmdlearn.stem.quality import assess

DATA = Path(__file__).parent / "data" / "abtem-heldout"
#: Graphene C–C bond (Å), match radius (Å), border band (px) of the scores.
BOND_ANGSTROM, MATCH_ANGSTROM, BORDER_PX = 1.42, 0.5, 4
#: Atoms this close to the image edge (Å) are no centres of the neighbour statistic.
EDGE_ANGSTROM = 1.5
#: Bins (Å) of a true column's distance to the other layer's nearest column, for the species
#: accuracy by overlap (docs/stem.md, "Species where the layers' columns overlap").
OVERLAP_ANGSTROM = (0.0, 0.5, 1.0, np.inf)
#: Found columns at least this far (Å) from the other layer's are ``clear`` in
#: :func:`se_fraction_errors`.
CLEAR_ANGSTROM = 1.0


def self_check(image: StemImage, found: pd.DataFrame, meta: dict) -> dict:
    """The self-check of one prediction as ``stem predict`` runs it
    (:func:`tmdlearn.stem.quality.assess`): ``trust`` (``ok | doubtful | fail``), ``score`` and
    the main reason."""
    quality = assess(image.intensity, found, image.pixel_size_angstrom,
                     str(meta.get("material", "graphene")), int(meta["layers"]))
    return {"trust": quality.trust, "score": quality.score, "reason": quality.main_reason}


def roc_rows(model, meta: dict, good: list[tuple], good_checks: list[dict],
             low_dose: list[tuple], n_sim: int, seed: int, views: int = 1,
             lattice_prior: float = 0.0, refine: bool = False) -> list[dict]:
    """Self-check rows (class, trust, score, main reason) for the ROC of ``stem_quality``'s
    classes: ``good`` the held-out recordings (their checks, ``good_checks``, as
    :func:`evaluate` made them), ``pixel_plus30`` / ``pixel_minus30`` the same read with the
    pixel size 30 % off, ``low_dose`` the held-out images recorded at too low a dose, and
    ``monolayer`` / ``amorphous`` ``n_sim`` simulated realistic images each (abTEM holds no
    such specimens); predicted with ``views``, ``lattice_prior`` and ``refine`` as the good
    ones."""
    cases = [(name, StemImage(im.intensity, im.pixel_size_angstrom * f))
             for im, _, _ in good for name, f in (("pixel_plus30", 1.3), ("pixel_minus30", 0.7))]
    cases += [("low_dose", im) for im, _, _ in low_dose]
    for name in ("monolayer", "amorphous"):
        cases += [(name, StemImage(image, pixel)) for image, pixel, _, _ in class_images(
            meta["material"], name, n_sim, FINAL_PX, True, (1.0, 2.0), seed)]
    checks = [("good", check) for check in good_checks]
    for name, image in cases:
        found, _ = identify_atoms(image, model, meta, views=views, lattice_prior=lattice_prior,
                                  refine=refine)
        checks.append((name, self_check(image, found, meta)))
    return [{"class": name, "trust": c["trust"], "score": c["score"], "check": c["reason"]}
            for name, c in checks]


def _assignment(found: pd.DataFrame, truth: pd.DataFrame, radius_px: float,
                shape: tuple[int, int]) -> tuple[tuple[int, int], pd.DataFrame]:
    """Branch-to-layer assignment that matches the most atoms, and its per-layer scores."""
    tables = {a: atom_scores(found, truth, radius_px, assignment=a, border_px=BORDER_PX,
                             shape=shape) for a in ((0, 1), (1, 0))}
    best = max(tables, key=lambda a: tables[a].matched.sum())
    return best, tables[best]


def neighbour_distances(xy_px: np.ndarray, pixel_angstrom: float, shape: tuple[int, int],
                        xy_angstrom: np.ndarray | None = None) -> np.ndarray:
    """Distances (Å) from every atom to its two nearest neighbours (the Gomb-Net study's bond
    statistic), flattened; atoms closer than EDGE_ANGSTROM to the image's edge (whose
    neighbours may lie outside it: a large share of a small field) are not counted as centres.
    Distances are measured at ``pixel_angstrom`` or, given, between ``xy_angstrom``."""
    if len(xy_px) < 3:
        return np.empty(0)
    edge = EDGE_ANGSTROM / pixel_angstrom
    inner = ((xy_px >= edge) & (xy_px <= np.array(shape[::-1]) - 1 - edge)).all(axis=1)
    xy = xy_px * pixel_angstrom if xy_angstrom is None else xy_angstrom
    dist, _ = cKDTree(xy).query(xy[inner], k=3)
    return dist[:, 1:].ravel()


def mean_fwhm(dist: np.ndarray) -> dict[str, float]:
    """Mean and full width at half maximum (Å) of a distance distribution (its Gaussian KDE,
    Scott's bandwidth, on a 0.001 Å grid; the study reads the FWHM off its histogram)."""
    if len(dist) < 10:
        return {"mean": float("nan"), "fwhm": float("nan"), "n": int(len(dist))}
    grid = np.arange(dist.min() - 0.2, dist.max() + 0.2, 0.001)
    density = gaussian_kde(dist)(grid)
    top = int(np.argmax(density))
    above = density >= density[top] / 2
    lo = top - int(np.argmin(above[top::-1]))
    hi = top + int(np.argmin(above[top:]))
    return {"mean": round(float(dist.mean()), 4), "fwhm": round(float(grid[hi] - grid[lo]), 4),
            "n": int(len(dist))}


def score(found: pd.DataFrame, truth: pd.DataFrame, image: StemImage, species: list[str],
          scan: tuple[np.ndarray, np.ndarray]
          ) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray, dict[str, list]]:
    """Per-layer scores of one prediction (true-layer order), the species confusion of the
    matched atoms (bin × true × found, the bins of :data:`OVERLAP_ANGSTROM` by the true
    column's distance to the other layer's nearest) and the found atoms'
    two-nearest-neighbour distances (Å) per
    true layer k: ``image{k}`` at the nominal pixel size, ``undistorted{k}`` the same after the
    scan distortion both layers' honeycombs share is removed (as ``stem analyze`` measures
    them, :func:`tmdlearn.stem.distortion.scan_distortion`), and
    ``specimen{k}`` between where the beam was at the found positions (``scan``: specimen x, y
    in Å of every pixel): the scan distortion undone, what the model alone gets wrong; and
    :func:`se_fraction_errors`."""
    found = found.assign(species=pd.Series(found.species).map(
        {name: k for k, name in enumerate(species)}).to_numpy(int))
    radius = MATCH_ANGSTROM / image.pixel_size_angstrom
    assignment, table = _assignment(found, truth, radius, image.shape)
    overlap = other_layer_angstrom(truth, image.pixel_size_angstrom)
    confusion = np.stack([species_confusion(found, truth[(overlap >= lo) & (overlap < hi)],
                                            radius, len(species), assignment=assignment,
                                            border_px=BORDER_PX, shape=image.shape)
                          for lo, hi in pairwise(OVERLAP_ANGSTROM)])
    layer_of = np.asarray(assignment)[found.layer.to_numpy(int)] if len(found) else np.zeros(0)
    xy = found[["x_px", "y_px"]].to_numpy(float)
    specimen = np.column_stack([ndimage.map_coordinates(v, [xy[:, 1], xy[:, 0]], order=1,
                                                        mode="nearest") for v in scan])
    fixed = remove_scan_distortion(found)[0][["x_px", "y_px"]].to_numpy(float)
    dist = {}
    for k in (0, 1):
        sel = layer_of == k
        dist[f"image{k}"] = neighbour_distances(xy[sel], image.pixel_size_angstrom, image.shape)
        dist[f"undistorted{k}"] = neighbour_distances(xy[sel], image.pixel_size_angstrom,
                                                      image.shape,
                                                      fixed[sel] * image.pixel_size_angstrom)
        dist[f"specimen{k}"] = neighbour_distances(xy[sel], image.pixel_size_angstrom,
                                                   image.shape, specimen[sel])
    return table, dist, confusion, se_fraction_errors(found, truth, layer_of, species,
                                                      image.pixel_size_angstrom)


def se_fraction_errors(found: pd.DataFrame, truth: pd.DataFrame, layer_of: np.ndarray,
                       species: list[str], pixel_angstrom: float) -> dict[str, list]:
    """Per true layer with chalcogen columns, |Se fraction counted from the found columns −
    the true columns' own| (:func:`tmdlearn.stem.composition.species_se_fraction`): from every
    found column of the layer (``all``) and from those :data:`CLEAR_ANGSTROM` or more from the
    other layer's nearest found column (``clear``). ``found`` species coded as in
    :func:`score`, ``layer_of`` its true layer."""
    names = np.asarray(species)
    clear = ~(other_layer_angstrom(found, pixel_angstrom) < CLEAR_ANGSTROM)
    true_names = names[truth.species.to_numpy(int)]
    out: dict[str, list] = {"all": [], "clear": []}
    for k in np.unique(truth.layer):
        x_true = species_se_fraction(true_names[truth.layer.to_numpy() == k])
        if not np.isfinite(x_true):
            continue
        mine = layer_of == k
        for key, keep in (("all", mine), ("clear", mine & clear)):
            out[key].append(abs(species_se_fraction(names[found.species.to_numpy()[keep]])
                                - x_true))
    return out


def _pooled(tables: list[pd.DataFrame]) -> dict[str, float]:
    """Recall, precision and species accuracy per layer pooled over images (atom counts)."""
    out = {}
    for layer, rows in pd.concat(tables).groupby("layer"):
        matched = rows.matched.sum()
        out[f"recall_layer{layer}"] = round(float(matched / max(rows.n_true.sum(), 1)), 4)
        out[f"precision_layer{layer}"] = round(float(matched / max(rows.n_found.sum(), 1)), 4)
        right = (rows.species_accuracy.fillna(0) * rows.matched).sum()
        out[f"species_accuracy_layer{layer}"] = round(float(right / max(matched, 1)), 4)
        out[f"n_true_layer{layer}"] = int(rows.n_true.sum())
    return out


def overlap_accuracy(confusion: np.ndarray) -> dict[str, dict]:
    """Species accuracy and matched atoms per bin of :data:`OVERLAP_ANGSTROM` (keys ``"0-0.5"``
    ... Å) of a (bin, true, found) confusion."""
    out = {}
    for (lo, hi), counts in zip(pairwise(OVERLAP_ANGSTROM), confusion, strict=True):
        key = f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">={lo:g}"
        out[key] = {"accuracy": round(float(np.trace(counts) / max(counts.sum(), 1)), 4),
                    "atoms": int(counts.sum())}
    return out


def evaluate(model, meta: dict, recordings: list[tuple], views: int, lattice_prior: float,
             refine: bool = False) -> tuple[dict, list[dict], list[dict]]:
    """Scores of one model on its material's recordings, per dose and over all doses, the
    self-check of each recording's prediction (:func:`self_check`, in order) and one row per
    recording (image name, dose, probe defocus C10 and astigmatism C12 in Å, per-layer scores,
    self-check)."""
    groups: dict[str, dict[str, list]] = {}
    checks, rows = [], []
    names = np.asarray(meta["species"])
    for image, truth, drawn in recordings:
        found, _ = identify_atoms(image, model, meta, views=views,
                                  lattice_prior=lattice_prior, refine=refine)
        scan = (drawn["scan_x"], drawn["scan_y"])
        table, dist, confusion, se_error = score(found, truth, image, list(names), scan)
        _, truth_dist, _, _ = score(truth.assign(species=names[truth.species]), truth, image,
                              list(names), scan)
        check = self_check(image, found, meta)
        checks.append(check)
        rows.append({"name": drawn["name"], "dose": drawn["dose"], **drawn["probe"],
                     **_pooled([table]), **check})
        trusted = ("trusted",) if check["trust"] == "ok" else ()
        for key in (f"dose_{drawn['dose']:g}", "all", *trusted):
            g = groups.setdefault(key, {"tables": [], "trust": [], "confusion": 0,
                                        "se_all": [], "se_clear": []})
            g["tables"].append(table)
            g["confusion"] = g["confusion"] + confusion
            g["se_all"] += se_error["all"]
            g["se_clear"] += se_error["clear"]
            for name, values in dist.items():
                g.setdefault(f"nn_{name}", []).append(values)
            for name in ("image0", "image1", "undistorted0", "undistorted1"):
                g.setdefault(f"nn_true_{name}", []).append(truth_dist[name])
            g["trust"].append(check["trust"])
    out = {}
    for key, g in groups.items():
        row = _pooled(g["tables"]) | {"images": len(g["tables"])}
        if meta["material"] == "graphene":
            for key_nn in sorted(k for k in g if k.startswith("nn_")):
                row[key_nn] = mean_fwhm(np.concatenate(g[key_nn]))
        if len(names) > 1:
            row["species_confusion"] = {"rows_true_columns_found": list(names),
                                        "counts": g["confusion"].sum(axis=0).tolist()}
            row["species_accuracy_by_overlap"] = overlap_accuracy(g["confusion"])
            row["se_fraction_abs_error"] = {
                key: round(float(np.nanmean(g[f"se_{key}"])), 4) for key in ("all", "clear")
            } | {"layers": len(g["se_all"])}
        row["self_check"] = {t: g["trust"].count(t) for t in ("ok", "doubtful", "fail")}
        out[key] = row
    return out, checks, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--models", nargs="*", default=None,
                        help="model files (default: the shipped graphene and WS2 models)")
    parser.add_argument("--doses", type=float, nargs="+", default=[30.0, 150.0, 1000.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N images per material")
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--prior", type=float, default=0.0)
    parser.add_argument("--refine", action="store_true",
                        help="refine the positions against the image (stem predict --refine)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-image", action="store_true",
                        help="add each recording's scores and self-check (per_image)")
    parser.add_argument("--roc-n", type=int, default=10,
                        help="simulated monolayer and amorphous images per model for the "
                             "self-check ROC (0: no ROC)")
    parser.add_argument("--low-dose", type=float, default=1.0,
                        help="dose (electrons on a reference column) of the ROC's low_dose class")
    parser.add_argument("--ideal", action="store_true",
                        help="perfect scan and detector (Poisson only): the physics gap alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.process_time()
    items = load_set(Path(args.data))
    paths = args.models or [str(shipped_model_path(m)) for m in ("graphene", "ws2")]
    recordings: dict[str, list] = {}
    low: dict[str, list] = {}
    counts: dict[str, int] = {}
    for index, item in enumerate(items):
        material = item["material"]
        if args.limit is not None and counts.get(material, 0) >= args.limit:
            continue
        counts[material] = counts.get(material, 0) + 1
        for d, dose in enumerate(args.doses):
            rng = np.random.default_rng([args.seed, index, d])
            recordings.setdefault(material, []).append(record(item, dose, rng, args.ideal))
        rng = np.random.default_rng([args.seed, index, len(args.doses)])
        low.setdefault(material, []).append(record(item, args.low_dose, rng, args.ideal))
    results = {}
    for path in paths:
        model, meta = load_model(path)
        material = meta["material"]
        scores, checks, rows = evaluate(model, meta, recordings.get(material, []),
                                        args.views, args.prior, args.refine)
        results[path] = {"material": material, "scores": scores}
        if args.per_image:
            results[path]["per_image"] = rows
        if args.roc_n:
            rows = roc_rows(model, meta, recordings.get(material, []), checks,
                            low.get(material, []), args.roc_n, args.seed + 20, args.views,
                            args.prior, args.refine)
            results[path]["self_check_roc"] = summary(rows)
    print(json.dumps({
        "data": args.data, "images": counts, "doses": args.doses, "seed": args.seed,
        "views": args.views, "prior": args.prior, "refine": args.refine, "ideal": args.ideal,
        "match_radius_angstrom": MATCH_ANGSTROM,
        "targets": {"recall": 0.95, "precision": 0.95, "species_accuracy": 0.95,
                    "nn_mean_angstrom": [round(BOND_ANGSTROM * f, 4) for f in (0.99, 1.01)],
                    "nn_fwhm_angstrom": 0.10},
        "models": results, "cpu_seconds": round(time.process_time() - start, 1)}, indent=1))


if __name__ == "__main__":
    main()
