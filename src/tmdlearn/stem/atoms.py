"""Atom finding in per-layer probability maps and matching to true positions.

Positions are in pixels with pixel (row i, column j) centred at x_px = j, y_px = i.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu

from tmdlearn.raster import disk_masks
from tmdlearn.stem.layer_checks import bond_angstrom

COLUMNS = ["x_px", "y_px", "layer", "species"]
#: Two atoms of one layer closer than this many bonds (the material's shortest in-layer
#: projected distance, :func:`tmdlearn.stem.layer_checks.bond_angstrom`) are one column found
#: twice (:func:`merge_close_atoms`): real columns of a layer are at least a bond apart (0.75
#: bond in strained or defected lattices); one column lit in two species channels gives blobs
#: 0-0.5 bond apart.
MERGE_BONDS = 0.6


def find_atoms(logits: np.ndarray, threshold: str | float = "logit0",
               min_area_px: int = 3) -> pd.DataFrame:
    """Atoms in logit maps (B, S, H, W): sub-pixel centroids of blobs above a threshold.

    Each connected blob of at least ``min_area_px`` pixels gives one atom at its
    probability-weighted centroid.

    Parameters
    ----------
    logits : (B, S, H, W) array
        Logits of B layer branches and S species.
    threshold : str or float
        "logit0" (probability 0.5), "otsu" (Otsu on each map's probabilities) or a
        probability in (0, 1).
    min_area_px : int
        Smallest blob, in pixels.

    Returns
    -------
    DataFrame
        Columns x_px, y_px (px), layer, species, area_px and score (mean probability in the
        blob).
    """
    logits = np.asarray(logits, dtype=float)
    prob = 1 / (1 + np.exp(-np.clip(logits, -50, 50)))
    ny, nx = prob.shape[-2:]
    yy, xx = np.mgrid[:ny, :nx]
    parts = []
    for layer in range(prob.shape[0]):
        for species in range(prob.shape[1]):
            p = prob[layer, species]
            if threshold == "logit0":
                cut = 0.5
            elif threshold == "otsu":
                cut = threshold_otsu(p) if np.ptp(p) > 0 else 0.5
            else:
                cut = float(threshold)
            blobs, n = ndimage.label(p > cut, structure=np.ones((3, 3)))  # 8-connected
            area = np.bincount(blobs.ravel(), minlength=n + 1)[1:]
            weight, wx, wy = (np.bincount(blobs.ravel(), v.ravel(), n + 1)[1:]
                              for v in (p, p * xx, p * yy))
            keep = area >= min_area_px
            parts.append(pd.DataFrame({"x_px": wx[keep] / weight[keep],
                                       "y_px": wy[keep] / weight[keep], "layer": layer,
                                       "species": species, "area_px": area[keep],
                                       "score": weight[keep] / area[keep]}))
    return pd.concat(parts, ignore_index=True).astype({"layer": int, "species": int})


def merge_close_atoms(atoms: pd.DataFrame, min_distance_px: float) -> pd.DataFrame:
    """One atom per column per layer: atoms of a layer closer than ``min_distance_px`` merged.

    :func:`find_atoms` labels blobs in every (layer, species) map apart, so a column whose
    species the network is unsure of (e.g. SSe or Se2) comes out once per species channel.
    Greedy, strongest first: the atom of the largest summed probability (score × area) takes
    every atom of its layer within ``min_distance_px`` not yet taken; the merged atom sits at
    their probability-weighted centroid and has the species of the largest summed probability.
    Seeds are at least ``min_distance_px`` apart, so a weak blob between two columns joins one
    of them instead of chaining them into one.

    Parameters
    ----------
    atoms : DataFrame
        Atoms of :func:`find_atoms` (x_px, y_px, layer, species, area_px, score).
    min_distance_px : float
        Least distance of two atoms of one layer, px (:data:`MERGE_BONDS` bonds:
        :func:`column_separation_px`).

    Returns
    -------
    DataFrame
        The atoms, the same columns, merged ones with the summed area and their mean score.
    """
    atoms = atoms.reset_index(drop=True)
    xy = atoms[["x_px", "y_px"]].to_numpy(float)
    weight = (atoms.score * atoms.area_px).to_numpy(float)
    owner = np.arange(len(atoms))
    for _, rows in atoms.groupby("layer").indices.items():
        tree = cKDTree(xy[rows])
        crowded = rows[tree.query_ball_point(xy[rows], min_distance_px, return_length=True) > 1]
        taken = np.zeros(len(atoms), bool)
        for i in crowded[np.argsort(-weight[crowded], kind="stable")]:
            if taken[i]:
                continue
            near = rows[tree.query_ball_point(xy[i], min_distance_px)]
            near = near[~taken[near]]
            owner[near] = i
            taken[near] = True
    if (owner == np.arange(len(atoms))).all():
        return atoms
    n, keep = len(atoms), np.unique(owner)
    total = np.bincount(owner, weight, n)
    by_species = pd.DataFrame({"owner": owner, "species": atoms.species, "w": weight}) \
        .groupby(["owner", "species"]).w.sum().unstack(fill_value=0.0)
    area = np.bincount(owner, atoms.area_px.to_numpy(float), n)
    merged = atoms.loc[keep].copy()
    merged["x_px"] = np.bincount(owner, weight * xy[:, 0], n)[keep] / total[keep]
    merged["y_px"] = np.bincount(owner, weight * xy[:, 1], n)[keep] / total[keep]
    merged["species"] = by_species.columns.to_numpy()[by_species.loc[keep].to_numpy().argmax(1)]
    merged["area_px"] = area[keep].astype(atoms.area_px.dtype)
    merged["score"] = total[keep] / area[keep]
    return merged.reset_index(drop=True)


def column_separation_px(material: str, pixel_size_angstrom: float) -> float:
    """Least distance of two atoms of one layer (px): :data:`MERGE_BONDS` of the material's
    bond at ``pixel_size_angstrom`` (Å/px), for :func:`merge_close_atoms`.

    Parameters
    ----------
    material : str
        "graphene" or "ws2".
    pixel_size_angstrom : float
        Pixel size of the atoms' grid, Å/px.

    Returns
    -------
    float
        px.
    """
    return MERGE_BONDS * bond_angstrom(material) / float(pixel_size_angstrom)


def atom_masks(atoms: pd.DataFrame, shape: tuple[int, int, int, int],
               radius_px: float) -> np.ndarray:
    """Boolean masks ``shape`` (layers, species, H, W) painted as disks of ``radius_px`` at the
    atoms' positions (x_px, y_px, layer, species), as the simulator paints its labels.

    Parameters
    ----------
    atoms : DataFrame
        Atoms with columns x_px, y_px (px), layer, species (codes).
    shape : tuple of int
        (layers, species, H, W).
    radius_px : float
        Disk radius, in px.

    Returns
    -------
    (layers, species, H, W) bool array
        The masks.
    """
    layers, species, ny, nx = shape
    channel = atoms.layer.to_numpy(int) * species + atoms.species.to_numpy(int)
    return disk_masks((ny, nx), atoms.x_px.to_numpy(float), atoms.y_px.to_numpy(float),
                      channel, layers * species, radius_px).reshape(shape)


def match_points(pred_xy: np.ndarray, true_xy: np.ndarray, radius: float) -> np.ndarray:
    """One-to-one matches (k, 2) of predicted to true points within ``radius`` (same unit).

    Minimises the total distance over the pairs closer than ``radius`` (Hungarian assignment on
    the candidate pairs found with a k-d tree).

    Parameters
    ----------
    pred_xy, true_xy : (n, 2) array
        Predicted and true points (px or Å).
    radius : float
        Largest distance of a match, in the points' unit.

    Returns
    -------
    (k, 2) int array
        Index pairs (predicted, true).
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


def _layer_matches(found: pd.DataFrame, truth: pd.DataFrame, radius_px: float, n_layers: int,
                   assignment: tuple[int, ...] | None, border_px: float,
                   shape: tuple[int, int] | None):
    """Per layer: (layer, found rows, true rows, hit pairs (k, 2), false positives, misses),
    with the border band of :func:`atom_scores` as a don't-care zone."""
    found = found.copy()
    if assignment is not None:
        found["layer"] = np.asarray(assignment)[found["layer"].to_numpy()]

    def inner(xy: np.ndarray) -> np.ndarray:
        if shape is None or border_px <= 0:
            return np.ones(len(xy), bool)
        return ((xy >= border_px) & (xy <= np.array(shape[::-1]) - 1 - border_px)).all(axis=1)

    for layer in range(n_layers):
        f, t = found[found.layer == layer], truth[truth.layer == layer]
        fxy, txy = f[["x_px", "y_px"]].to_numpy(float), t[["x_px", "y_px"]].to_numpy(float)
        pairs = match_points(fxy, txy, radius_px)
        f_in, t_in = inner(fxy), inner(txy)
        hits = pairs[t_in[pairs[:, 1]]]
        false_pos = int(f_in.sum() - f_in[pairs[:, 0]].sum())
        yield layer, f, t, hits, false_pos, int(t_in.sum()) - len(hits)


def atom_scores(found: pd.DataFrame, truth: pd.DataFrame, radius_px: float, n_layers: int = 2,
                assignment: tuple[int, ...] | None = None, border_px: float = 0.0,
                shape: tuple[int, int] | None = None) -> pd.DataFrame:
    """Precision, recall and RMS localisation error (px) per layer.

    With an image ``shape``, a band of ``border_px`` along the edges is a don't-care zone: all
    atoms are matched first, then a pair counts (as a hit) when its true atom is inside the
    band's inner edge, an unmatched true atom (a miss) or found atom (a false positive) when it
    is itself inside. Filtering both tables before matching would instead turn an atom found
    just inside the line for a true atom just outside it into a false positive (and the
    reverse into a miss). Also reports the fraction of hits with the right species.

    Parameters
    ----------
    found, truth : DataFrame
        Found and true atoms (x_px, y_px, layer, species).
    radius_px : float
        Largest distance of a match, in px.
    n_layers : int
        Layers scored.
    assignment : tuple of int, optional
        ``assignment[b]`` is the true layer of predicted branch b (identity by default).
    border_px : float
        Width of the don't-care band along the image edges, in px.
    shape : tuple of int, optional
        Image shape (H, W), in px; no band without it.

    Returns
    -------
    DataFrame
        One row per layer: layer, n_true, n_found, matched, precision, recall, rms_error_px
        (px), species_accuracy.
    """
    rows = []
    for layer, f, t, hits, false_pos, misses in _layer_matches(
            found, truth, radius_px, n_layers, assignment, border_px, shape):
        fi, ti = hits[:, 0], hits[:, 1]
        tp = len(hits)
        err = np.hypot(*(f[["x_px", "y_px"]].to_numpy(float)[fi]
                         - t[["x_px", "y_px"]].to_numpy(float)[ti]).T)
        same = f.species.to_numpy()[fi] == t.species.to_numpy()[ti]
        n_found, n_true = tp + false_pos, tp + misses
        rows.append({"layer": layer, "n_true": n_true, "n_found": n_found, "matched": tp,
                     "precision": tp / n_found if n_found else float("nan"),
                     "recall": tp / n_true if n_true else float("nan"),
                     "rms_error_px": float(np.sqrt(np.mean(err**2))) if tp else float("nan"),
                     "species_accuracy": float(np.mean(same)) if tp else float("nan")})
    return pd.DataFrame(rows)


def other_layer_angstrom(atoms: pd.DataFrame, pixel_size_angstrom: float) -> np.ndarray:
    """Distance (Å) from each atom to the nearest atom of any other layer: in projection, a
    column that close to another layer's adds its intensity to this one's, so its species is
    read less surely (docs/stem.md, "Species where the layers' columns overlap").

    Parameters
    ----------
    atoms : DataFrame
        Atoms with x_px, y_px (px) and layer.
    pixel_size_angstrom : float
        Pixel size, Å/px.

    Returns
    -------
    (N,) array
        Distances in Å; NaN for every atom when only one layer has atoms.
    """
    xy = atoms[["x_px", "y_px"]].to_numpy(float)
    layer = atoms["layer"].to_numpy()
    out = np.full(len(xy), np.nan)
    for k in np.unique(layer):
        own = layer == k
        if (~own).any():
            out[own] = cKDTree(xy[~own]).query(xy[own])[0] * pixel_size_angstrom
    return out


def species_confusion(found: pd.DataFrame, truth: pd.DataFrame, radius_px: float,
                      n_species: int, n_layers: int = 2,
                      assignment: tuple[int, ...] | None = None, border_px: float = 0.0,
                      shape: tuple[int, int] | None = None) -> np.ndarray:
    """Counts (n_species true, n_species found) of the atoms matched as in
    :func:`atom_scores` (same layer, within ``radius_px``), all layers pooled.

    Parameters
    ----------
    found, truth : DataFrame
        Found and true atoms (x_px, y_px, layer, species), species coded 0 to n_species - 1.
    radius_px : float
        Largest distance of a match, in px.
    n_species : int
        Number of species: rows and columns of the counts.
    n_layers, assignment, border_px, shape
        Layers matched, branch-to-layer assignment and don't-care band, as in
        :func:`atom_scores`.

    Returns
    -------
    (n_species, n_species) int array
        The confusion counts, true species by row.
    """
    out = np.zeros((n_species, n_species), dtype=int)
    for _, f, t, hits, _, _ in _layer_matches(found, truth, radius_px, n_layers, assignment,
                                              border_px, shape):
        np.add.at(out, (t.species.to_numpy()[hits[:, 1]], f.species.to_numpy()[hits[:, 0]]), 1)
    return out
