"""Honeycomb lattices fitted to atom positions (px): bond length and orientation from the
nearest neighbours (:func:`fit_lattice`), an affine honeycomb placed in the image
(:func:`fit_honeycomb`), and how far atoms sit from a lattice's sites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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


def angle_between(a_deg: float, b_deg: float) -> float:
    """Smallest angle (0-30°) between two six-fold orientations.

    Parameters
    ----------
    a_deg, b_deg : float
        Orientations (degrees).

    Returns
    -------
    float
        Degrees, in [0, 30].
    """
    d = (a_deg - b_deg) % 60
    return float(min(d, 60 - d))


def twist_deg(a: Lattice, b: Lattice) -> float:
    """Smallest angle (0-30°) between two honeycombs' orientations (:func:`angle_between`).

    Parameters
    ----------
    a, b : Lattice
        The two honeycombs.

    Returns
    -------
    float
        The twist angle, in degrees.
    """
    return angle_between(np.degrees(a.angle_rad), np.degrees(b.angle_rad))


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
        distance, fractional : (n,) and (n, 2) arrays
            Distance to the nearest site (px) and that site's fractional coordinates.
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


def fit_honeycomb(xy: np.ndarray, tol: float = 0.25, enough: float = 0.95,
                  start: Lattice | None = None) -> Honeycomb | None:
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
    start : Lattice, optional
        ``fit_lattice(xy)`` where the caller has it already.

    Returns
    -------
    Honeycomb or None
        The fitted honeycomb (px); None for fewer than 10 points.
    """
    xy = np.asarray(xy, float)
    start = fit_lattice(xy) if start is None else start
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
