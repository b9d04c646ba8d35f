"""Polynomial surfaces and lines of AFM height maps (heights in nm, fast scan along rows): the
least-squares surface of a whole image (plane or quadratic bow), per-line polynomial flattening
(NanoScope "flatten", orders 0-2) and row alignment (line offsets).

All functions take and return 2-D float arrays; masks are boolean arrays of the same shape whose
True pixels are *excluded* from the fits.
"""

from __future__ import annotations

import numba
import numpy as np

from tmdlearn.errors import InputError


def nanmedian(a: np.ndarray, axis: int | None = None):
    """``np.nanmedian``, through ``np.median``'s faster path when ``a`` holds no NaN.

    Parameters
    ----------
    a : ndarray
        Values.
    axis : int, optional
        Axis of the median; None: all values.

    Returns
    -------
    float or ndarray
        The median (NaN ignored), in the unit of ``a``.
    """
    return np.nanmedian(a, axis=axis) if np.isnan(a).any() else np.median(a, axis=axis)


def nan_to_num(a: np.ndarray) -> np.ndarray:
    """``np.nan_to_num``, skipped when ``a`` is all finite.

    Parameters
    ----------
    a : ndarray
        Values.

    Returns
    -------
    ndarray
        ``a`` with NaN as 0 and infinities as the largest finite values.
    """
    return a if np.isfinite(a).all() else np.nan_to_num(a)


def height_array(h) -> np.ndarray:
    """A height map as a 2-D float array; InputError for any other shape.

    Parameters
    ----------
    h : array_like
        Heights (nm).

    Returns
    -------
    (H, W) ndarray of float
        The heights (nm).
    """
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


def fit_surface(h: np.ndarray, use: np.ndarray, order: int,
                 extra: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Least-squares polynomial surface of total ``order`` in x (columns) and y (rows), plus
    ``extra`` times a free coefficient when given, fitted to the pixels in ``use``.

    Solves the normal equations, whose sums over the image separate into sums along each row
    times powers of y, in one pass and without a design matrix of one row per pixel.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    use : (H, W) bool array
        Pixels of the fit (they must be finite in ``h`` and ``extra``).
    order : int
        Total polynomial order in x and y (coordinates scaled to [-1, 1]).
    extra : (H, W) array, optional
        A further term of the fit with one free coefficient (e.g. the layer index).

    Returns
    -------
    surface : (H, W) ndarray
        The fitted polynomial on the whole image (nm), ``extra`` term aside.
    coefficient : float
        The ``extra`` coefficient (nm per unit of ``extra``); 0 without ``extra``.
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
    h = height_array(h)
    use = np.isfinite(h) if mask is None else np.isfinite(h) & ~mask
    if use.sum() < (order + 1) * (order + 2):
        use = np.isfinite(h)
    return h - fit_surface(h, use, order)[0]


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

    Notes
    -----
    A line whose usable pixels span less than half its length (a particle or a masked band
    covering the rest) keeps only its own offset: its slope and curvature, which would be
    extrapolated across the masked part (a quadratic through a few pixels 7 px apart threw
    the rest of a real 512 px line hundreds of nm off), are interpolated from the nearest
    lines that span enough. The scanner's tilt and bow change slowly from line to line; the
    line offset does not.
    """
    h = height_array(h)
    if order not in (0, 1, 2):
        raise InputError(f"line flattening order must be 0, 1 or 2, got {order}")
    ny, nx = h.shape
    x = np.linspace(-1.0, 1.0, nx)
    basis = np.vander(x, order + 1, increasing=True)  # (nx, k)
    weight = np.isfinite(h).astype(float)
    if mask is not None:
        weight[mask] = 0.0
    values = nan_to_num(h)
    gram = (weight @ (basis[:, :, None] * basis[:, None, :]).reshape(nx, -1)).reshape(
        ny, order + 1, order + 1)
    rhs = (weight * values) @ basis
    enough = weight.sum(axis=1) >= max(min_points, order + 1)
    good = enough
    short = np.zeros(ny, dtype=bool)
    if order > 0:
        used = weight > 0
        first = np.where(used.any(axis=1), used.argmax(axis=1), 0)
        last = np.where(used.any(axis=1), nx - 1 - used[:, ::-1].argmax(axis=1), 0)
        short = enough & (last - first < (nx - 1) / 2)
        good = enough & ~short
        if not good.any():  # no line spans enough: fit each as it is
            good, short = enough, np.zeros(ny, dtype=bool)
    coef = np.zeros((ny, order + 1))
    if good.any():
        lhs = gram[good] + 1e-9 * np.eye(order + 1)
        coef[good] = np.linalg.solve(lhs, rhs[good][..., None])[..., 0]
        if not good.all():
            rows = np.arange(ny)
            for k in range(order + 1):
                coef[~good, k] = np.interp(rows[~good], rows[good], coef[good, k])
        if short.any():  # own offset under the neighbours' slope and curvature
            rest = values[short] - coef[short, 1:] @ basis[:, 1:].T
            coef[short, 0] = (weight[short] * rest).sum(axis=1) / weight[short].sum(axis=1)
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
    h = height_array(h)
    if method == "difference":
        steps = nanmedian(np.diff(h, axis=0), axis=1)
        offsets = np.concatenate([[0.0], np.cumsum(np.nan_to_num(steps))])
        return h - offsets[:, None]
    if method != "median":
        raise InputError(f"row alignment method must be 'median' or 'difference', got {method!r}")
    values = np.where(mask, np.nan, h) if mask is not None else h
    offsets = np.nanquantile(values, quantile, axis=1)
    fallback = np.nanquantile(h, quantile, axis=1)
    offsets = np.where(np.isfinite(offsets), offsets, fallback)
    return h - offsets[:, None]
