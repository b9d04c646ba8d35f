"""Levelling of AFM height maps (heights in nm, fast scan along rows): plane fit, per-line
polynomial flattening (NanoScope "flatten", orders 0-2), the two-pass variant that masks raised
features before refitting (as TopoStats does), row alignment, scar removal, zeroing, clipping to a
height window and resizing for CNN input.

All functions take and return 2-D float arrays; masks are boolean arrays of the same shape whose
True pixels are *excluded* from the fits.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.transform import resize

from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError


def _image(h) -> np.ndarray:
    h = np.asarray(h, dtype=float)
    if h.ndim != 2:
        raise InputError(f"a height map must be 2-D, got shape {h.shape}")
    return h


def plane_fit(h: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Subtract the least-squares plane z = a + b x + c y fitted to the pixels outside ``mask``."""
    h = _image(h)
    ny, nx = h.shape
    y, x = np.mgrid[0:ny, 0:nx]
    use = np.isfinite(h) if mask is None else np.isfinite(h) & ~mask
    if use.sum() < 3:
        use = np.isfinite(h)
    design = np.column_stack([np.ones(use.sum()), x[use], y[use]])
    coef, *_ = np.linalg.lstsq(design, h[use], rcond=None)
    return h - (coef[0] + coef[1] * x + coef[2] * y)


def flatten_lines(h: np.ndarray, order: int = 1, mask: np.ndarray | None = None,
                  min_points: int = 8) -> np.ndarray:
    """Subtract from every scan line (row) its own least-squares polynomial of ``order`` 0-2.

    Pixels in ``mask`` are left out of the fits. A line with fewer than ``max(min_points,
    order + 1)`` usable pixels gets the polynomial interpolated from its nearest fitted lines.
    """
    h = _image(h)
    if order not in (0, 1, 2):
        raise InputError(f"line flattening order must be 0, 1 or 2, got {order}")
    ny, nx = h.shape
    x = np.linspace(-1.0, 1.0, nx)
    basis = np.vander(x, order + 1, increasing=True)  # (nx, k)
    weight = np.isfinite(h).astype(float)
    if mask is not None:
        weight[mask] = 0.0
    values = np.nan_to_num(h)
    gram = np.einsum("rx,xi,xj->rij", weight, basis, basis)
    rhs = np.einsum("rx,xi->ri", weight * values, basis)
    good = weight.sum(axis=1) >= max(min_points, order + 1)
    coef = np.zeros((ny, order + 1))
    if good.any():
        coef[good] = np.linalg.solve(gram[good] + 1e-9 * np.eye(order + 1), rhs[good][..., None])[..., 0]
        if not good.all():
            rows = np.arange(ny)
            for k in range(order + 1):
                coef[~good, k] = np.interp(rows[~good], rows[good], coef[good, k])
    return h - coef @ basis.T


def align_rows(h: np.ndarray, quantile: float = 0.5, mask: np.ndarray | None = None) -> np.ndarray:
    """Remove line offsets: subtract from each row its ``quantile`` (median by default, as
    TopoStats' ``row_alignment_quantile``) over the pixels outside ``mask``."""
    h = _image(h)
    values = np.where(mask, np.nan, h) if mask is not None else h
    offsets = np.nanquantile(values, quantile, axis=1)
    fallback = np.nanquantile(h, quantile, axis=1)
    offsets = np.where(np.isfinite(offsets), offsets, fallback)
    return h - offsets[:, None]


def otsu_in_window(values: np.ndarray, window_nm: float = 1.5) -> float:
    """Otsu threshold of heights clipped to median ± ``window_nm`` nm, so that tall particles do
    not pull the threshold away from the substrate/film step."""
    values = values[np.isfinite(values)]
    centre = np.median(values)
    return float(threshold_otsu(np.clip(values, centre - window_nm, centre + window_nm)))


def feature_mask(h: np.ndarray, threshold: str | float = "otsu", dilation_px: int = 2) -> np.ndarray:
    """Raised features of a first-pass levelled image: pixels above the Otsu threshold
    (``threshold="otsu"``, :func:`otsu_in_window`) or above ``median + threshold * std`` (a
    number: TopoStats uses 1.0), grown by ``dilation_px`` pixels so feature edges stay out of the
    refit."""
    h = _image(h)
    finite = h[np.isfinite(h)]
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise InputError(f"threshold must be 'otsu' or a number, got {threshold!r}")
        level = otsu_in_window(finite)
    else:
        level = np.median(finite) + float(threshold) * finite.std()
    mask = np.nan_to_num(h, nan=-np.inf) > level
    if dilation_px > 0:
        mask = ndimage.binary_dilation(mask, iterations=dilation_px)
    return mask


