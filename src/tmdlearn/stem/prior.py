"""The lattice prior: atoms pulled part of the way to their layer's fitted honeycomb, and the
model's label disks repainted there."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.constants import LATTICE_ANGSTROM
from tmdlearn.errors import InputError
from tmdlearn.stem.atoms import atom_masks
from tmdlearn.stem.honeycomb import fit_honeycomb


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


def apply_lattice_prior(atoms: pd.DataFrame, shape: tuple[int, ...], lattice_prior: float,
                        meta: dict[str, Any], pixel_size_angstrom: float
                        ) -> tuple[pd.DataFrame, np.ndarray]:
    """Atoms pulled ``lattice_prior`` (0-1) of the way to their layer's honeycomb
    (:func:`pull_to_lattice`) and masks repainted as the model's label
    disks there.

    The disk radius (Å in ``meta``) is converted to pixels with the fitted lattice constant and
    the material's (:data:`tmdlearn.constants.LATTICE_ANGSTROM`), i.e. at the image's true
    magnification as the training labels were; with no honeycomb, with ``pixel_size_angstrom``.

    Parameters
    ----------
    atoms : DataFrame
        Atoms (x_px, y_px, layer, species, ...).
    shape : tuple of int
        Shape of the masks (layers, species, H, W).
    lattice_prior : float
        Fraction (0-1) of the way to the honeycomb.
    meta : dict
        The model's metadata (label disk radius in Å, material).
    pixel_size_angstrom : float
        Pixel size of the masks, in Å/px.

    Returns
    -------
    atoms : DataFrame
        The moved atoms.
    masks : (layers, species, H, W) bool array
        The repainted masks.
    """
    atoms, a_px = pull_to_lattice(atoms, lattice_prior)
    a_angstrom = LATTICE_ANGSTROM.get(str(meta.get("material")), float("nan"))
    scale = a_px / a_angstrom if np.isfinite(a_px / a_angstrom) else 1 / pixel_size_angstrom
    return atoms, atom_masks(atoms, shape, float(meta["label_radius_angstrom"]) * scale)
