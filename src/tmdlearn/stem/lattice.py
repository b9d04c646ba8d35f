"""Layer reassignment by lattice fit: an atom belongs to the layer whose lattice it sits on.

In a twisted bilayer each layer is a honeycomb (graphene; a TMD in projection) of its own
orientation and position. A network sometimes puts an atom, or a whole patch of atoms, into
the wrong layer where the layers' contrasts merge. :func:`reassign_layers` first fits one
honeycomb to each predicted layer over the whole image (:func:`fit_honeycomb`: affine lattice
vectors and origin, grown by least squares from seed points) and moves an atom that sits on
the other layer's sites and off its own layer's to the other layer. Where two honeycombs do
not describe the atoms (e.g. a distorted or polycrystalline field) it falls back to a local
test that compares only the bond vectors around each atom with each layer's lattice and needs
the layers twisted apart (default more than 5 degrees). On a monolayer, the other layer's copies
of the crystal layer's columns move to it (:func:`_fold_copies`), where
:func:`tmdlearn.stem.atoms.merge_close_atoms` makes one atom of each column. Mask pixels move
with their atoms. Positions in pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from tmdlearn.stem.atoms import MERGE_BONDS
from tmdlearn.stem.grades import ON_SITE_BONDS
from tmdlearn.stem.honeycomb import fit_honeycomb, fit_lattice, lattice_misfit, twist_deg
from tmdlearn.stem.prior import (  # noqa: F401 - re-exported: their import path before
    check_lattice_prior,
    pull_to_lattice,
)


def _global_layers(xy: np.ndarray, layer: np.ndarray, near: float = 0.2, margin: float = 0.15,
                   explained: float = 0.8) -> np.ndarray | None:
    """Layers (0/1; -1: drop) of points after the two-honeycomb fit, or None where it does not
    apply.

    The better-fitting layer's honeycomb is fitted first, the other layer's to its points off
    that honeycomb (so a patch of swapped atoms cannot make both fits the same lattice). A
    point moves when it sits within ``near`` bonds of a site of the other honeycomb and more
    than ``margin`` bonds farther from its own layer's nearest site (or shares that site with
    a point of its layer that sits closer); it is dropped instead when a point of the other
    layer already holds that site (one column detected in both layers). None unless the two
    honeycombs differ and put more than ``explained`` of the points within 0.25 bonds of a
    site.
    """
    fits = [fit_honeycomb(xy[layer == k]) for k in (0, 1)]
    if any(f is None for f in fits):
        return None
    first = int(np.argmax([(f.sites(xy[layer == k])[0] < 0.25 * f.bond_px).mean()
                           for k, f in enumerate(fits)]))
    second = 1 - first
    mine = xy[layer == second]
    fits[second] = fit_honeycomb(mine[fits[first].sites(mine)[0] > 0.25 * fits[first].bond_px])
    if fits[second] is None:
        return None
    dist, keys = [], []
    for fit in fits:
        d, site = fit.sites(xy)
        dist.append(d / fit.bond_px)
        keys.append(np.round(3 * site).astype(int))
    dist = np.column_stack(dist)
    on = dist < 0.25
    if on.any(axis=1).mean() < explained or on.all(axis=1).mean() > 0.5:
        return None
    rows = np.arange(len(xy))
    own, other = dist[rows, layer].copy(), dist[rows, 1 - layer]
    for k in (0, 1):  # a site of a layer holds one point of it: the closest
        idx = np.flatnonzero(layer == k)
        site = np.unique(keys[k][idx], axis=0, return_inverse=True)[1].ravel()
        closest = np.full(len(idx), np.inf)
        np.minimum.at(closest, site, own[idx])
        own[idx[own[idx] > closest[site]]] = np.inf
    move = (other < near) & (own > other + margin)
    new = np.where(move, 1 - layer, layer)
    for k in (0, 1):  # the site it would move to already holds a point: a double detection
        stay = np.flatnonzero((layer == k) & ~move & (dist[:, k] < near))
        held = {tuple(key) for key in keys[k][stay]}
        incoming = np.flatnonzero(move & (layer != k))
        new[[i for i in incoming if tuple(keys[k][i]) in held]] = -1
    return new


#: A layer whose atoms sit, for more than COPY_SHARE of them, within COPY_BONDS bonds of the
#: other layer's atoms may be copies of its columns (a twisted bilayer has about 22 % of its
#: atoms that close by chance; a bilayer model on a real monolayer, 60-70 %).
COPY_BONDS, COPY_SHARE = 0.3, 0.5
#: ... and is one when at most CORE_SHARE of its atoms form a lattice of their own
#: (:func:`lattice_core`): a bilayer model's copies on real monolayers, 1 %; the second layer
#: of a simulated graphene bilayer twisted 2° (most of the field near AA), found at 63 %, 56 %.
CORE_SHARE = 0.25


def lattice_core(xy: np.ndarray, bond_px: float, tolerance: float = 0.25) -> np.ndarray:
    """Which points (n, 2) px belong to a lattice of their own: the 2-core of the graph linking
    points one bond apart (``bond_px`` within ``tolerance`` of it), i.e. what is left after
    repeatedly removing the points with fewer than two such neighbours left.

    A crystal layer's columns each have three neighbours one bond away (two at an edge);
    scattered points (a random quarter of a honeycomb's sites) have almost no such cycles.

    Parameters
    ----------
    xy : (n, 2) array
        Points, px.
    bond_px : float
        The bond length, px.
    tolerance : float
        Accepted relative deviation of a bond.

    Returns
    -------
    (n,) bool array
        In the core.
    """
    pairs = cKDTree(xy).query_pairs((1 + tolerance) * bond_px, output_type="ndarray")
    pairs = pairs[np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T) > (1 - tolerance) * bond_px]
    core = np.ones(len(xy), bool)
    while True:
        alive = pairs[core[pairs[:, 0]] & core[pairs[:, 1]]]
        kept = core & (np.bincount(alive.ravel(), minlength=len(xy)) >= 2)
        if (kept == core).all():
            return core
        core = kept


def _fold_copies(xy: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Layers with a monolayer's columns found again in the other layer moved to it.

    The layer with fewer atoms is a copy layer when more than ``COPY_SHARE`` of its atoms sit
    within ``COPY_BONDS`` bonds of the other layer's (in a twisted bilayer only where the image
    is smaller than a moiré cell) and at most ``CORE_SHARE`` of them form a lattice of their own
    (:func:`lattice_core`: an aligned or slightly twisted bilayer's second layer does, even
    found in part). Its atoms outside that core are then the crystal layer's columns found
    again and move to it when within ``MERGE_BONDS`` bonds of one of its atoms (the same
    column: :func:`tmdlearn.stem.atoms.merge_close_atoms` makes one atom of them) or on its
    fitted honeycomb's sites (within ``ON_SITE_BONDS``). Bonds are the crystal layer's
    (:func:`fit_lattice`).
    """
    kinds, counts = np.unique(layer[layer >= 0], return_counts=True)
    if len(kinds) != 2:
        return layer
    other, crystal = kinds[np.argsort(counts, kind="stable")]
    mine, theirs = np.flatnonzero(layer == other), xy[layer == crystal]
    lattice = fit_lattice(theirs)
    if lattice is None:
        return layer
    dist = cKDTree(theirs).query(xy[mine])[0] / lattice.bond_px
    if np.mean(dist < COPY_BONDS) <= COPY_SHARE:
        return layer
    loose = ~lattice_core(xy[mine], lattice.bond_px)
    if np.mean(~loose) > CORE_SHARE:
        return layer
    fit = fit_honeycomb(theirs, start=lattice)
    ours = dist < MERGE_BONDS
    if fit is not None:
        ours |= fit.sites(xy[mine])[0] < ON_SITE_BONDS * fit.bond_px
    layer = layer.copy()
    layer[mine[loose & ours]] = crystal
    return layer


def _move_pixels(masks: np.ndarray, atoms: pd.DataFrame, source: np.ndarray,
                 radius_px: float) -> np.ndarray:
    """Copy of masks (B, S, H, W) with the pixels of each moved atom moved to its new layer
    (cleared for an atom whose new layer is -1).

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
            if layer >= 0:
                masks[layer, species, iy[take], ix[take]] = True
    return masks


def reassign_layers(atoms: pd.DataFrame, masks: np.ndarray | None = None,
                    min_twist_deg: float = 5.0, rounds: int = 2, margin: float = 0.05
                    ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Atoms (x_px, y_px, layer, species) and masks with atoms moved to the layer they fit.

    Two layers are first reassigned by their whole-image honeycombs (:func:`_global_layers`;
    an atom found in both layers at one layer's site is kept only there).
    Where that does not apply, each of ``rounds`` local rounds fits every layer's lattice to its
    atoms and moves an atom to the layer whose atoms around it fit that layer's lattice best
    (:func:`lattice_misfit`) when the misfit is smaller than in its own layer by more than
    ``margin`` bonds; nothing moves when a layer has fewer than 10 atoms or two layers are
    twisted by less than ``min_twist_deg``. Last, a monolayer's columns found again in the
    other layer move to the crystal layer (:func:`_fold_copies`). An atom moved onto a column
    its new layer holds is left there: :func:`tmdlearn.stem.atoms.merge_close_atoms` makes one
    atom of each column.

    Parameters
    ----------
    atoms : DataFrame
        Atoms with columns x_px, y_px (px), layer, species.
    masks : (layers, species, H, W) bool array, optional
        Masks whose blobs move with their atoms.
    min_twist_deg : float
        Least twist between layers (degrees) for the local rounds.
    rounds : int
        Local rounds.
    margin : float
        Misfit gain needed to move an atom, in bonds.

    Returns
    -------
    atoms : DataFrame
        The atoms with their new layers.
    masks : (layers, species, H, W) bool array or None
        The masks to match (None when none were given).
    """
    atoms = atoms.reset_index(drop=True)
    original = atoms.layer.to_numpy().copy()
    layers = sorted(set(original))
    xy = atoms[["x_px", "y_px"]].to_numpy(float)
    moved = _global_layers(xy, np.searchsorted(layers, original)) if len(layers) == 2 else None
    if moved is not None:
        atoms["layer"] = np.where(moved < 0, -1, np.asarray(layers)[moved])
    for _ in range(rounds if moved is None else 0):
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
    atoms["layer"] = _fold_copies(xy, atoms.layer.to_numpy())
    if masks is not None and (atoms.layer.to_numpy() != original).any():
        bond = float(np.mean([f.bond_px for f in (
            fit_lattice(xy[original == layer]) for layer in layers) if f is not None]))
        masks = _move_pixels(np.asarray(masks, bool), atoms, original, 0.6 * bond)
    return atoms[atoms.layer >= 0].reset_index(drop=True), masks
