"""Layer reassignment by lattice fit: an atom belongs to the layer whose lattice it sits on.

In a twisted bilayer each layer is a honeycomb (graphene; a TMD in projection) of its own
orientation and position. A network sometimes puts an atom, or a whole patch of atoms, into
the wrong layer where the layers' contrasts merge. :func:`reassign_layers` first fits one
honeycomb to each predicted layer over the whole image (:func:`fit_honeycomb`: affine lattice
vectors and origin, grown by least squares from seed points) and moves an atom that sits on
the other layer's sites and off its own layer's to the other layer. Where two honeycombs do
not describe the atoms (e.g. a distorted or polycrystalline field) it falls back to a local
test that compares only the bond vectors around each atom with each layer's lattice and needs
the layers twisted apart (default more than 5 degrees). Mask pixels move with their atoms.
Positions in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from tmdlearn.errors import InputError

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


def nearest_site(f: np.ndarray, vectors: np.ndarray, subs: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) from fractional points f (n, 2) to the nearest point of the lattice
    shifted by any of ``subs`` (k, 2), and that point's fractional coordinates (n, 2); ties go
    to the first of ``subs``.

    Parameters
    ----------
    f : (n, 2) array
        Points in fractional coordinates of ``vectors``.
    vectors : (2, 2) array
        Bravais vectors as rows, in px.
    subs : (k, 2) array
        Sublattice shifts, in fractional coordinates.

    Returns
    -------
    distance : (n,) array
        Distance to the nearest site, in px.
    fractional : (n, 2) array
        That site's fractional coordinates.
    """
    s = np.round(f[:, None] - subs[None]) + subs[None]
    d = np.linalg.norm((f[:, None] - s) @ vectors, axis=-1)
    k = d.argmin(axis=1)
    rows = np.arange(len(f))
    return d[rows, k], s[rows, k]


def fit_lattice(xy: np.ndarray) -> Lattice | None:
    """The honeycomb of points (n, 2) px, from the vectors to their 3 nearest neighbours.

    Bond length: median distance to the 3 nearest neighbours of the points whose 3 neighbours
    are equidistant within 10 % and whose 4th is farther (well-ordered honeycomb sites; all
    points' nearest-neighbour distance when fewer than 5 are); orientation: circular mean of
    the six-fold bond angles of the vectors within 25 % of it.

    Parameters
    ----------
    xy : (n, 2) array
        Atom positions, in px.

    Returns
    -------
    Lattice or None
        Bond length (px) and orientation (rad); None for fewer than 10 points or no such
        vectors.
    """
    xy = np.asarray(xy, float)
    if len(xy) < 10:
        return None
    dist, idx = cKDTree(xy).query(xy, k=5)
    clean = (dist[:, 3] < 1.1 * dist[:, 1]) & (dist[:, 4] > 1.25 * dist[:, 3])
    bond = float(np.median(dist[clean, 1:4]) if clean.sum() >= 5 else np.median(dist[:, 1]))
    vec = xy[idx[:, 1:4]] - xy[:, None]
    keep = np.abs(dist[:, 1:4] - bond) < 0.25 * bond
    if not keep.any():
        return None
    angles = np.arctan2(vec[..., 1], vec[..., 0])[keep]
    mean = np.angle(np.exp(6j * angles).mean()) / 6
    return Lattice(bond, float(mean))


def twist_deg(a: Lattice, b: Lattice) -> float:
    """Smallest angle (0-30°) between two honeycombs' orientations.

    Parameters
    ----------
    a, b : Lattice
        The two honeycombs.

    Returns
    -------
    float
        The twist angle, in degrees.
    """
    d = np.degrees(a.angle_rad - b.angle_rad) % 60
    return float(min(d, 60 - d))


