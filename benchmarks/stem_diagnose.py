"""Where a STEM model loses pixel accuracy and atom precision/recall on simulated test images.

For the first N 256 x 256 "test" images (seed 0) of a saved model (default: the shipped one),
every true atom (centre at least ``--border`` px inside the image) is a hit or a miss and every
found atom in that region a hit or a false positive, matched one-to-one per layer within 0.5 Å
after the per-image branch -> layer assignment, as in ``tmdlearn.stem.train.evaluate``. The
misses and false positives are counted by dose and twist bins, by distance to the image edge,
near holes / edges / vacancies (a true atom with fewer than 3 same-layer neighbours within 1.2
bonds), at AA-like sites (an atom of the other layer within the match radius), and as layer
swaps (a miss whose atom was found in the other layer). Wrong pixels are split into the 1-px
ring around the label-disk boundaries and the rest, and compared with label disks redrawn at
the true positions shifted by the model's own localisation error, at the found positions, and
at the true positions of the found atoms (same atoms, same layers, exact places); the RMS
position error of the hits is binned by the distance to the nearest atom of the other layer;
the network's pixel accuracy is given for several mask cuts (logits). ``--split val`` runs on
validation images instead. Prints one JSON object.

    python benchmarks/stem_diagnose.py --n 50 [--model PATH] [--lattice] [--split val]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch
from scipy.ndimage import binary_dilation, binary_erosion
from scipy.spatial import cKDTree

from tmdlearn.raster import disk_masks
from tmdlearn.stem.atoms import (
    atom_masks,
    column_separation_px,
    find_atoms,
    match_points,
    merge_close_atoms,
)
from tmdlearn.stem.inference import load_model, predict_logits, prepare_image
from tmdlearn.stem.lattice import reassign_layers
from tmdlearn.stem.metrics import segmentation_scores
from tmdlearn.synth.stem import N_LAYERS, StemSimConfig, simulate_image, split_seed

BOND_ANGSTROM = 1.42
DOSE_BINS = [0, 100, 300, 1000, 3001]
TWIST_BINS = [0, 2, 5, 10, 20, 30.01]
LOGIT_CUTS = (-3.0, -1.0, 0.0, 0.5)


def _atoms(found: pd.DataFrame, truth: pd.DataFrame, assignment, radius: float, shape,
           border: float, pix: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per true atom: hit, edge distance, coordination, other-layer distance, swapped;
    per found atom: hit, edge distance. Only atoms at least ``border`` px inside."""
    found = found.assign(layer=np.asarray(assignment)[found.layer.to_numpy()])
    ny, nx = shape
    tables_t, tables_f = [], []
    txy_all = truth[["x_px", "y_px"]].to_numpy()
    fxy_all = found[["x_px", "y_px"]].to_numpy()
    bond = BOND_ANGSTROM / pix
    for layer in range(N_LAYERS):
        t, f = truth[truth.layer == layer], found[found.layer == layer]
        txy, fxy = t[["x_px", "y_px"]].to_numpy(), f[["x_px", "y_px"]].to_numpy()
        pairs = match_points(fxy, txy, radius)
        t_hit = np.zeros(len(t), bool)
        t_hit[pairs[:, 1]] = True
        error = np.full(len(t), np.nan)
        error[pairs[:, 1]] = np.hypot(*(fxy[pairs[:, 0]] - txy[pairs[:, 1]]).T)
        f_hit = np.zeros(len(f), bool)
        f_hit[pairs[:, 0]] = True
        other_t = txy_all[truth.layer.to_numpy() != layer]
        other_f = fxy_all[found.layer.to_numpy() != layer]
        d_other = cKDTree(other_t).query(txy)[0] if len(other_t) else np.full(len(t), np.inf)
        d_swap = cKDTree(other_f).query(txy)[0] if len(other_f) else np.full(len(t), np.inf)
        neighbours = np.array([len(n) - 1 for n in cKDTree(txy).query_ball_point(txy, 1.2 * bond)])
        edge_t = np.minimum.reduce([txy[:, 0], txy[:, 1], nx - 1 - txy[:, 0], ny - 1 - txy[:, 1]])
        edge_f = np.minimum.reduce([fxy[:, 0], fxy[:, 1], nx - 1 - fxy[:, 0], ny - 1 - fxy[:, 1]]) \
            if len(f) else np.empty(0)
        d_truth = cKDTree(txy_all).query(fxy)[0] if len(f) else np.empty(0)
        tables_t.append(pd.DataFrame({
            "layer": layer, "hit": t_hit, "edge_px": edge_t, "error_px": error,
            "under_coordinated": (neighbours < 3) & (edge_t > 1.5 * bond),
            "other_layer_px": d_other, "swapped": ~t_hit & (d_swap < radius)}))
        pair_edge = edge_f.copy()  # a hit counts where its true atom lies (as atom_scores)
        pair_edge[pairs[:, 0]] = edge_t[pairs[:, 1]]
        tables_f.append(pd.DataFrame({"layer": layer, "hit": f_hit, "edge_px": pair_edge,
                                      "near_any_truth": d_truth < radius}))
    t, f = pd.concat(tables_t), pd.concat(tables_f)
    return t[t.edge_px >= border], f[f.edge_px >= border]


