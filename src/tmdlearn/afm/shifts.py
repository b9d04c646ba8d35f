"""Small-neighbourhood image operations by whole-array shifts, exact and several times faster
than the general scipy.ndimage / scikit-image filters on 512 x 512 images.

Each function names the library call it equals (checked side by side in
tests/test_afm_fast_paths.py). "Cross" is the 3 x 3 plus-shaped neighbourhood (scipy's default
binary structure, scikit-image ``disk(1)``); two cross steps make the diamond ``disk(2)``.
"""

from __future__ import annotations

import numpy as np


def reduce3(a: np.ndarray, op, axis: int) -> np.ndarray:
    """``op`` over each element and its two neighbours along ``axis`` of an n-D array;
    elements outside are ignored, which equals scipy's 'reflect' and 'nearest' borders for a
    one-element reach (``maximum_filter1d(a, 3, axis)``).

    Parameters
    ----------
    a : ndarray
        Values, any number of dimensions.
    op : ufunc
        A binary ufunc such as np.maximum.
    axis : int
        The axis along which neighbours are taken.

    Returns
    -------
    ndarray
        Same shape and memory order as ``a``.
    """
    out = a.copy(order="K")  # keeps a transposed view's memory order
    dst, src = np.moveaxis(out, axis, 0), np.moveaxis(a, axis, 0)
    op(dst[1:], src[:-1], out=dst[1:])
    op(dst[:-1], src[1:], out=dst[:-1])
    return out


def _cross_reduce(a: np.ndarray, op) -> np.ndarray:
    """``op`` over each pixel and its in-image cross neighbours."""
    out = a.copy()
    op(out[1:], a[:-1], out=out[1:])
    op(out[:-1], a[1:], out=out[:-1])
    op(out[:, 1:], a[:, :-1], out=out[:, 1:])
    op(out[:, :-1], a[:, 1:], out=out[:, :-1])
    return out


def grey_dilate_diamond(a: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation over the diamond |dx| + |dy| <= ``radius`` (skimage ``dilation(a,
    disk(r))`` for r <= 2, 'reflect' border): ``radius`` cross steps.

    Parameters
    ----------
    a : (H, W) array
        Image.
    radius : int
        Reach of the maximum, in cross steps (px).

    Returns
    -------
    (H, W) ndarray
        Each pixel's maximum over its diamond.
    """
    for _ in range(radius):
        a = _cross_reduce(a, np.maximum)
    return a


def grey_erode_diamond(a: np.ndarray, radius: int) -> np.ndarray:
    """Grey erosion over the diamond |dx| + |dy| <= ``radius`` (skimage ``erosion(a, disk(r))``
    for r <= 2, 'reflect' border).

    Parameters
    ----------
    a : (H, W) array
        Image.
    radius : int
        Reach of the minimum, in cross steps (px).

    Returns
    -------
    (H, W) ndarray
        Each pixel's minimum over its diamond.
    """
    for _ in range(radius):
        a = _cross_reduce(a, np.minimum)
    return a


def window3_nonconstant(a: np.ndarray) -> np.ndarray:
    """True where the 3 x 3 window (in-image part) holds more than one value: equals
    ``scipy.ndimage.morphological_gradient(a, size=3) > 0``.

    Parameters
    ----------
    a : (H, W) array
        Image or labels.

    Returns
    -------
    (H, W) ndarray of bool
    """
    return (reduce3(reduce3(a, np.maximum, 0), np.maximum, 1)
            != reduce3(reduce3(a, np.minimum, 0), np.minimum, 1))


def dilate_cross(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Binary dilation by the cross, ``iterations`` times, pixels outside the image 0: equals
    ``scipy.ndimage.binary_dilation(mask, iterations=iterations)``.

    Parameters
    ----------
    mask : (H, W) array
        Pixels to grow (read as bool).
    iterations : int
        Cross steps (px) the mask grows by.

    Returns
    -------
    (H, W) ndarray of bool
    """
    out = np.asarray(mask, dtype=bool)
    for _ in range(iterations):
        out = _cross_reduce(out, np.logical_or)
    return out


def erode_cross(mask: np.ndarray, iterations: int = 1, border_value: bool = False) -> np.ndarray:
    """Binary erosion by the cross, ``iterations`` times: equals
    ``scipy.ndimage.binary_erosion(mask, iterations=iterations, border_value=border_value)``.

    Parameters
    ----------
    mask : (H, W) array
        Pixels to shrink (read as bool).
    iterations : int
        Cross steps (px) the mask shrinks by.
    border_value : bool
        Value of the pixels outside the image.

    Returns
    -------
    (H, W) ndarray of bool
    """
    out = np.asarray(mask, dtype=bool)
    for _ in range(iterations):
        out = _cross_reduce(out, np.logical_and)
        if not border_value:
            out[0], out[-1], out[:, 0], out[:, -1] = False, False, False, False
    return out


def long_row_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """Pixels of ``mask`` in runs along a row of at least ``min_length`` pixels: equals keeping
    the components of ``scipy.ndimage.label(mask, [[0, 0, 0], [1, 1, 1], [0, 0, 0]])`` with at
    least ``min_length`` pixels.

    Parameters
    ----------
    mask : (H, W) bool array
        Pixels to group into row runs.
    min_length : int
        Shortest run kept (px).

    Returns
    -------
    (H, W) ndarray of bool
    """
    ny, nx = mask.shape
    padded = np.zeros((ny, nx + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    change = np.diff(padded.ravel())
    starts, ends = np.flatnonzero(change == 1) + 1, np.flatnonzero(change == -1) + 1
    keep = ends - starts >= min_length
    marks = np.zeros(padded.size + 1, dtype=np.int8)
    marks[starts[keep]] = 1  # runs are separated by zeros: starts and ends never coincide
    marks[ends[keep]] = -1
    return (np.cumsum(marks[:-1]) > 0).reshape(ny, nx + 2)[:, 1:-1]