def lattice_misfit(xy: np.ndarray, others: np.ndarray, lattice: Lattice) -> np.ndarray:
    """For every point of ``xy``: how far ``others`` around it sit from its honeycomb (bonds).

    The median, over the points of ``others`` within 1.9 bonds (first and second shells; the
    point itself and anything closer than half a bond left out), of the distance from their
    displacement to the nearest honeycomb displacement of ``lattice``, in bond lengths.

    Parameters
    ----------
    xy : (n, 2) array
        Points whose misfit is measured, in px.
    others : (m, 2) array
        Neighbouring points, in px.
    lattice : Lattice
        The honeycomb.

    Returns
    -------
    (n,) array
        Misfit in bond lengths; infinite where fewer than 2 such points exist.
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
        misfit[i] = np.median(nearest_site(d @ inverse, vectors, HONEYCOMB_SITES)[0]) \
            / lattice.bond_px
    return misfit


#: Fractional offset of the second honeycomb sublattice from the first.
THIRD = HONEYCOMB_SITES[1]


@dataclass(frozen=True)
class Honeycomb:
    """A honeycomb placed in the image: Bravais vectors as rows (2, 2) px (an affine fit, so
    magnification, shear and linear drift are absorbed) and the origin (2,) px of one site;
    the other sublattice is at origin + (v1 + v2) / 3."""

    vectors: np.ndarray
    origin: np.ndarray

    @property
    def bond_px(self) -> float:
        """Bond length (px): the mean length of the Bravais vectors / √3."""
        return float(np.linalg.norm(self.vectors, axis=1).mean() / np.sqrt(3))

    def sites(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance (px) of each point (n, 2) to its nearest site, and that site's fractional
        coordinates (n, 2; multiples of 1/3).

        Parameters
        ----------
        xy : (n, 2) array
            Points, in px.

        Returns
        -------
        distance : (n,) array
            Distance to the nearest site, in px.
        fractional : (n, 2) array
            That site's fractional coordinates.
        """
        f = (np.asarray(xy, float) - self.origin) @ np.linalg.inv(self.vectors)
        return nearest_site(f, self.vectors, HONEYCOMB_SITES[:2])


def _origin(xy: np.ndarray, vectors: np.ndarray, seed: np.ndarray, bond: float) -> np.ndarray:
    """A honeycomb site (px) for points near ``seed`` on a lattice of ``vectors``.

    The three-fold phase of the points' fractional coordinates fixes the sites modulo a third
    of a cell; of those 9 candidates the most populated is one sublattice, and the more
    populated of its two diagonal neighbours (±(1/3, 1/3)) tells which one.
    """
    f = (xy - seed) @ np.linalg.inv(vectors)
    phase = np.angle(np.exp(6j * np.pi * f).mean(axis=0)) / (6 * np.pi)

    def count(q: np.ndarray) -> int:
        return int(np.sum(nearest_site(f - q, vectors, HONEYCOMB_SITES[:1])[0] < 0.3 * bond))

    grid = [phase + np.array([j, k]) / 3 for j in range(3) for k in range(3)]
    first = grid[int(np.argmax([count(q) for q in grid]))]
    origin = first if count(first + THIRD) >= count(first - THIRD) else first - THIRD
    return seed + origin @ vectors


def fit_honeycomb(xy: np.ndarray, tol: float = 0.25, enough: float = 0.95
                  ) -> Honeycomb | None:
    """The honeycomb that puts most points (n, 2) px within ``tol`` bonds of a site.

    From each of 5 seeds (centre and quarter points of the points' extent), starting with
    :func:`fit_lattice`'s bond and orientation and :func:`_origin`, the affine lattice is
    refitted by least squares to the points within ``tol`` bonds of their nearest site, over
    disks of 4, 8 and 16 bonds around the seed and then all points; the seed whose lattice
    fits most points wins (a patch of another layer's atoms cannot take over).

    Parameters
    ----------
    xy : (n, 2) array
        Atom positions, in px.
    tol : float
        Largest distance of a fitted point from its site, in bonds.
    enough : float
        A seed whose lattice fits more than this fraction of the points ends the search.

    Returns
    -------
    Honeycomb or None
        The fitted honeycomb (px); None for fewer than 10 points.
    """
    xy = np.asarray(xy, float)
    start = fit_lattice(xy)
    if start is None:
        return None
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    best, best_n = None, 0
    for t in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        seed = lo + (hi - lo) * np.asarray(t)
        away = np.hypot(*(xy - seed).T) / start.bond_px
        if (away < 4).sum() < 6:
            continue
        fit = Honeycomb(start.vectors, _origin(xy[away < 4], start.vectors, seed, start.bond_px))
        for radius in (4, 8, 16, np.inf):
            dist, site = fit.sites(xy[away < radius])
            ok = dist < tol * fit.bond_px
            if ok.sum() < 6:
                break
            design = np.column_stack([site[ok], np.ones(ok.sum())])
            solution = np.linalg.lstsq(design, xy[away < radius][ok], rcond=None)[0]
            fit = Honeycomb(solution[:2], solution[2])
        n = int((fit.sites(xy)[0] < tol * fit.bond_px).sum())
        if n > best_n:
            best, best_n = fit, n
        if best_n > enough * len(xy):
            break
    return best


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
    twisted by less than ``min_twist_deg``.

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
    if masks is not None and (atoms.layer.to_numpy() != original).any():
        bond = float(np.mean([f.bond_px for f in (
            fit_lattice(xy[original == layer]) for layer in layers) if f is not None]))
        masks = _move_pixels(np.asarray(masks, bool), atoms, original, 0.6 * bond)
    return atoms[atoms.layer >= 0].reset_index(drop=True), masks


