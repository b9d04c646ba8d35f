"""2-D Gaussian smoothing bit-identical to ``scipy.ndimage.gaussian_filter`` (float64,
'reflect' or 'constant' border, truncate 4) and several times faster on 512 x 512 images.

scipy filters one line at a time with scalar loops; here every output element gets the same
operations in the same order (centre tap, then the symmetric tap pairs from the outermost in),
but whole rows at once, which the compiler vectorises, and each output row is finished (columns
pass, then rows pass) before the next, so no intermediate image is stored. Checked side by side in
tests/test_afm_fast_paths.py.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

_PAD_MODES = {"reflect": "symmetric", "constant": "constant"}


@numba.njit(cache=True, nogil=True)
def _smooth(src: np.ndarray, taps: np.ndarray, row_index: np.ndarray, col_index: np.ndarray,
            out: np.ndarray) -> None:
    """Correlate the columns, then the rows, of ``src`` with the symmetric ``taps`` (centre
    first, then taps 1..r), one output row at a time. ``row_index`` / ``col_index`` map the
    positions of the padded image (r extra each side) to source rows / columns, -1 for zeros."""
    r = len(taps) - 1
    ny, nx = out.shape
    zero, column_pass, line = np.zeros(nx), np.empty(nx), np.empty(nx + 2 * r)
    acc = np.empty(nx)
    for i in range(ny):
        centre = src[row_index[i + r]] if row_index[i + r] >= 0 else zero
        for c in range(nx):
            column_pass[c] = centre[c] * taps[0]
        for j in range(r, 0, -1):
            w, a, b = taps[j], row_index[i + r - j], row_index[i + r + j]
            up = src[a] if a >= 0 else zero
            down = src[b] if b >= 0 else zero
            for c in range(nx):
                column_pass[c] += (up[c] + down[c]) * w
        for m in range(nx + 2 * r):
            line[m] = column_pass[col_index[m]] if col_index[m] >= 0 else 0.0
        mid = line[r:r + nx]
        for c in range(nx):
            acc[c] = mid[c] * taps[0]
        for j in range(r, 0, -1):  # slices, not offsets, let the compiler vectorise
            w, left, right = taps[j], line[r - j:r - j + nx], line[r + j:r + j + nx]
            for c in range(nx):
                acc[c] += (left[c] + right[c]) * w
        out[i, :] = acc


def gaussian_taps(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy's Gaussian weights for ``sigma``: centre, then taps 1..r, r = int(truncate sigma +
    0.5); read off scipy's own filter applied to an impulse, so they are its numbers.

    Parameters
    ----------
    sigma : float
        Standard deviation (px).
    truncate : float
        Radius in standard deviations.

    Returns
    -------
    (r + 1,) ndarray
        Centre tap, then taps 1..r.
    """
    radius = int(truncate * float(sigma) + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    return ndimage.gaussian_filter1d(impulse, sigma, mode="constant", truncate=truncate)[radius:]


def gaussian_filter(image: np.ndarray, sigma: float, mode: str = "reflect") -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(image, sigma, mode=mode)`` of a 2-D image (float64).

    Parameters
    ----------
    image : (H, W) array
        Image; other shapes go to scipy.
    sigma : float
        Standard deviation (px).
    mode : str
        Border: "reflect" or "constant" (others go to scipy).

    Returns
    -------
    (H, W) ndarray
        Smoothed image.
    """
    image = np.asarray(image, dtype=float)
    taps = gaussian_taps(sigma)
    r = len(taps) - 1
    if image.ndim != 2 or mode not in _PAD_MODES or not 0 < r < min(image.shape):
        return ndimage.gaussian_filter(image, sigma, mode=mode)
    out = np.empty_like(image)
    _smooth(np.ascontiguousarray(image), taps, _padded_index(image.shape[0], r, mode),
            _padded_index(image.shape[1], r, mode), out)
    return out


def _padded_index(n: int, r: int, mode: str) -> np.ndarray:
    """Source index of each of n + 2r padded positions (scipy's border rule), -1 for zeros."""
    if mode == "constant":
        return np.pad(np.arange(n), r, mode="constant", constant_values=-1)
    return np.pad(np.arange(n), r, mode=_PAD_MODES[mode])
