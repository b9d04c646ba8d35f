"""Layer reassignment by lattice fit: an atom belongs to the layer whose lattice it sits on.

In a twisted bilayer each layer is a honeycomb (graphene; a TMD in projection) of its own
orientation. A network sometimes puts an atom, or a whole blob of pixels, into the wrong layer
where the layers' contrasts merge. :func:`reassign_layers` fits each predicted layer's lattice
(bond length and orientation from its atoms' nearest-neighbour vectors), then gives every atom
to the layer whose atoms around it fit that layer's lattice best, and moves its mask
pixels with it. It needs layers twisted apart (default more than 5 degrees): at smaller
twists the lattices cannot be told apart locally and nothing is changed. Positions in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

#: Honeycomb sites in fractional coordinates of the Bravais lattice, relative to any site.
HONEYCOMB_SITES = np.array([[0.0, 0.0], [1 / 3, 1 / 3], [2 / 3, 2 / 3]])


@dataclass(frozen=True)
class Lattice:
    """A honeycomb: bond length (px) and orientation of one bond direction (rad, mod 60°)."""

    bond_px: float
    angle_rad: float

    @property
    def vectors(self) -> np.ndarray:
        """Bravais lattice vectors as rows (2, 2), px: length sqrt(3) bonds, 60° apart."""
        a = np.sqrt(3) * self.bond_px
        t = self.angle_rad + np.pi / 6 + np.array([0.0, np.pi / 3])
        return a * np.column_stack([np.cos(t), np.sin(t)])


def fit_lattice(xy: np.ndarray) -> Lattice | None:
    """The honeycomb of points (n, 2) px, from the vectors to their 3 nearest neighbours.

    Bond length: median nearest-neighbour distance; orientation: circular mean of the
    six-fold bond angles of the vectors within 25 % of it. None for fewer than 10 points.
    """
    xy = np.asarray(xy, float)
    if len(xy) < 10:
        return None
    dist, idx = cKDTree(xy).query(xy, k=4)
    bond = float(np.median(dist[:, 1]))
    vec = xy[idx[:, 1:]] - xy[:, None]
    keep = np.abs(dist[:, 1:] - bond) < 0.25 * bond
    angles = np.arctan2(vec[..., 1], vec[..., 0])[keep]
    mean = np.angle(np.exp(6j * angles).mean()) / 6
    return Lattice(bond, float(mean))


def twist_deg(a: Lattice, b: Lattice) -> float:
    """Smallest angle (0-30°) between two honeycombs' orientations."""
    d = np.degrees(a.angle_rad - b.angle_rad) % 60
    return float(min(d, 60 - d))


def lattice_misfit(xy: np.ndarray, others: np.ndarray, lattice: Lattice) -> np.ndarray:
    """For every point of ``xy``: how far ``others`` around it sit from its honeycomb (bonds).

    The median, over the points of ``others`` within 1.9 bonds (first and second shells; the
    point itself and anything closer than half a bond left out), of the distance from their
    displacement to the nearest honeycomb displacement of ``lattice``, in bond lengths.
    Infinite where fewer than 2 such points exist.
    """
    misfit = np.full(len(xy), np.inf)
    if len(others) < 2:
        return misfit
    vectors = lattice.vectors
    inverse = np.linalg.inv(vectors)
    for i, near in enumerate(cKDTree(others).query_ball_point(xy, 1.9 * lattice.bond_px)):
        d = others[near] - xy[i]
        d = d[np.hypot(*d.T) > 0.5 * lattice.bond_px]
        if len(d) < 2:
            continue
        off = (d @ inverse)[:, None] - HONEYCOMB_SITES[None]
        off -= np.round(off)
        miss = np.linalg.norm(off @ vectors, axis=-1).min(axis=1)
        misfit[i] = np.median(miss) / lattice.bond_px
    return misfit


def _move_pixels(masks: np.ndarray, atoms: pd.DataFrame, source: np.ndarray,
                 radius_px: float) -> np.ndarray:
    """Copy of masks (B, S, H, W) with the pixels of each moved atom moved to its new layer.

    A moved atom's pixels are those of its old layer's mask that are nearer to it than to any
    other atom of that layer and species, and within ``radius_px`` of it (touching blobs are
    split between their atoms).
    """
    masks = masks.copy()
    for (old, species), group in atoms.groupby([source, atoms.species.to_numpy()]):
        moved = group[group.layer.to_numpy() != old]
        if moved.empty:
            continue
        iy, ix = np.nonzero(masks[old, species])
        if len(iy) == 0:
            continue
        dist, nearest = cKDTree(group[["x_px", "y_px"]].to_numpy(float)).query(np.c_[ix, iy])
        owner = group.index.to_numpy()[nearest]
        for i, layer in zip(moved.index, moved.layer.to_numpy(), strict=True):
            take = (owner == i) & (dist < radius_px)
            masks[old, species, iy[take], ix[take]] = False
            masks[layer, species, iy[take], ix[take]] = True
    return masks


def reassign_layers(atoms: pd.DataFrame, masks: np.ndarray | None = None,
                    min_twist_deg: float = 5.0, rounds: int = 2, margin: float = 0.05
                    ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Atoms (x_px, y_px, layer, species) and masks with atoms moved to the layer they fit.

    Each round fits every layer's lattice to its atoms and moves an atom to the layer whose
    atoms around it fit that layer's lattice best (:func:`lattice_misfit`) when the misfit is
    smaller than in its own layer by more than ``margin`` bonds. Nothing moves when
    a layer has fewer than 10 atoms or two layers are twisted by less than ``min_twist_deg``.
    """
    atoms = atoms.reset_index(drop=True)
    original = atoms.layer.to_numpy().copy()
    layers = sorted(set(original))
    for _ in range(rounds):
        xy = atoms[["x_px", "y_px"]].to_numpy(float)
        fits = [fit_lattice(xy[atoms.layer.to_numpy() == layer]) for layer in layers]
        if len(layers) < 2 or any(f is None for f in fits) or min(
                twist_deg(a, b) for k, a in enumerate(fits) for b in fits[k + 1:]) < min_twist_deg:
            break
        misfit = np.column_stack([
            lattice_misfit(xy, xy[atoms.layer.to_numpy() == layer], fit)
            for layer, fit in zip(layers, fits, strict=True)])
        current = np.searchsorted(layers, atoms.layer.to_numpy())
        best = misfit.argmin(axis=1)
        rows = np.arange(len(xy))
        better = misfit[rows, best] < misfit[rows, current] - margin
        if not better.any():
            break
        atoms.loc[better, "layer"] = np.asarray(layers)[best[better]]
        bond = float(np.mean([f.bond_px for f in fits]))
    if masks is not None and (atoms.layer.to_numpy() != original).any():
        masks = _move_pixels(np.asarray(masks, bool), atoms, original, 0.6 * bond)
    return atoms, masks
