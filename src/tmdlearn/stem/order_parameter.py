"""Moiré order parameters of a bilayer: |u| (Å), each site's distance to the nearest chosen
site of the other layer, interpolated onto the image grid, and the local stacking it implies.

Positions come in pixels (x_px, y_px) and are converted with the pixel size in Å.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import griddata
from scipy.spatial import cKDTree


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
