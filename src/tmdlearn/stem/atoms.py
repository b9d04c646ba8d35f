"""Atom finding in per-layer probability maps and matching to true positions.

Positions are in pixels with pixel (row i, column j) centred at x_px = j, y_px = i.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

COLUMNS = ["x_px", "y_px", "layer", "species"]


def find_atoms(logits: np.ndarray, threshold: str | float = "logit0",
               min_area_px: int = 3) -> pd.DataFrame:
    """Atoms in logit maps (B, S, H, W): sub-pixel centroids of blobs above a threshold.

    ``threshold`` is "logit0" (probability 0.5), "otsu" (Otsu on each map's probabilities) or
    a probability in (0, 1). Each connected blob of at least ``min_area_px`` pixels gives one
    atom at its probability-weighted centroid. Returns columns x_px, y_px, layer, species,
    area_px and score (mean probability in the blob).
    """
    logits = np.asarray(logits, dtype=float)
    prob = 1 / (1 + np.exp(-np.clip(logits, -50, 50)))
    rows = []
    for layer in range(prob.shape[0]):
        for species in range(prob.shape[1]):
            p = prob[layer, species]
            if threshold == "logit0":
                cut = 0.5
            elif threshold == "otsu":
                cut = threshold_otsu(p) if np.ptp(p) > 0 else 0.5
            else:
                cut = float(threshold)
            for region in regionprops(label(p > cut), intensity_image=p):
                if region.area >= min_area_px:
                    y, x = region.centroid_weighted
                    rows.append((x, y, layer, species, int(region.area), region.intensity_mean))
    return pd.DataFrame(rows, columns=[*COLUMNS, "area_px", "score"]).astype(
        {"layer": int, "species": int, "area_px": int})


def match_points(pred_xy: np.ndarray, true_xy: np.ndarray, radius: float) -> np.ndarray:
    """One-to-one matches (k, 2) of predicted to true points within ``radius`` (same unit).

    Minimises the total distance over the pairs closer than ``radius`` (Hungarian assignment on
    the candidate pairs found with a k-d tree).
    """
    pred_xy = np.asarray(pred_xy, float).reshape(-1, 2)
    true_xy = np.asarray(true_xy, float).reshape(-1, 2)
    if len(pred_xy) == 0 or len(true_xy) == 0:
        return np.empty((0, 2), dtype=int)
    dist = cKDTree(pred_xy).sparse_distance_matrix(cKDTree(true_xy), radius,
                                                   output_type="coo_matrix")
    if dist.nnz == 0:
        return np.empty((0, 2), dtype=int)
    big = 1e6
    cost = np.full((len(pred_xy), len(true_xy)), big)
    cost[dist.row, dist.col] = dist.data
    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] < big
    return np.column_stack([rows[keep], cols[keep]])


def atom_scores(found: pd.DataFrame, truth: pd.DataFrame, radius_px: float, n_layers: int = 2,
                assignment: tuple[int, ...] | None = None, border_px: float = 0.0,
                shape: tuple[int, int] | None = None) -> pd.DataFrame:
    """Precision, recall and RMS localisation error (px) per layer.

    ``assignment[b]`` is the true layer of predicted branch b (identity by default). Atoms of
    both tables closer than ``border_px`` to the edge of an image of ``shape`` are ignored.
    Also reports the fraction of matched atoms with the right species.
    """
    found = found.copy()
    if assignment is not None:
        found["layer"] = np.asarray(assignment)[found["layer"].to_numpy()]
    if shape is not None and border_px > 0:
        def inner(t: pd.DataFrame) -> pd.DataFrame:
            ok = (t.x_px >= border_px) & (t.x_px <= shape[1] - 1 - border_px) & \
                 (t.y_px >= border_px) & (t.y_px <= shape[0] - 1 - border_px)
            return t[ok]
        found, truth = inner(found), inner(truth)
    rows = []
    for layer in range(n_layers):
        f, t = found[found.layer == layer], truth[truth.layer == layer]
        pairs = match_points(f[["x_px", "y_px"]].to_numpy(), t[["x_px", "y_px"]].to_numpy(),
                             radius_px)
        tp = len(pairs)
        fi, ti = pairs[:, 0], pairs[:, 1]
        err = np.hypot(*(f[["x_px", "y_px"]].to_numpy()[fi] - t[["x_px", "y_px"]].to_numpy()[ti]).T)
        same = f.species.to_numpy()[fi] == t.species.to_numpy()[ti]
        rows.append({"layer": layer, "n_true": len(t), "n_found": len(f), "matched": tp,
                     "precision": tp / len(f) if len(f) else float("nan"),
                     "recall": tp / len(t) if len(t) else float("nan"),
                     "rms_error_px": float(np.sqrt(np.mean(err**2))) if tp else float("nan"),
                     "species_accuracy": float(np.mean(same)) if tp else float("nan")})
    return pd.DataFrame(rows)
