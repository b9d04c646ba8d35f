"""Lattice analyses of layer-resolved atom positions, all at once (:func:`analyse_atoms`): bonds
(:mod:`tmdlearn.stem.bonds`), lattice constants and Vegard's law
(:mod:`tmdlearn.stem.composition`), moiré order parameters
(:mod:`tmdlearn.stem.order_parameter`) and bootstrap KDEs (:mod:`tmdlearn.stem.densities`);
their public functions are importable from here too.

Positions come in pixels (x_px, y_px) and are converted with the pixel size in Å.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.constants import A_WS2_ANGSTROM, METALS, VEGARD_ANGSTROM
from tmdlearn.stem.bonds import (
    bond_statistics,
    bond_table,
    distance_statistics,
    layer_bond_distances,
    neighbour_distances,
)
from tmdlearn.stem.composition import (
    SE_PER_COLUMN,
    lattice_constant,
    species_se_fraction,
    vegard_se_fraction,
)
from tmdlearn.stem.densities import FWHM_PER_SIGMA, bootstrap_kde, density_mse, kde_fwhm
from tmdlearn.stem.distortion import remove_scan_distortion
from tmdlearn.stem.honeycomb import fit_lattice, twist_deg
from tmdlearn.stem.order_parameter import local_stacking, order_parameter, order_parameter_map

__all__ = ["FWHM_PER_SIGMA", "SE_PER_COLUMN", "analyse_atoms", "bond_statistics", "bond_table",
           "bootstrap_kde", "density_mse", "distance_statistics", "kde_fwhm",
           "lattice_constant", "layer_bond_distances", "local_stacking", "neighbour_distances",
           "order_parameter", "order_parameter_map", "species_se_fraction",
           "vegard_se_fraction"]


def analyse_atoms(atoms: pd.DataFrame, pixel_size_angstrom: float, material: str = "graphene",
                  shape: tuple[int, int] | None = None, n_boot: int = 1000,
                  seed: int = 0, a_ws2: float | None = None, a_wse2: float | None = None,
                  bond_max_angstrom: float | None = None, undistort: bool = True
                  ) -> dict[str, Any]:
    """All analyses of one image's layer-resolved atoms.

    With ``undistort`` the lattice constants and bond statistics are measured after the scan
    distortion that the layers' honeycombs share is removed
    (:func:`tmdlearn.stem.distortion.scan_distortion`); the maps stay on the image grid.

    Parameters
    ----------
    atoms : DataFrame
        Atoms of one image, columns x_px, y_px (px), layer and species (column type).
    pixel_size_angstrom : float
        Pixel size (Å/px) of every distance and lattice constant.
    material : str
        "graphene" (honeycomb lattice, C–C bonds) or "ws2" (a TMD: triangular metal lattice,
        W or Mo columns, Vegard fraction).
    shape : tuple of int, optional
        (H, W) of the image; the order-parameter maps are made only when given.
    n_boot : int
        Bootstrap resamples of the KDE comparison.
    seed : int
        Seed of the bootstrap.
    a_ws2, a_wse2 : float, optional
        Lattice constants (Å) of Vegard's sulphide and selenide end members; default those of
        the layer's metal (:data:`tmdlearn.constants.VEGARD_ANGSTROM`: WS2 / WSe2, or MoS2 /
        MoSe2 for Mo columns).
    bond_max_angstrom : float, optional
        Bond distances above it (Å) are left out of ``bond_statistics``.
    undistort : bool
        Remove the shared scan distortion before measuring.

    Returns
    -------
    dict
        ``lattice`` (table per layer: atoms, lattice constant Å, and for a TMD the Vegard Se
        fraction with its end members' lattice constants (Å) and the Se fraction counted from
        the column species); ``bond_statistics``
        (:func:`bond_table`: two nearest neighbours per atom, mean and FWHM per layer and
        pooled); ``scan_distortion`` (with ``undistort``: the matrix and its anisotropy in per
        cent); for graphene ``bonds`` (nearest-neighbour C–C distances, Å). With two layers or
        more also ``twist_deg`` (between the first and last layers' lattices, degrees; NaN
        where one does not fit), ``order_parameters`` (|u| per site, Å), ``maps``
        (order-parameter and, for WS2, stacking maps on the image grid, if ``shape`` is
        given) and for WS2 with Se sites ``kde`` (Se-site against all-chalcogen-site
        distributions of u^{X/W}, with bootstrap MSE).
    """
    pix = pixel_size_angstrom
    out: dict[str, Any] = {}
    measured = atoms
    if undistort:
        measured, distortion = remove_scan_distortion(atoms)
        stretch = np.linalg.eigvalsh(distortion)
        out["scan_distortion"] = {"matrix": distortion.round(6).tolist(),
                                  "anisotropy_percent": float(100 * (stretch[1] / stretch[0] - 1))}
    xy = {layer: g for layer, g in measured.groupby("layer")}
    rows = []
    for layer, g in sorted(xy.items()):
        row = {"layer": layer, "atoms": len(g)}
        if material == "graphene":
            row["lattice_constant_angstrom"] = lattice_constant(
                g[["x_px", "y_px"]].to_numpy(), pix, "honeycomb")
        else:
            metal = g[g.species.isin(METALS)]
            row["lattice_constant_angstrom"] = lattice_constant(
                metal[["x_px", "y_px"]].to_numpy(), pix, "triangular")
            ends = VEGARD_ANGSTROM["Mo" if (metal.species == "Mo").mean() > 0.5 else "W"]
            ends = (a_ws2 or ends[0], a_wse2 or ends[1])
            row["vegard_se_fraction"] = vegard_se_fraction(row["lattice_constant_angstrom"],
                                                           *ends)
            row["vegard_a_s2_angstrom"], row["vegard_a_se2_angstrom"] = ends
            row["species_se_fraction"] = species_se_fraction(g.species)
        rows.append(row)
    out["lattice"] = pd.DataFrame(rows)
    out["bond_statistics"] = bond_table(measured, pix, material, max_angstrom=bond_max_angstrom)
    if material == "graphene":
        out["bonds"] = np.concatenate([
            neighbour_distances(g[["x_px", "y_px"]].to_numpy(), pix, 3, max_angstrom=2.0)
            for g in xy.values()]) if xy else np.empty(0)
    if len(xy) < 2:
        return out
    xy = {layer: g for layer, g in atoms.groupby("layer")}
    lower, upper = xy[min(xy)], xy[max(xy)]
    fits = [fit_lattice(g[["x_px", "y_px"]].to_numpy(float)) for g in (lower, upper)]
    out["twist_deg"] = twist_deg(*fits) if None not in fits else float("nan")
    maps: dict[str, np.ndarray] = {}
    if material == "graphene":
        pairs = {"u": (lower, upper)}
    else:
        low, up = lower.species.isin(METALS), upper.species.isin(METALS)
        pairs = {"u_WX": (lower[low], upper[~up]), "u_XW": (lower[~low], upper[up])}
    values = {}
    for name, (src, dst) in pairs.items():
        if len(src) < 4 or len(dst) < 1:
            continue
        values[name] = order_parameter(src[["x_px", "y_px"]], dst[["x_px", "y_px"]], pix)
        if shape is not None:
            maps[name] = order_parameter_map(src[["x_px", "y_px"]].to_numpy(), values[name], shape)
    if shape is not None and {"u_WX", "u_XW"} <= set(maps):
        tol = 0.25 * A_WS2_ANGSTROM
        stacking = local_stacking(maps["u_WX"], maps["u_XW"], tol).astype(float)
        stacking[~np.isfinite(maps["u_WX"] + maps["u_XW"])] = np.nan
        maps["stacking"] = stacking
    out["maps"] = maps
    out["order_parameters"] = values
    if material != "graphene" and "u_XW" in values:
        chalcogen = lower[~lower.species.isin(METALS)]
        se = chalcogen.species.isin(["SSe", "Se2"]).to_numpy()
        if 3 <= se.sum() < len(se):
            u = values["u_XW"]
            out["kde"] = {"se_sites": u[se], "all_sites": u,
                          **density_mse(u[se], u, seed=seed, n_boot=n_boot)}
    return out
