"""Levelling of AFM height maps (heights in nm, fast scan along rows): plane fit, per-line
polynomial flattening (NanoScope "flatten", orders 0-2), the two-pass variant that masks raised
features before refitting (as TopoStats does), row alignment, scar removal, zeroing, clipping to a
height window and resizing for CNN input.

All functions take and return 2-D float arrays; masks are boolean arrays of the same shape whose
True pixels are *excluded* from the fits.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks
from skimage.filters import threshold_otsu
from skimage.transform import resize

from tmdlearn.afm.shifts import dilate_cross, long_row_runs, window3_nonconstant
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError


def _nanmedian(a: np.ndarray, axis: int | None = None):
    """np.nanmedian, through np.median's faster path when ``a`` holds no NaN."""
    return np.nanmedian(a, axis=axis) if np.isnan(a).any() else np.median(a, axis=axis)


def _nan_to_num(a: np.ndarray) -> np.ndarray:
    """np.nan_to_num, skipped when ``a`` is all finite."""
    return a if np.isfinite(a).all() else np.nan_to_num(a)


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for evenly spaced ``edges``, without numpy's sort:
    each value's bin from its offset, corrected against the actual edges.

    Parameters
    ----------
    values : ndarray
        Values (any shape is read flat; NaN falls in no bin).
    edges : (B + 1,) array
        Evenly spaced, increasing bin edges; the last bin includes its right edge.

    Returns
    -------
    (B,) ndarray of int
        Counts per bin.
    """
    step = (edges[-1] - edges[0]) / (len(edges) - 1)
    inside = values[(values >= edges[0]) & (values <= edges[-1])]
    index = np.clip(((inside - edges[0]) / step).astype(np.intp), 0, len(edges) - 2)
    index -= inside < edges[index]
    index += (inside >= edges[index + 1]) & (index < len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1)


def _image(h) -> np.ndarray:
    h = np.asarray(h, dtype=float)
    if h.ndim != 2:
        raise InputError(f"a height map must be 2-D, got shape {h.shape}")
    return h


def _powers(n: int, degree: int) -> np.ndarray:
    """(n, degree + 1) powers 0..degree of n coordinates evenly spaced over [-1, 1]."""
    return np.vander(np.linspace(-1.0, 1.0, n), degree + 1, increasing=True)


@numba.njit(cache=True, nogil=True)
def _weighted_sums(h, use, extra, xp, yp, order):
    """Sums over the pixels in ``use`` of y^b x^a (a, b <= 2 order), h y^j x^i and extra y^j x^i
    (i, j <= order), extra² and h extra, accumulated row by row (``extra`` of shape (0, 0):
    none)."""
    ny, nx = h.shape
    deg, has_extra = 2 * order, extra.shape[0] == ny
    moments, hx = np.zeros((deg + 1, deg + 1)), np.zeros((order + 1, order + 1))
    ex = np.zeros((order + 1, order + 1))
    kk = hk = 0.0
    rw, rh, rk = np.empty(deg + 1), np.empty(order + 1), np.empty(order + 1)
    for r in range(ny):
        rw[:], rh[:], rk[:] = 0.0, 0.0, 0.0
        for c in range(nx):
            if not use[r, c]:
                continue
            v = h[r, c]
            for a in range(deg + 1):
                rw[a] += xp[c, a]
            for a in range(order + 1):
                rh[a] += v * xp[c, a]
            if has_extra:
                k = extra[r, c]
                for a in range(order + 1):
                    rk[a] += k * xp[c, a]
                kk += k * k
                hk += v * k
        for b in range(deg + 1):
            for a in range(deg + 1):
                moments[b, a] += yp[r, b] * rw[a]
        for b in range(order + 1):
            for a in range(order + 1):
                hx[b, a] += yp[r, b] * rh[a]
                ex[b, a] += yp[r, b] * rk[a]
    return moments, hx, ex, kk, hk


def _fit_surface(h: np.ndarray, use: np.ndarray, order: int,
                 extra: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Least-squares polynomial surface of total ``order`` in x (columns) and y (rows), plus
    ``extra`` times a free coefficient when given, fitted to the pixels in ``use``.

    Solves the normal equations, whose sums over the image separate into sums along each row
    times powers of y, in one pass and without a design matrix of one row per pixel. Returns
    (the surface on the whole image, the ``extra`` coefficient or 0).
    """
    ny, nx = h.shape
    xp, yp = _powers(nx, 2 * order), _powers(ny, 2 * order)
    moments, hx, ex, kk, hk = _weighted_sums(
        np.ascontiguousarray(h, dtype=float), np.ascontiguousarray(use),
        np.zeros((0, 0)) if extra is None else np.ascontiguousarray(extra, dtype=float),
        xp, yp, order)
    pairs = [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]
    gram = np.array([[moments[j + jj, i + ii] for ii, jj in pairs] for i, j in pairs])
    rhs = np.array([hx[j, i] for i, j in pairs])
    if extra is not None:
        column = np.array([ex[j, i] for i, j in pairs])
        gram = np.block([[gram, column[:, None]], [column[None, :], np.array([[kk]])]])
        rhs = np.append(rhs, hk)
    coef = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    table = np.zeros((order + 1, order + 1))
    for (i, j), c in zip(pairs, coef[:len(pairs)], strict=True):
        table[j, i] = c
    surface = yp[:, :order + 1] @ table @ xp[:, :order + 1].T
    return surface, float(coef[-1]) if extra is not None else 0.0


