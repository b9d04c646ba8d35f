"""Lattice analyses of layer-resolved atom positions: bonds, lattice constants, Vegard's law,
moiré order parameters and bootstrap KDEs.

Positions come in pixels (x_px, y_px) and are converted with the pixel size in Å.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import griddata
from scipy.spatial import cKDTree
from scipy.stats import gaussian_kde, median_abs_deviation

from tmdlearn.constants import A_WS2_ANGSTROM, A_WSE2_ANGSTROM
from tmdlearn.stem.distortion import remove_scan_distortion


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


#: FWHM of a Gaussian in units of its σ: 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def kde_fwhm(samples: np.ndarray, points: int = 4096) -> float:
    """Full width at half maximum of a 1-D distribution.

    The density is a Gaussian KDE (Scott's bandwidth h); the width is read at half the highest
    peak, walking outward from it to the first points below half (linear interpolation), and
    the kernel's own width is removed in quadrature, sqrt(W² − (2.3548 h)²), which is exact for
    a Gaussian distribution.

    Parameters
    ----------
    samples : array_like
        Values (non-finite ones are ignored).
    points : int
        Points of the evaluation grid.

    Returns
    -------
    float
        FWHM in the unit of ``samples``; 0 for fewer than 3 samples or no spread.
    """
    samples = np.asarray(samples, float).ravel()
    samples = samples[np.isfinite(samples)]
    if len(samples) < 3 or np.ptp(samples) <= 1e-9 * max(np.abs(samples).max(), 1.0):
        return 0.0
    kde = gaussian_kde(samples)
    h = float(np.sqrt(kde.covariance[0, 0]))
    grid = np.linspace(samples.min() - 3 * h, samples.max() + 3 * h, points)
    density = kde(grid)
    peak = int(np.argmax(density))
    below = density < density[peak] / 2
    left = peak - int(np.argmax(below[peak::-1]))
    right = peak + int(np.argmax(below[peak:]))

    def crossing(i: int, j: int) -> float:  # half-maximum between grid points i and j
        half = density[peak] / 2
        return float(grid[i] + (half - density[i]) / (density[j] - density[i])
                     * (grid[j] - grid[i]))

    width = crossing(right, right - 1) - crossing(left, left + 1)
    return float(np.sqrt(max(width ** 2 - (FWHM_PER_SIGMA * h) ** 2, 0.0)))


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


def lattice_constant(xy_px: np.ndarray, pixel_size_angstrom: float,
                     sublattice: str = "triangular") -> float:
    """Lattice constant (Å) from the median distance to the first neighbour shell.

    All shell distances count (not only the nearest, which is biased short by position noise);
    distances beyond 1.25 x the median nearest one (missing neighbours at edges and vacancies)
    are dropped.

    Parameters
    ----------
    xy_px : (N, 2) array
        Site positions (px).
    pixel_size_angstrom : float
        Pixel size (Å/px).
    sublattice : str
        "triangular" (one atom per cell: W sites, 6 neighbours at a) or "honeycomb" (graphene
        C sites: 3 neighbours at a / sqrt(3)).

    Returns
    -------
    float
        Lattice constant a (Å); NaN without neighbours.
    """
    k, factor = {"triangular": (6, 1.0), "honeycomb": (3, np.sqrt(3.0))}[sublattice]
    nearest = neighbour_distances(xy_px, pixel_size_angstrom, k=1)
    if not nearest.size:
        return float("nan")
    shell = neighbour_distances(xy_px, pixel_size_angstrom, k=k,
                                max_angstrom=1.25 * float(np.median(nearest)))
    return float(np.median(shell) * factor)


def vegard_se_fraction(a_angstrom: float, a_ws2: float = A_WS2_ANGSTROM,
                       a_wse2: float = A_WSE2_ANGSTROM) -> float:
    """Se fraction x of WS2(1-x)Se2x from its lattice constant by Vegard's law (not clipped).

    Parameters
    ----------
    a_angstrom : float
        Measured lattice constant (Å).
    a_ws2, a_wse2 : float
        Lattice constants of WS2 and WSe2 (Å).

    Returns
    -------
    float
        x (0: WS2, 1: WSe2).
    """
    return (a_angstrom - a_ws2) / (a_wse2 - a_ws2)


#: Se atoms in a chalcogen column of each species (two chalcogen atoms per column).
SE_PER_COLUMN = {"S2": 0, "SSe": 1, "Se2": 2}


def species_se_fraction(species: pd.Series | np.ndarray) -> float:
    """Se fraction x of WS2(1-x)Se2x counted from column species (W, S2, SSe, Se2): Se atoms
    over all chalcogen atoms.

    Parameters
    ----------
    species : Series or array of str
        Column species; W columns do not count.

    Returns
    -------
    float
        x in [0, 1]; NaN without chalcogen columns.
    """
    counts = pd.Series(np.asarray(species)).map(SE_PER_COLUMN).dropna()
    return float(counts.sum() / (2 * len(counts))) if len(counts) else float("nan")


def order_parameter(from_xy_px: np.ndarray, to_xy_px: np.ndarray,
                    pixel_size_angstrom: float) -> np.ndarray:
    """|u| (Å) at each site of one layer: distance to the nearest chosen site of the other.

    With W sites of the lower layer and chalcogen sites of the upper one this is u^{W/X};
    swapping gives u^{X/W}; for graphene, layer 0 against layer 1 gives the AA (u = 0) to
    AB/BA (u = 1.42 Å) stacking coordinate.

    Parameters
    ----------
    from_xy_px : (N, 2) array
        Sites (px) where u is measured.
    to_xy_px : (M, 2) array
        Sites (px) of the other layer.
    pixel_size_angstrom : float
        Pixel size (Å/px).

    Returns
    -------
    (N,) ndarray
        |u| (Å).
    """
    to = np.asarray(to_xy_px, float).reshape(-1, 2) * pixel_size_angstrom
    dist, _ = cKDTree(to).query(np.asarray(from_xy_px, float).reshape(-1, 2) * pixel_size_angstrom)
    return dist


def order_parameter_map(xy_px: np.ndarray, values: np.ndarray, shape: tuple[int, int],
                        smooth_px: float = 0.0) -> np.ndarray:
    """Values at scattered sites interpolated (linear) onto the image grid (NaN outside).

    Parameters
    ----------
    xy_px : (N, 2) array
        Site positions (x, y) in pixels.
    values : (N,) array
        Values at the sites (e.g. |u| in Å).
    shape : tuple of int
        (H, W) of the image grid.
    smooth_px : float
        Gaussian smoothing σ (px) of the map inside the sites' hull; 0 for none.

    Returns
    -------
    (H, W) ndarray
        In the unit of ``values``, NaN outside the sites' convex hull.
    """
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    grid = griddata(np.asarray(xy_px, float), np.asarray(values, float), (xx, yy), "linear")
    if smooth_px > 0:
        from scipy.ndimage import gaussian_filter

        filled = np.where(np.isfinite(grid), grid, np.nanmean(grid))
        grid = np.where(np.isfinite(grid), gaussian_filter(filled, smooth_px), np.nan)
    return grid


def local_stacking(u_wx: np.ndarray, u_xw: np.ndarray, tolerance_angstrom: float) -> np.ndarray:
    """Stacking label per site from the two order parameters: 0 = W on X (u^{W/X} ≈ 0),
    1 = X on W (u^{X/W} ≈ 0), 2 = neither.

    Parameters
    ----------
    u_wx, u_xw : array
        Order parameters u^{W/X} and u^{X/W} (Å), same shape.
    tolerance_angstrom : float
        u below it counts as ≈ 0 (Å); where both are, the label is 0.

    Returns
    -------
    ndarray of int
        Labels, shape of ``u_wx``.
    """
    label = np.full(np.shape(u_wx), 2)
    label[np.asarray(u_xw) < tolerance_angstrom] = 1
    label[np.asarray(u_wx) < tolerance_angstrom] = 0
    return label


def bootstrap_kde(samples: np.ndarray, grid: np.ndarray, n_boot: int = 1000,
                  seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian KDE of 1-D ``samples`` on ``grid`` and its bootstrap resamples.

    The bandwidth is scipy's Scott-rule bandwidth of the full sample, kept for every resample,
    so a resample's density is a weighted sum of the same kernels (one matrix product for all
    ``n_boot`` resamples).

    Parameters
    ----------
    samples : (N,) array
        The sample.
    grid : (G,) array
        Evaluation points, in the unit of ``samples``.
    n_boot : int
        Resamples.
    seed : int or Generator
        Seed of the resampling.

    Returns
    -------
    density : (G,) ndarray
        KDE of the full sample (per unit of ``samples``).
    resampled : (n_boot, G) ndarray
        KDEs of the resamples.
    """
    rng = np.random.default_rng(seed)
    samples = np.asarray(samples, float).ravel()
    kde = gaussian_kde(samples)
    full = kde(grid)
    width = float(np.sqrt(kde.covariance[0, 0]))
    kernels = np.exp(-0.5 * ((np.asarray(grid)[None, :] - samples[:, None]) / width) ** 2)
    kernels /= width * np.sqrt(2 * np.pi)
    counts = np.stack([np.bincount(rng.integers(0, len(samples), len(samples)),
                                   minlength=len(samples)) for _ in range(n_boot)])
    return full, counts @ kernels / len(samples)


def density_mse(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 1000,
                points: int = 200) -> dict[str, float]:
    """Mean squared difference between the KDEs of two samples, with a bootstrap 95 % interval.

    Used to compare where Se sits with where the moiré puts sites (same order-parameter axis).

    Parameters
    ----------
    a, b : (N,) array
        The two samples (same unit).
    seed : int
        Seed of ``a``'s resampling (``b`` uses ``seed + 1``).
    n_boot : int
        Resamples.
    points : int
        Grid points spanning both samples.

    Returns
    -------
    dict
        ``mse`` and its 2.5 / 97.5 percentiles ``mse_low``, ``mse_high`` (squared density
        units).
    """
    lo = min(np.min(a), np.min(b))
    hi = max(np.max(a), np.max(b))
    grid = np.linspace(lo, hi, points)
    fa, ba = bootstrap_kde(a, grid, n_boot, seed)
    fb, bb = bootstrap_kde(b, grid, n_boot, seed + 1)
    boots = ((ba - bb) ** 2).mean(axis=1)
    return {"mse": float(((fa - fb) ** 2).mean()), "mse_low": float(np.percentile(boots, 2.5)),
            "mse_high": float(np.percentile(boots, 97.5))}


def layer_bond_distances(layer_atoms: pd.DataFrame, pixel_size_angstrom: float,
                         material: str = "graphene", k: int = 2) -> np.ndarray:
    """The bond statistic's distances (Å) of one layer's atoms: every atom's ``k`` nearest
    neighbours; graphene among all atoms (C–C), WS2 across the W and chalcogen columns (W–X:
    W sites to chalcogen columns and chalcogen columns to W sites).

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
    metal = (layer_atoms.species == "W").to_numpy()
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


def analyse_atoms(atoms: pd.DataFrame, pixel_size_angstrom: float, material: str = "graphene",
                  shape: tuple[int, int] | None = None, n_boot: int = 1000,
                  seed: int = 0, a_ws2: float = A_WS2_ANGSTROM,
                  a_wse2: float = A_WSE2_ANGSTROM,
                  bond_max_angstrom: float | None = None, undistort: bool = True
                  ) -> dict[str, Any]:
    """All analyses of one image's layer-resolved atoms.

    With ``undistort`` the lattice constants and bond statistics are measured after the scan
    distortion that the layers' honeycombs share is removed
    (:func:`tmdlearn.stem.distortion.scan_distortion`); the maps stay on the image grid.

    Parameters
    ----------
    atoms : DataFrame
        Atoms, columns x_px, y_px (px), layer and species.
    pixel_size_angstrom : float
        Pixel size (Å/px).
    material : str
        "graphene" or "ws2".
    shape : tuple of int, optional
        (H, W) of the image; the order-parameter maps are made only when given.
    n_boot : int
        Bootstrap resamples of the KDE comparison.
    seed : int
        Seed of the bootstrap.
    a_ws2, a_wse2 : float
        Lattice constants (Å) of Vegard's law.
    bond_max_angstrom : float, optional
        Bond distances above it (Å) are left out of ``bond_statistics``.
    undistort : bool
        Remove the shared scan distortion before measuring.

    Returns
    -------
    dict
        ``lattice`` (table per layer: atoms, lattice constant Å, and for WS2 the Vegard Se
        fraction and the Se fraction counted from the column species); ``bond_statistics``
        (:func:`bond_table`: two nearest neighbours per atom, mean and FWHM per layer and
        pooled); ``scan_distortion`` (with ``undistort``: the matrix and its anisotropy in per
        cent); for graphene ``bonds`` (nearest-neighbour C–C distances, Å). With two layers or
        more also ``order_parameters`` (|u| per site, Å), ``maps`` (order-parameter and, for
        WS2, stacking maps on the image grid, if ``shape`` is given) and for WS2 with Se sites
        ``kde`` (Se-site against all-chalcogen-site distributions of u^{X/W}, with bootstrap
        MSE).
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
    metal = "C" if material == "graphene" else "W"
    for layer, g in sorted(xy.items()):
        sites = g[g.species == metal][["x_px", "y_px"]].to_numpy()
        row = {"layer": layer, "atoms": len(g)}
        if material == "graphene":
            row["lattice_constant_angstrom"] = lattice_constant(sites, pix, "honeycomb")
        else:
            row["lattice_constant_angstrom"] = lattice_constant(sites, pix, "triangular")
            row["vegard_se_fraction"] = vegard_se_fraction(row["lattice_constant_angstrom"],
                                                           a_ws2, a_wse2)
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
    maps: dict[str, np.ndarray] = {}
    if material == "graphene":
        pairs = {"u": (lower, upper)}
    else:
        pairs = {"u_WX": (lower[lower.species == "W"], upper[upper.species != "W"]),
                 "u_XW": (lower[lower.species != "W"], upper[upper.species == "W"])}
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
        chalcogen = lower[lower.species != "W"]
        se = chalcogen.species.isin(["SSe", "Se2"]).to_numpy()
        if 3 <= se.sum() < len(se):
            u = values["u_XW"]
            out["kde"] = {"se_sites": u[se], "all_sites": u,
                          **density_mse(u[se], u, seed=seed, n_boot=n_boot)}
    return out