def flatten_two_pass(h: np.ndarray, order: int = 2, threshold: str | float = "otsu",
                     dilation_px: int = 2, passes: int = 2) -> np.ndarray:
    """Two-pass levelling: plane fit and line flattening, then mask raised features
    (:func:`feature_mask`) and redo both fits without them.

    Unlike a plain masked refit, the first raised level (a film one layer above the substrate)
    is kept in the refit with its height offset estimated and subtracted, so lines that are
    almost fully covered still have points; pixels near feature edges (``dilation_px``) and
    anything higher than the first level (second layers, particles) stay masked. ``passes``
    refits refine the masks.
    """
    h = _image(h)
    out = flatten_lines(plane_fit(h), order=order)
    for _ in range(passes):
        raised = feature_mask(out, threshold, dilation_px=0)
        band = np.zeros_like(raised)
        if dilation_px > 0:
            band = ndimage.binary_dilation(raised, iterations=dilation_px) & ~ndimage.binary_erosion(
                raised, iterations=dilation_px, border_value=1)
        substrate = ~raised & ~band & np.isfinite(out)
        if not substrate.any():
            break
        base = np.median(out[substrate])
        cut = otsu_in_window(out) if isinstance(threshold, str) else out[raised].min()
        first = raised & ~band & (out < base + 2.0 * (cut - base) * 1.5)
        step = np.median(out[first]) - base if first.any() else 0.0
        skip = band | (raised & ~first)
        flat = np.where(first, h - step, h)
        out = flatten_lines(plane_fit(flat, skip), order=order, mask=skip) + step * first
    return out


def remove_scars(h: np.ndarray, threshold_nm: float = 0.666, max_width: int = 4,
                 min_length: int = 16) -> np.ndarray:
    """Replace scars (streaks along the fast-scan axis, 1 to ``max_width`` lines thick and at
    least ``min_length`` pixels long, standing more than ``threshold_nm`` above or below both the
    line before and the line after) by linear interpolation between those two lines.

    Defaults are TopoStats' (threshold 0.666, max width 4 lines, min length 16 pixels).
    """
    h = _image(h).copy()
    ny = h.shape[0]
    along_rows = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    for width in range(1, min(max_width, ny - 2) + 1):
        above, below = h[: ny - width - 1], h[width + 1:]
        bands = np.stack([h[1 + j: ny - width + j] for j in range(width)])
        for sign in (1.0, -1.0):
            scar = np.all(sign * (bands - above) > threshold_nm, axis=0)
            scar &= np.all(sign * (bands - below) > threshold_nm, axis=0)
            labels, _ = ndimage.label(scar, structure=along_rows)
            long_runs = np.flatnonzero(np.bincount(labels.ravel()) >= min_length)
            tops, cols = np.nonzero(np.isin(labels, long_runs[long_runs > 0]))
            for j in range(width):
                t = (j + 1) / (width + 1)
                h[tops + 1 + j, cols] = above[tops, cols] * (1 - t) + below[tops, cols] * t
    return h


def zero_height(h: np.ndarray, mask: np.ndarray | None = None, stat: str = "median") -> np.ndarray:
    """Shift heights so that the ``stat`` ("median", "mean" or "min") of the pixels selected by
    ``mask`` (all pixels when None; e.g. the substrate) is 0 nm."""
    h = _image(h)
    ref = h[mask] if mask is not None and mask.any() else h
    funcs = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin}
    if stat not in funcs:
        raise InputError(f"stat must be one of {', '.join(funcs)}, got {stat!r}")
    return h - funcs[stat](ref)


def clip_height(h: np.ndarray, window_nm: float = 1.5) -> np.ndarray:
    """Clip heights to [-window_nm, window_nm] nm (±1.5 nm in the MoS2 study)."""
    if not window_nm > 0:
        raise InputError(f"window_nm must be positive, got {window_nm}")
    return np.clip(_image(h), -window_nm, window_nm)


def resize_image(h: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize to ``size`` x ``size`` pixels (antialiased, values kept in nm) for CNN input."""
    return resize(_image(h), (size, size), order=1, anti_aliasing=True, preserve_range=True)


def level(h, method: str = "two-pass", order: int = 2, threshold: str | float = "otsu",
          scars: bool = True, zero: str = "substrate"):
    """The default levelling pipeline; array in, array out (a :class:`HeightMap` gives one back).

    Parameters
    ----------
    method : "two-pass" (default), "lines" (plane + line flattening) or "plane".
    order : line polynomial order 0-2 (2 removes the scanner bow along the fast axis).
    threshold : feature mask of the two-pass method ("otsu" or a number of std devs).
    scars : remove scars after flattening (:func:`remove_scars`, TopoStats defaults).
    zero : "substrate" (median of the pixels below the Otsu threshold is 0 nm), "median",
        or "none".
    """
    if isinstance(h, HeightMap):
        return h.with_values(level(h.height_nm, method, order, threshold, scars, zero))
    if method == "two-pass":
        out = flatten_two_pass(h, order=order, threshold=threshold)
    elif method == "lines":
        out = flatten_lines(plane_fit(h), order=order)
    elif method == "plane":
        out = plane_fit(h)
    else:
        raise InputError(f"method must be 'two-pass', 'lines' or 'plane', got {method!r}")
    if scars:
        out = remove_scars(out)
    if zero == "substrate":
        out = zero_height(out, mask=~feature_mask(out, "otsu", dilation_px=0))
    elif zero == "median":
        out = zero_height(out)
    elif zero != "none":
        raise InputError(f"zero must be 'substrate', 'median' or 'none', got {zero!r}")
    return out
