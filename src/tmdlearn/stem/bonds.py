"""Bond statistics of layer-resolved atom positions: distances to the nearest neighbours (Å),
their mean, median, spread and FWHM, per layer and pooled (the Gomb-Net study's bond statistic).

Positions come in pixels (x_px, y_px) and are converted with the pixel size in Å.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import median_abs_deviation

from tmdlearn.constants import METALS
from tmdlearn.stem.densities import FWHM_PER_SIGMA, kde_fwhm


def neighbour_distances(xy_px: np.ndarray, pixel_size_angstrom: float, k: int = 3,
                        max_angstrom: float | None = None,
                        to_xy_px: np.ndarray | None = None) -> np.ndarray:
    """Distances (Å) from every atom to its ``k`` nearest neighbours, flattened.

    For graphene k = 3 gives the C–C bonds (1.42 Å).

    Parameters
    ----------
    xy_px : (N, 2) array
        Atom positions (x, y) in pixels.
    pixel_size_angstrom : float
        Pixel size (Å/px).
    k : int
        Neighbours per atom.
    max_angstrom : float, optional
        Longer distances (edges, vacancies) are dropped (Å).
    to_xy_px : (M, 2) array, optional
        Takes the neighbours from another set of atoms (px; e.g. the chalcogen columns of a W
        site) instead of the others of ``xy_px``.

    Returns
    -------
    (N * k,) ndarray
        Distances (Å), fewer when some are dropped; empty when there are too few atoms.
    """
    xy = np.asarray(xy_px, float).reshape(-1, 2) * pixel_size_angstrom
    to = xy if to_xy_px is None else np.asarray(to_xy_px, float).reshape(-1, 2)
    to = to if to_xy_px is None else to * pixel_size_angstrom
    skip = 1 if to_xy_px is None else 0
    if len(xy) == 0 or len(to) < k + skip:
        return np.empty(0)
    dist, _ = cKDTree(to).query(xy, k=k + skip)
    dist = dist.reshape(len(xy), -1)[:, skip:].ravel()
    return dist if max_angstrom is None else dist[dist <= max_angstrom]


def distance_statistics(distances_angstrom: np.ndarray,
                        max_angstrom: float | None = None) -> dict[str, float]:
    """Count, mean, median, standard deviation and two FWHMs (Å) of a set of distances.

    ``fwhm_angstrom`` is :func:`kde_fwhm`; ``fwhm_robust_angstrom`` 2.3548 × the robust σ
    (1.4826 × the median absolute deviation), a cross-check that outliers do not move.

    Parameters
    ----------
    distances_angstrom : array_like
        Distances (Å).
    max_angstrom : float, optional
        Longer distances (Å) are left out first and counted in ``dropped``.

    Returns
    -------
    dict
        ``distances``, ``dropped``, ``mean_angstrom``, ``median_angstrom``, ``std_angstrom``,
        ``fwhm_angstrom``, ``fwhm_robust_angstrom`` (NaN when nothing is kept).
    """
    d = np.asarray(distances_angstrom, float).ravel()
    kept = d if max_angstrom is None else d[d <= max_angstrom]
    counts = {"distances": len(kept), "dropped": len(d) - len(kept)}
    if not len(kept):
        nan = float("nan")
        return {**counts, "mean_angstrom": nan, "median_angstrom": nan, "std_angstrom": nan,
                "fwhm_angstrom": nan, "fwhm_robust_angstrom": nan}
    robust_sigma = float(median_abs_deviation(kept, scale="normal"))
    return {**counts, "mean_angstrom": float(kept.mean()),
            "median_angstrom": float(np.median(kept)), "std_angstrom": float(kept.std()),
            "fwhm_angstrom": kde_fwhm(kept),
            "fwhm_robust_angstrom": float(FWHM_PER_SIGMA * robust_sigma)}


def bond_statistics(xy_px: np.ndarray, pixel_size_angstrom: float, k: int = 2,
                    to_xy_px: np.ndarray | None = None,
                    max_angstrom: float | None = None) -> dict[str, float]:
    """The Gomb-Net study's bond statistic of one layer: the distances (Å) from every atom to
    its ``k`` = 2 nearest neighbours, pooled; their :func:`distance_statistics` and ``atoms``.

    By default nothing is dropped, as in the study, so false or missing atoms and atoms at the
    image edge (neighbours outside the field) show in the mean. With isotropic position noise σ
    the two shortest of an atom's three bonds average about 0.67 σ below the bond
    (docs/stem.md).

    Parameters
    ----------
    xy_px : (N, 2) array
        The layer's positions (px).
    pixel_size_angstrom : float
        Pixel size (Å/px).
    k : int
        Neighbours per atom.
    to_xy_px : (M, 2) array, optional
        Takes the neighbours from another set (px; WS2: chalcogen columns for W sites, and the
        reverse, for W–X bonds).
    max_angstrom : float, optional
        Longer distances (Å) are dropped (``dropped`` counts them).

    Returns
    -------
    dict
        ``atoms`` and the entries of :func:`distance_statistics` (Å).
    """
    xy = np.asarray(xy_px, float).reshape(-1, 2)
    distances = neighbour_distances(xy, pixel_size_angstrom, k, to_xy_px=to_xy_px)
    return {"atoms": len(xy), **distance_statistics(distances, max_angstrom)}


def layer_bond_distances(layer_atoms: pd.DataFrame, pixel_size_angstrom: float,
                         material: str = "graphene", k: int = 2) -> np.ndarray:
    """The bond statistic's distances (Å) of one layer's atoms: every atom's ``k`` nearest
    neighbours; graphene among all atoms (C–C), a TMD across the metal and chalcogen columns
    (M–X: metal sites to chalcogen columns and chalcogen columns to metal sites).

    Parameters
    ----------
    layer_atoms : DataFrame
        One layer's atoms, columns x_px, y_px (px) and species.
    pixel_size_angstrom : float
        Pixel size (Å/px).
    material : str
        "graphene" or "ws2" (anything else is read as WS2).
    k : int
        Neighbours per atom.

    Returns
    -------
    ndarray
        Distances (Å).
    """
    xy = layer_atoms[["x_px", "y_px"]].to_numpy(float)
    if material == "graphene":
        return neighbour_distances(xy, pixel_size_angstrom, k)
    metal = layer_atoms.species.isin(METALS).to_numpy()
    return np.concatenate([neighbour_distances(xy[metal], pixel_size_angstrom, k,
                                               to_xy_px=xy[~metal]),
                           neighbour_distances(xy[~metal], pixel_size_angstrom, k,
                                               to_xy_px=xy[metal])])


def bond_table(atoms: pd.DataFrame, pixel_size_angstrom: float, material: str = "graphene",
               k: int = 2, max_angstrom: float | None = None) -> pd.DataFrame:
    """:func:`distance_statistics` of :func:`layer_bond_distances` per layer and pooled over the
    layers (layer "all"), with each row's atom count: the Gomb-Net study's mean and FWHM.

    Parameters
    ----------
    atoms : DataFrame
        Atoms, columns x_px, y_px (px), layer and species.
    pixel_size_angstrom : float
        Pixel size (Å/px).
    material : str
        "graphene" or "ws2" (:func:`layer_bond_distances`).
    k : int
        Neighbours per atom.
    max_angstrom : float, optional
        Longer distances (Å) are left out.

    Returns
    -------
    DataFrame
        One row per layer and one for "all": ``layer``, ``atoms`` and the
        :func:`distance_statistics` columns (Å).
    """
    rows, pooled = [], []
    for layer, g in sorted(atoms.groupby("layer")):
        distances = layer_bond_distances(g, pixel_size_angstrom, material, k)
        pooled.append(distances)
        rows.append({"layer": layer, "atoms": len(g),
                     **distance_statistics(distances, max_angstrom)})
    everything = np.concatenate(pooled) if pooled else np.empty(0)
    rows.append({"layer": "all", "atoms": len(atoms),
                 **distance_statistics(everything, max_angstrom)})
    return pd.DataFrame(rows)