def check_lattice_prior(lattice_prior: float) -> None:
    """InputError unless ``lattice_prior`` is in [0, 1].

    Parameters
    ----------
    lattice_prior : float
        The fraction of :func:`pull_to_lattice` (config key ``find.lattice_prior``, option
        ``--lattice-prior``).
    """
    if not 0 <= lattice_prior <= 1:
        raise InputError(f"lattice_prior (find.lattice_prior, --lattice-prior) must be in "
                         f"[0, 1], got {lattice_prior}")


def pull_to_lattice(atoms: pd.DataFrame, lattice_prior: float = 0.5, tol: float = 0.35,
                    max_rms: float = 0.15, min_on: float = 0.8) -> tuple[pd.DataFrame, float]:
    """Copy of atoms with each position moved ``lattice_prior`` of the way to the nearest site of
    its layer's whole-image honeycomb (:func:`fit_honeycomb`, all species of the layer
    together), and the mean lattice constant of those honeycombs.

    A prior for rigid lattices: where the columns of the two layers partly overlap, the
    network misplaces them by a bias that follows the moiré, whereas the sites of a honeycomb
    fitted to the whole layer are off only by the thermal jitter. Real displacements (strain,
    lattice reconstruction, a dislocation) shrink by the same fraction, so keep
    ``lattice_prior`` 0 to measure them. Atoms farther than ``tol`` bonds from every site stay
    where they are, and so do all atoms of a layer that is not rigid: no honeycomb (fewer than
    10 atoms), fewer than ``min_on`` of its atoms within ``tol`` of a site, or their RMS
    distance to the sites above ``max_rms`` bonds (strain or distortion beyond what the affine
    fit absorbs; thermal jitter and network errors are about 0.05 bonds).

    Parameters
    ----------
    atoms : DataFrame
        Atoms with columns x_px, y_px (px), layer, ...
    lattice_prior : float
        Fraction (0-1, :func:`check_lattice_prior`) of the way to the site.
    tol : float
        Largest distance of a moved atom from its site, in bonds.
    max_rms : float
        Largest RMS distance of a rigid layer's atoms to their sites, in bonds.
    min_on : float
        Least fraction of a rigid layer's atoms within ``tol`` of a site.

    Returns
    -------
    atoms : DataFrame
        The moved copy.
    lattice_px : float
        Mean lattice constant of the honeycombs, in px (NaN when none fits).
    """
    check_lattice_prior(lattice_prior)
    atoms = atoms.copy()
    xy = atoms[["x_px", "y_px"]].to_numpy(float, copy=True)
    layer = atoms.layer.to_numpy()
    constants = []
    for k in np.unique(layer):
        rows = np.flatnonzero(layer == k)
        fit = fit_honeycomb(xy[rows])
        if fit is None:
            continue
        constants.append(np.sqrt(3) * fit.bond_px)
        dist, site = fit.sites(xy[rows])
        on = dist < tol * fit.bond_px
        if on.mean() < min_on or np.sqrt(np.mean(dist[on] ** 2)) > max_rms * fit.bond_px:
            continue
        xy[rows[on]] += lattice_prior * (fit.origin + site[on] @ fit.vectors - xy[rows[on]])
    atoms["x_px"], atoms["y_px"] = xy[:, 0], xy[:, 1]
    return atoms, float(np.mean(constants)) if constants else float("nan")