def _pixels(pred: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    """Wrong pixels within 1 px of a label-disk boundary and elsewhere; FP and FN pixels."""
    ring = np.zeros_like(labels)
    for idx in np.ndindex(labels.shape[:2]):
        ring[idx] = binary_dilation(labels[idx]) & ~binary_erosion(labels[idx])
    wrong = pred != labels
    return {"pixels": labels.size, "wrong": int(wrong.sum()),
            "wrong_ring": int((wrong & ring).sum()),
            "false_pos": int((pred & ~labels).sum()), "false_neg": int((~pred & labels).sum()),
            "ring": int(ring.sum())}


def _jittered_disks(s, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Label disks redrawn at the true positions + Gaussian error of ``sigma_px`` per axis."""
    a = s.atoms
    xy = a[["x_px", "y_px"]].to_numpy() + rng.normal(0, sigma_px, (len(a), 2))
    radius = StemSimConfig().label_radius_angstrom / s.pixel_size_angstrom
    return disk_masks(s.image.shape, xy[:, 0], xy[:, 1], a.layer.to_numpy(), N_LAYERS,
                      radius).reshape(s.labels.shape)


def _repainted(found: pd.DataFrame, s, assignment, radius: float) -> tuple[float, float]:
    """Pixel accuracy of label disks redrawn at the found atoms (layers by ``assignment``),
    and with every found atom matched within ``radius`` px moved to its true position."""
    found = found.assign(layer=np.asarray(assignment)[found.layer.to_numpy()])
    disk = StemSimConfig().label_radius_angstrom / s.pixel_size_angstrom
    moved = found.copy()
    for layer in range(N_LAYERS):
        rows = np.flatnonzero(found.layer.to_numpy() == layer)
        txy = s.atoms[s.atoms.layer == layer][["x_px", "y_px"]].to_numpy(float)
        pairs = match_points(found[["x_px", "y_px"]].to_numpy(float)[rows], txy, radius)
        moved.loc[rows[pairs[:, 0]], ["x_px", "y_px"]] = txy[pairs[:, 1]]
    return tuple(float((atom_masks(f, s.labels.shape, disk) == s.labels).mean())
                 for f in (found, moved))


def _rate(hit: pd.Series) -> dict:
    return {"n": int(len(hit)), "rate": round(float(hit.mean()), 4) if len(hit) else None}


def _binned(values: pd.Series, by: pd.Series, edges: list[float] | None = None) -> dict:
    """:func:`_rate` (or the mean, for floats) of ``values`` per bin of ``by`` (per value
    without ``edges``)."""
    groups = values.groupby(by if edges is None else pd.cut(by.astype(float), edges),
                            observed=True)
    if values.dtype == bool:
        return {str(k): _rate(g) for k, g in groups}
    return {str(k): round(float(g.mean()), 4) for k, g in groups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="test images")
    parser.add_argument("--model", default=None, help="saved model folder (default: shipped)")
    parser.add_argument("--border", type=float, default=4.0, help="px ignored at the edge")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lattice", action="store_true", help="after the lattice step")
    parser.add_argument("--split", default="test", choices=("test", "val"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, device="cpu")
    sim = StemSimConfig(size_px=256)
    rng = np.random.default_rng(0)
    cpu = time.process_time()
    true_rows, found_rows, images = [], [], []
    for k in range(args.n):
        s = simulate_image(sim, split_seed(0, args.split, k))
        logits = predict_logits(model, prepare_image(s.image, meta), N_LAYERS)
        cuts = {f"cut_{c:g}": segmentation_scores(logits > c, s.labels)["pixel_accuracy"]
                for c in LOGIT_CUTS}
        found, masks = find_atoms(logits), logits > 0
        if args.lattice:  # the lattice step of evaluate: reassign, then one atom per column
            found, masks = reassign_layers(found, masks)
            found = merge_close_atoms(found, column_separation_px(sim.material,
                                                                  sim.pixel_size_angstrom))
        scores = segmentation_scores(masks, s.labels)
        radius = 0.5 / s.pixel_size_angstrom
        t, f = _atoms(found, s.atoms, scores["assignment"], radius,
                      s.image.shape, args.border, s.pixel_size_angstrom)
        info = {"image": k, "dose": s.params["dose"], "twist": s.params["twist_deg"]}
        true_rows.append(t.assign(**info))
        found_rows.append(f.assign(**info))
        px = _pixels(scores["aligned"], s.labels)
        at_found, at_truth = _repainted(found, s, scores["assignment"], radius)
        images.append(info | px | cuts | {"pixel_accuracy": scores["pixel_accuracy"],
                                          "disks_at_found": at_found,
                                          "disks_at_truth": at_truth})
    t, f = pd.concat(true_rows), pd.concat(found_rows)
    img = pd.DataFrame(images)
    result = {"images": args.n, "split": args.split, "border_px": args.border,
              "lattice": args.lattice,
              "recall": _rate(t.hit), "precision": _rate(f.hit)}
    for name, column, edges in (("layer", "layer", None), ("dose", "dose", DOSE_BINS),
                                ("twist", "twist", TWIST_BINS),
                                ("edge_px", "edge_px", [0, 6, 10, 20, 300])):
        for what, table in (("recall", t), ("precision", f)):
            result[f"{what}_by_{name}"] = _binned(table.hit, table[column], edges)
    result["recall_by_under_coordinated"] = _binned(t.hit, t.under_coordinated)
    result["recall_by_other_layer_px"] = _binned(t.hit, t.other_layer_px, [0, 1, 2.5, 5, 100])
    result["rms_error_px_by_other_layer_px"] = {
        str(k): round(float(np.sqrt(np.nanmean(g**2))), 3) for k, g in t.error_px.groupby(
            pd.cut(t.other_layer_px, [0, 1, 2, 3, 4, 6, 8, 100]), observed=True)}
    result["pixel_accuracy_by_logit_cut"] = {c: round(float(img[f"cut_{c:g}"].mean()), 4)
                                             for c in LOGIT_CUTS}
    result["pixel_accuracy_disks_at_found"] = round(float(img.disks_at_found.mean()), 4)
    result["pixel_accuracy_disks_at_true_positions_of_found"] = round(
        float(img.disks_at_truth.mean()), 4)
    misses = t[~t.hit]
    result["misses"] = {"n": int(len(misses)), "swapped": int(misses.swapped.sum()),
                        "under_coordinated": int(misses.under_coordinated.sum()),
                        "aa_within_match_radius": int((misses.other_layer_px < 5).sum()),
                        "dose_below_100": int((misses.dose < 100).sum()),
                        "twist_below_2": int((misses.twist < 2).sum())}
    false = f[~f.hit]
    result["false_positives"] = {"n": int(len(false)),
                                 "at_other_layer_atom": int(false.near_any_truth.sum()),
                                 "dose_below_100": int((false.dose < 100).sum()),
                                 "twist_below_2": int((false.twist < 2).sum())}
    wrong = img.wrong.sum()
    result["pixels"] = {"accuracy": round(1 - wrong / img.pixels.sum(), 4),
                        "wrong_fraction_in_boundary_ring": round(img.wrong_ring.sum() / wrong, 4),
                        "ring_fraction_of_pixels": round(img.ring.sum() / img.pixels.sum(), 4),
                        "false_pos_px": int(img.false_pos.sum()),
                        "false_neg_px": int(img.false_neg.sum()),
                        "accuracy_without_ring_errors": round(
                            1 - (wrong - img.wrong_ring.sum()) / img.pixels.sum(), 4)}
    result["pixel_accuracy_by_dose"] = _binned(img.pixel_accuracy, img.dose, DOSE_BINS)
    result["pixel_accuracy_by_twist"] = _binned(img.pixel_accuracy, img.twist, TWIST_BINS)
    # what a perfect detector with the given per-axis position error scores in pixel accuracy
    for sigma_angstrom in (0.035, 0.05):
        accs = []
        for k in range(min(args.n, 10)):
            s = simulate_image(sim, split_seed(0, args.split, k))
            accs.append(float((_jittered_disks(s, sigma_angstrom / s.pixel_size_angstrom, rng)
                               == s.labels).mean()))
        result[f"pixel_accuracy_perfect_detector_error_{sigma_angstrom}A"] = round(
            float(np.mean(accs)), 4)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
