"""The physics of each layer of found atoms, for the STEM self-check: the two nearest-neighbour
distances of every atom against the material's bond (mean and FWHM, as the Gomb-Net study
measures them), the fraction of atoms on the layer's fitted honeycomb
(:func:`tmdlearn.stem.honeycomb.fit_honeycomb`) and their RMS distance to it, atoms on top of
another layer's, the metal fraction of a TMD layer, the atoms per nm² against the lattice's
column density, and where the layer is present.

Positions in pixels of the image's own grid, lengths in Å.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import median_abs_deviation

from tmdlearn.constants import LATTICE_ANGSTROM
from tmdlearn.stem.bonds import neighbour_distances
from tmdlearn.stem.densities import FWHM_PER_SIGMA
from tmdlearn.stem.grades import METAL, ON_SITE_BONDS, PRESENT, STACKED_BONDS
from tmdlearn.stem.honeycomb import fit_honeycomb
from tmdlearn.stem.render import Windows, image_windows


def bond_angstrom(material: str) -> float:
    """Nearest-neighbour distance (Å) of the projected columns: graphene C–C a/√3 = 1.42 Å,
    WS2 W–chalcogen column a/√3 = 1.82 Å.

    Parameters
    ----------
    material : str
        "graphene" or "ws2" (:data:`tmdlearn.constants.LATTICE_ANGSTROM`).

    Returns
    -------
    float
        Bond length (Å).
    """
    return LATTICE_ANGSTROM[material] / np.sqrt(3)


def column_density(material: str) -> float:
    """Projected columns per Å² of one layer: 2 per hexagonal cell of area a²√3/2 (graphene:
    2 C; 2H WS2: 1 W + 1 chalcogen column).

    Parameters
    ----------
    material : str
        "graphene" or "ws2".

    Returns
    -------
    float
        Columns per Å².
    """
    return 2 / (LATTICE_ANGSTROM[material] ** 2 * np.sqrt(3) / 2)


def bond_figures(xy_px: np.ndarray, pixel_size_angstrom: float, bond: float
                 ) -> tuple[float, float]:
    """Mean and FWHM (Å) of the distances from every atom to its two nearest neighbours (the
    Gomb-Net study's bond statistic), distances above 1.5 ``bond`` left out (edges, vacancies).

    The FWHM is 2.3548 × the robust σ (1.4826 × the median absolute deviation), the FWHM of a
    Gaussian peak that outliers do not move and that needs no density estimate (the KDE FWHM
    of :func:`tmdlearn.stem.bonds.bond_statistics` takes about 30 ms a layer, as long as
    all the other checks together).

    Parameters
    ----------
    xy_px : (N, 2) array
        One layer's atom positions (px).
    pixel_size_angstrom : float
        Pixel size (Å/px).
    bond : float
        The material's bond length (Å, :func:`bond_angstrom`).

    Returns
    -------
    mean, fwhm : float
        Å; NaN when no distance is kept.
    """
    d = neighbour_distances(xy_px, pixel_size_angstrom, 2, max_angstrom=1.5 * bond)
    if not len(d):
        return float("nan"), float("nan")
    return float(d.mean()), float(FWHM_PER_SIGMA * median_abs_deviation(d, scale="normal"))


def layer_checks(atoms: pd.DataFrame, pixel_size_angstrom: float, material: str,
                 shape: tuple[int, int], layers: int) -> pd.DataFrame:
    """Physics of each layer of found atoms.

    One row per layer with atoms, bond mean and FWHM (Å, the two nearest neighbours of every
    atom, distances above 1.5 bonds left out), on-lattice fraction and RMS distance (bonds) to
    the fitted honeycomb, stacked (fraction within ``STACKED_BONDS`` of another layer's atom),
    metal fraction (TMDs: of the columns; NaN for graphene), density ratio (atoms per nm² over
    the windows holding the layer, or over all windows where none does, / the lattice's), and
    coverage (fraction of windows holding the layer).

    Parameters
    ----------
    atoms : DataFrame
        Found atoms: ``x_px``, ``y_px`` (pixels), ``layer`` and ``species``.
    pixel_size_angstrom : float
        Pixel size, Å.
    material : str
        ``graphene`` or ``ws2`` (:data:`tmdlearn.constants.LATTICE_ANGSTROM`).
    shape : (ny, nx)
        Image size, pixels.
    layers : int
        Layers of the model.

    Returns
    -------
    DataFrame
        One row per layer, with the ``present`` mask of windows (layers, n_y, n_x) in
        ``attrs``.
    """
    pix = float(pixel_size_angstrom)
    windows = image_windows(shape, pix)
    rows_out, present = [], []
    for layer in range(layers):
        row, here = _layer_row(atoms, layer, pix, material, windows)
        rows_out.append(row)
        present.append(here)
    table = pd.DataFrame(rows_out)
    table.attrs["present"] = np.stack(present) if present else \
        np.zeros((0, windows.n_y, windows.n_x), bool)
    return table


def _layer_row(atoms: pd.DataFrame, layer: int, pix: float, material: str, windows: Windows
               ) -> tuple[dict[str, float], np.ndarray]:
    """The figures of one layer (a row of :func:`layer_checks`) and its ``present`` windows."""
    bond = bond_angstrom(material)
    n_y, n_x, window = windows.n_y, windows.n_x, windows.side
    expected = column_density(material) * (window * pix) ** 2
    mine = atoms.layer == layer
    xy = atoms.loc[mine, ["x_px", "y_px"]].to_numpy(float)
    metal = float(atoms.loc[mine, "species"].isin(METAL[material]).mean()) \
        if material in METAL and mine.any() else float("nan")
    others = atoms.loc[atoms.layer != layer, ["x_px", "y_px"]].to_numpy(float)
    stacked = float(np.mean(cKDTree(others).query(xy)[0] < STACKED_BONDS * bond / pix)) \
        if len(others) and len(xy) else 0.0
    bond_mean, bond_fwhm = bond_figures(xy, pix, bond)
    iy = np.floor((xy[:, 1] - windows.rows.start) / window).astype(int)
    ix = np.floor((xy[:, 0] - windows.cols.start) / window).astype(int)
    inside = (iy >= 0) & (iy < n_y) & (ix >= 0) & (ix < n_x)
    counts = np.bincount(iy[inside] * n_x + ix[inside], minlength=n_y * n_x)
    here = counts.reshape(n_y, n_x) >= PRESENT * expected
    on_fraction, rms = _on_lattice(xy)
    row = {"layer": layer, "atoms": len(xy), "bond_mean_angstrom": bond_mean,
           "bond_fwhm_angstrom": bond_fwhm, "on_lattice": on_fraction,
           "lattice_rms_bonds": rms, "stacked": stacked, "metal_fraction": metal,
           "density_ratio": float(counts.reshape(n_y, n_x)[here].sum() / (here.sum() * expected)
                                  if here.any() else counts.sum() / (n_y * n_x * expected)),
           "coverage": float(here.mean())}
    return row, here


def _on_lattice(xy: np.ndarray) -> tuple[float, float]:
    """Fraction of the atoms ``xy`` (pixels) within ``ON_SITE_BONDS`` of their fitted
    honeycomb and the RMS distance (bonds) of those to their sites (0 and NaN without a fit)."""
    fit = fit_honeycomb(xy)
    on_fraction, rms = 0.0, float("nan")
    if fit is not None:
        dist = fit.sites(xy)[0] / fit.bond_px
        on = dist < ON_SITE_BONDS
        on_fraction = float(on.mean())
        rms = float(np.sqrt(np.mean(dist[on] ** 2))) if on.any() else float("nan")
    return on_fraction, rms
