"""Scan distortion measured from the lattices themselves, and atom positions freed of it.

A STEM image is recorded line by line: unequal scan-coil gains and drift during the frame
scale and shear it, up to several per cent (docs/stem.md, "A real microscope"). A honeycomb
layer is hexagonal, so the affine lattice that :func:`tmdlearn.stem.honeycomb.fit_honeycomb`
fits to its atoms is ``D · a R(θ)`` times the unit hexagonal basis: ``D`` the distortion,
``a`` the lattice constant, ``R(θ)`` the layer's rotation. ``M Mᵀ = a² D Dᵀ`` does not
depend on the rotation, so each layer measures ``D Dᵀ`` up to scale; both layers of a
twisted bilayer were scanned together and measure the same one. Only the anisotropic part
(determinant 1) is removed: the overall scale is the pixel-size calibration, which a
lattice-constant measurement must keep (Vegard's law). Real anisotropic strain of both layers
alike would be removed as well, so the correction is for unstrained layers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import sqrtm

from tmdlearn.stem.honeycomb import fit_honeycomb

#: Fewest atoms a layer needs to measure the distortion.
MIN_ATOMS = 30


def _layer_metric(xy: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``D Dᵀ`` of one layer's honeycomb, scaled to determinant 1, and the atoms it fits."""
    fit = fit_honeycomb(xy)
    if fit is None:
        return None
    v = np.asarray(fit.vectors, float).T  # columns: the two fitted lattice vectors
    c = 0.5 * np.sign(v[:, 0] @ v[:, 1])
    s = np.sqrt(3) / 2 * np.sign(np.linalg.det(v))
    m = v @ np.linalg.inv(np.array([[1.0, c], [0.0, s]]))
    metric = m @ m.T
    det = np.linalg.det(metric)
    if not det > 0:
        return None
    on = int((fit.sites(xy)[0] < 0.25 * fit.bond_px).sum())
    return metric / np.sqrt(det), on


def scan_distortion(atoms: pd.DataFrame, min_atoms: int = MIN_ATOMS) -> np.ndarray:
    """The anisotropic scan distortion ``D`` (2, 2; symmetric, determinant 1) that the layers'
    honeycombs share, acting on (x, y) pixel coordinates; the identity when no layer with at
    least ``min_atoms`` atoms fits a honeycomb. Layers are weighted by the atoms on their
    lattice.

    Parameters
    ----------
    atoms : DataFrame
        Atoms with columns x_px, y_px (px) and layer.
    min_atoms : int
        Fewest atoms of a layer that is fitted.

    Returns
    -------
    (2, 2) array
        ``D`` (dimensionless).
    """
    metrics, weights = [], []
    for _, group in atoms.groupby("layer"):
        if len(group) < min_atoms:
            continue
        found = _layer_metric(group[["x_px", "y_px"]].to_numpy(float))
        if found is not None:
            metrics.append(found[0])
            weights.append(found[1])
    if not metrics:
        return np.eye(2)
    mean = np.average(np.stack(metrics), axis=0, weights=weights)
    mean /= np.sqrt(np.linalg.det(mean))
    return np.real(sqrtm(mean))


def undistort(xy: np.ndarray, distortion: np.ndarray) -> np.ndarray:
    """Points (n, 2) with the distortion removed: ``D⁻¹ · (x, y)`` for each point.

    Parameters
    ----------
    xy : (n, 2) array
        Points, in px.
    distortion : (2, 2) array
        ``D`` from :func:`scan_distortion`.

    Returns
    -------
    (n, 2) array
        The corrected points, in px.
    """
    return np.asarray(xy, float) @ np.linalg.inv(distortion).T


def remove_scan_distortion(atoms: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Copy of ``atoms`` with their :func:`scan_distortion` removed about the atoms' centroid
    (which stays put), and that distortion.

    Parameters
    ----------
    atoms : DataFrame
        Atoms with columns x_px, y_px (px), layer, ...

    Returns
    -------
    atoms : DataFrame
        The corrected copy.
    distortion : (2, 2) array
        ``D``.
    """
    distortion = scan_distortion(atoms)
    xy = atoms[["x_px", "y_px"]].to_numpy(float)
    centre = xy.mean(axis=0) if len(xy) else np.zeros(2)
    fixed = undistort(xy - centre, distortion) + centre
    return atoms.assign(x_px=fixed[:, 0], y_px=fixed[:, 1]), distortion