def plane_fit(h: np.ndarray, mask: np.ndarray | None = None, order: int = 1) -> np.ndarray:
    """Subtract the least-squares polynomial surface of total ``order`` in x and y fitted to
    the pixels outside ``mask``.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm); NaN pixels are left out of the fit.
    mask : (H, W) bool array, optional
        Pixels left out of the fit; ignored when it leaves fewer than (order + 1)(order + 2)
        pixels.
    order : int
        1: the plane z = a + b x + c y; 2 adds x², xy, y² for scanner bow.

    Returns
    -------
    (H, W) ndarray
        Heights (nm) minus the surface.
    """
    h = _image(h)
    use = np.isfinite(h) if mask is None else np.isfinite(h) & ~mask
    if use.sum() < (order + 1) * (order + 2):
        use = np.isfinite(h)
    return h - _fit_surface(h, use, order)[0]


def flatten_lines(h: np.ndarray, order: int = 1, mask: np.ndarray | None = None,
                  min_points: int = 8) -> np.ndarray:
    """Subtract from every scan line (row) its own least-squares polynomial of ``order`` 0-2.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm), fast scan along rows; NaN pixels are left out of the fits.
    order : int
        Polynomial order, 0, 1 or 2.
    mask : (H, W) bool array, optional
        Pixels left out of the fits.
    min_points : int
        A line with fewer than ``max(min_points, order + 1)`` usable pixels gets the polynomial
        interpolated from its nearest fitted lines.

    Returns
    -------
    (H, W) ndarray
        Flattened heights (nm).
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
    values = _nan_to_num(h)
    gram = (weight @ (basis[:, :, None] * basis[:, None, :]).reshape(nx, -1)).reshape(
        ny, order + 1, order + 1)
    rhs = (weight * values) @ basis
    good = weight.sum(axis=1) >= max(min_points, order + 1)
    coef = np.zeros((ny, order + 1))
    if good.any():
        lhs = gram[good] + 1e-9 * np.eye(order + 1)
        coef[good] = np.linalg.solve(lhs, rhs[good][..., None])[..., 0]
        if not good.all():
            rows = np.arange(ny)
            for k in range(order + 1):
                coef[~good, k] = np.interp(rows[~good], rows[good], coef[good, k])
    return h - coef @ basis.T


def align_rows(h: np.ndarray, method: str = "median", quantile: float = 0.5,
               mask: np.ndarray | None = None) -> np.ndarray:
    """Remove line offsets (scanner jumps between lines).

    Parameters
    ----------
    h : (H, W) array
        Heights (nm), fast scan along rows.
    method : str
        "median": subtract from each row its ``quantile`` over the pixels outside ``mask``;
        the result depends on how much of each row is covered by raised features.
        "difference": shift each row by the median of its difference to the previous row
        (Gwyddion's "median of differences"), which is insensitive to features and keeps the
        true profile across rows (tilt, bow).
    quantile : float
        Row quantile of the "median" method (0.5: the median; TopoStats'
        ``row_alignment_quantile``).
    mask : (H, W) bool array, optional
        Pixels left out of the "median" method's quantiles (a row wholly masked uses all its
        pixels).

    Returns
    -------
    (H, W) ndarray
        Aligned heights (nm).
    """
    h = _image(h)
    if method == "difference":
        steps = _nanmedian(np.diff(h, axis=0), axis=1)
        offsets = np.concatenate([[0.0], np.cumsum(np.nan_to_num(steps))])
        return h - offsets[:, None]
    if method != "median":
        raise InputError(f"row alignment method must be 'median' or 'difference', got {method!r}")
    values = np.where(mask, np.nan, h) if mask is not None else h
    offsets = np.nanquantile(values, quantile, axis=1)
    fallback = np.nanquantile(h, quantile, axis=1)
    offsets = np.where(np.isfinite(offsets), offsets, fallback)
    return h - offsets[:, None]


def otsu_in_window(values: np.ndarray, window_nm: float = 1.5) -> float:
    """Otsu threshold of heights clipped to median ± ``window_nm``, so that tall particles do
    not pull the threshold away from the substrate/film step.

    Parameters
    ----------
    values : ndarray
        Heights (nm); non-finite values are ignored.
    window_nm : float
        Half-width of the clipping window (nm).

    Returns
    -------
    float
        The threshold (nm).
    """
    values = values[np.isfinite(values)]
    centre = np.median(values)
    return float(threshold_otsu(np.clip(values, centre - window_nm, centre + window_nm)))


def substrate_level(h: np.ndarray, min_fraction: float = 0.05, bin_nm: float = 0.01,
                    window_nm: float = 3.0) -> float:
    """Height of the substrate: the lowest peak of the height histogram holding at least
    ``min_fraction`` of the pixels within ±0.1 nm of it; the median when no peak qualifies.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm); non-finite pixels are ignored.
    min_fraction : float
        Smallest fraction of all pixels within ±0.1 nm of a qualifying peak.
    bin_nm : float
        Histogram bin width (nm); the histogram is smoothed over 3 bins.
    window_nm : float
        The histogram spans median ± ``window_nm`` (nm).

    Returns
    -------
    float
        Substrate height (nm).
    """
    values = np.asarray(h, dtype=float)
    values = values[np.isfinite(values)]
    centre = np.median(values)
    edges = np.arange(centre - window_nm, centre + window_nm + bin_nm, bin_nm)
    counts = histogram_counts(values, edges)
    smooth = ndimage.gaussian_filter1d(counts.astype(float), 3.0)
    peaks, _ = find_peaks(smooth, prominence=0.02 * smooth.max())
    half = int(round(0.1 / bin_nm))
    for peak in peaks:  # ascending heights
        if counts[max(peak - half, 0):peak + half + 1].sum() >= min_fraction * values.size:
            return float(0.5 * (edges[peak] + edges[peak + 1]))
    return float(centre)


def feature_mask(h: np.ndarray, threshold: str | float = "otsu",
                 dilation_px: int = 2) -> np.ndarray:
    """Raised features of a first-pass levelled image, grown by ``dilation_px`` pixels so
    feature edges stay out of the refit.

    Parameters
    ----------
    h : (H, W) array
        First-pass levelled heights (nm).
    threshold : str or float
        "otsu": pixels above the Otsu threshold (:func:`otsu_in_window`); a number: pixels
        above ``median + threshold * std`` (TopoStats uses 1.0).
    dilation_px : int
        Growth of the mask (px, cross-shaped steps); 0 for none.

    Returns
    -------
    (H, W) ndarray of bool
        True on raised features.
    """
    h = _image(h)
    finite = h[np.isfinite(h)]
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise InputError(f"threshold must be 'otsu' or a number, got {threshold!r}")
        level = otsu_in_window(finite)
    else:
        level = np.median(finite) + float(threshold) * finite.std()
    mask = h > level  # NaN is never above
    if dilation_px > 0:
        mask = dilate_cross(mask, dilation_px)
    return mask


def _robust_first_pass(h: np.ndarray) -> np.ndarray:
    """Rows aligned by the median of differences (removes anything that depends on y only:
    line offsets, y tilt and bow), then the x curvature and slope from the medians of the
    second and first differences along the rows, which steps and features barely move."""
    out = align_rows(h, "difference")
    x = np.arange(out.shape[1], dtype=float)
    curvature = _nanmedian(np.diff(out, n=2, axis=1)) / 2.0
    out = out - curvature * x**2
    slope = _nanmedian(np.diff(out, axis=1))
    out = out - slope * x
    return out - _nanmedian(out)


def flatten_two_pass(h: np.ndarray, order: int = 2, threshold: str | float = "otsu",
                     dilation_px: int = 2, passes: int = 3) -> np.ndarray:
    """Two-pass levelling for layered films.

    A first pass (rows aligned by the median of differences, then either the x slope and
    curvature from medians of differences or a quadratic surface; the start that ends with fewer
    off-level pixels wins), then raised features are masked (:func:`feature_mask`) and a
    quadratic surface plus per-line polynomials of ``order`` are refitted.

    Unlike a plain masked refit (TopoStats), pixels one layer above or below the main level are
    kept in the refit with the layer step (fitted jointly with the surface) subtracted, so lines
    that are almost fully covered, or hold only a few holes, still constrain the fit; pixels
    within ``dilation_px`` of a level change and pixels between levels or further away
    (particles, second layers) stay out.

    Parameters
    ----------
    h : (H, W) array
        Raw heights (nm), fast scan along rows.
    order : int
        Per-line polynomial order, 0-2.
    threshold : str or float
        Feature threshold of :func:`feature_mask` ("otsu" or a number of standard deviations).
    dilation_px : int
        Pixels (px) around a level change kept out of the refit.
    passes : int
        Refits, each refining the level assignment.

    Returns
    -------
    (H, W) ndarray
        Levelled heights (nm).
    """
    h = _image(h)
    best, best_misfit = None, np.inf
    for start in (_robust_first_pass(h), plane_fit(align_rows(h, "difference"), order=2)):
        out, misfit = _refine(h, start, order, threshold, dilation_px, passes)
        if misfit < best_misfit:
            best, best_misfit = out, misfit
    return best


def _surface_and_step(h: np.ndarray, levels: np.ndarray, skip: np.ndarray) -> float:
    """Layer step (nm) fitted jointly with a quadratic surface to the pixels outside ``skip``,
    whose layer index relative to the main level is ``levels`` (-1, 0 or 1)."""
    return _fit_surface(h, ~skip & np.isfinite(h), 2, extra=levels)[1]


def _refine(h, out, order, threshold, dilation_px, passes) -> tuple[np.ndarray, float]:
    """Refits of :func:`flatten_two_pass` from a first-pass image; returns the levelled image
    and its misfit (fraction of pixels more than 0.35 layer steps from every level)."""
    misfit = 1.0
    for _ in range(passes):
        raised = feature_mask(out, threshold, dilation_px=0)
        if raised.all() or not raised.any():
            break
        base, top = np.median(out[~raised]), np.median(out[raised])
        step = top - base
        rel = (out - base) / step if step > 0.2 else np.zeros_like(out)
        k = np.clip(np.round(_nan_to_num(rel)), -1, 1)
        off_level = ~np.isfinite(out) | (np.abs(rel - k) > 0.35) | (np.abs(rel) > 1.5)
        skip = off_level.copy()
        if dilation_px > 0:
            skip |= dilate_cross(window3_nonconstant(k), dilation_px)
        k = np.where(skip, 0.0, k)
        step = _surface_and_step(h, k, skip)
        if step < 0.2:  # no layer step left: this start has lost the film
            return out, 1.0
        out = flatten_lines(plane_fit(h - step * k, skip, 2), order=order, mask=skip) + step * k
        misfit = float(off_level.mean())
    return out, misfit


def remove_scars(h: np.ndarray, threshold_nm: float = 0.666, max_width: int = 4,
                 min_length: int = 16) -> np.ndarray:
    """Replace scars by linear interpolation between the line before and the line after.

    A scar is a streak along the fast-scan axis, 1 to ``max_width`` lines thick and at least
    ``min_length`` pixels long, standing more than ``threshold_nm`` above or below both the
    line before and the line after. Defaults are TopoStats' (threshold 0.666, max width 4
    lines, min length 16 pixels).

    Parameters
    ----------
    h : (H, W) array
        Heights (nm), fast scan along rows.
    threshold_nm : float
        Least height (nm) of a scar above or below both neighbouring lines.
    max_width : int
        Thickest scar (lines).
    min_length : int
        Shortest scar (px along the row).

    Returns
    -------
    (H, W) ndarray
        Heights (nm) with scars replaced.
    """
    h = _image(h).copy()
    ny = h.shape[0]
    for width in range(1, min(max_width, ny - 2) + 1):
        above, below = h[: ny - width - 1], h[width + 1:]
        raised = np.ones(above.shape, dtype=bool)
        sunk = raised.copy()
        for j in range(width):
            band = h[1 + j: ny - width + j]
            for side in (above, below):
                step = band - side
                raised &= step > threshold_nm
                sunk &= -step > threshold_nm
        for scar in (raised, sunk):
            if not scar.any():
                continue
            tops, cols = np.nonzero(long_row_runs(scar, min_length))
            for j in range(width):
                t = (j + 1) / (width + 1)
                h[tops + 1 + j, cols] = above[tops, cols] * (1 - t) + below[tops, cols] * t
    return h


def zero_height(h: np.ndarray, mask: np.ndarray | None = None, stat: str = "median") -> np.ndarray:
    """Shift heights so that the ``stat`` of the pixels selected by ``mask`` is 0 nm.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    mask : (H, W) bool array, optional
        Reference pixels (True: used, e.g. the substrate); all pixels when None or empty.
    stat : str
        "median", "mean" or "min" (NaN ignored).

    Returns
    -------
    (H, W) ndarray
        Shifted heights (nm).
    """
    h = _image(h)
    ref = h[mask] if mask is not None and mask.any() else h
    funcs = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin}
    if stat not in funcs:
        raise InputError(f"stat must be one of {', '.join(funcs)}, got {stat!r}")
    return h - funcs[stat](ref)


def clip_height(h: np.ndarray, window_nm: float = 1.5) -> np.ndarray:
    """Clip heights to [-window_nm, window_nm] (±1.5 nm in the MoS2 study).

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    window_nm : float
        Half-width of the window (nm), positive.

    Returns
    -------
    (H, W) ndarray
        Clipped heights (nm).
    """
    if not window_nm > 0:
        raise InputError(f"window_nm must be positive, got {window_nm}")
    return np.clip(_image(h), -window_nm, window_nm)


def resize_image(h: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize to ``size`` x ``size`` pixels (antialiased, values kept in nm) for CNN input.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    size : int
        Side of the output (px).

    Returns
    -------
    (size, size) ndarray
        Heights (nm), bilinear with anti-aliasing.
    """
    return resize(_image(h), (size, size), order=1, anti_aliasing=True, preserve_range=True)


def level(h, method: str = "two-pass", order: int = 2, threshold: str | float = "otsu",
          scars: bool = True, zero: str = "substrate"):
    """The default levelling pipeline; array in, array out (a :class:`HeightMap` gives one back).

    Parameters
    ----------
    h : (H, W) array or HeightMap
        Raw heights (nm), fast scan along rows.
    method : str
        "two-pass" (default, :func:`flatten_two_pass`), "lines" (plane + line flattening) or
        "plane".
    order : int
        Line polynomial order 0-2 (2 removes the scanner bow along the fast axis).
    threshold : str or float
        Feature mask of the two-pass method ("otsu" or a number of standard deviations).
    scars : bool
        Remove scars after flattening (:func:`remove_scars`, TopoStats defaults).
    zero : str
        "substrate" (the substrate peak of the histogram, :func:`substrate_level`, is 0 nm),
        "median" or "none".

    Returns
    -------
    (H, W) ndarray or HeightMap
        Levelled heights (nm), of the input's type.
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
        out = out - substrate_level(out)
    elif zero == "median":
        out = zero_height(out)
    elif zero != "none":
        raise InputError(f"zero must be 'substrate', 'median' or 'none', got {zero!r}")
    return out
