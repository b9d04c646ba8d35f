"""Point sets onto pixel grids: a bilinear deposit (splat), its Gaussian blur in Fourier
space, and disk masks.

Low-level helpers shared by the simulators (:mod:`tmdlearn.synth.stem`) and the analysis
(:mod:`tmdlearn.stem`). Coordinates are in pixels: pixel (row i, column j) has its centre at
``x = j``, ``y = i``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft


def splat(shape: tuple[int, int], x: np.ndarray, y: np.ndarray, weights: np.ndarray
          ) -> np.ndarray:
    """Deposit ``weights`` at sub-pixel positions onto a grid, bilinearly.

    Each weight is shared among the four pixels around its position, so the sum and the
    centroid of the weights are preserved; points outside the grid deposit nothing.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, pixels.
    x, y : (N,) array
        Positions, pixels (x along columns, y along rows).
    weights : (N,) array
        Value of each point (any unit; the grid holds the same unit per pixel).

    Returns
    -------
    (ny, nx) float array
        The deposited weights.
    """
    ny, nx = shape
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    out = np.zeros(ny * nx)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
            out += np.bincount(yi[ok] * nx + xi[ok], weights=(weights * wx * wy)[ok],
                               minlength=ny * nx)
    return out.reshape(ny, nx)


def padded_frequencies(shape: tuple[int, int], pad: int
                       ) -> tuple[tuple[int, int], np.ndarray]:
    """A grid ``pad`` px larger than ``shape`` on every side (at FFT-fast sizes) and its
    squared spatial frequencies for ``scipy.fft.rfft2``.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, px.
    pad : int
        Margin on each side, px.

    Returns
    -------
    padded : (ny', nx')
        The padded grid size, px.
    q2 : (ny', nx' // 2 + 1) array
        Squared frequencies, cycles² / px².
    """
    padded = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in shape)
    return padded, np.add.outer(fft.fftfreq(padded[0]) ** 2, fft.rfftfreq(padded[1]) ** 2)


def splat_blur(q2: np.ndarray, variance_px2: float) -> np.ndarray:
    """Fourier transfer function that turns :func:`splat` points into Gaussians of variance
    ``variance_px2`` (px²): a Gaussian blur less the 1/6 px² of variance the bilinear splat
    already adds (none below it).

    Parameters
    ----------
    q2 : array
        Squared spatial frequencies, cycles² / px² (:func:`padded_frequencies`).
    variance_px2 : float
        The Gaussians' variance σ², px².

    Returns
    -------
    array
        The transfer function (1 at q = 0), the shape of ``q2``.
    """
    return np.exp(-2 * np.pi ** 2 * max(variance_px2 - 1 / 6, 0.0) * q2)


def disk_masks(shape: tuple[int, int], x_px: np.ndarray, y_px: np.ndarray, channel: np.ndarray,
               n_channels: int, radius_px: float) -> np.ndarray:
    """Paint a disk around every point into its channel's boolean mask.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, pixels.
    x_px, y_px : (N,) array
        Disk centres, pixels (exact, sub-pixel).
    channel : (N,) int array
        Channel (mask index) of each disk, in ``[0, n_channels)``.
    n_channels : int
        Number of masks.
    radius_px : float
        Disk radius, pixels: a pixel belongs to a disk when its centre is within it.

    Returns
    -------
    (n_channels, ny, nx) bool array
        The masks.
    """
    ny, nx = shape
    out = np.zeros((n_channels, ny, nx), dtype=bool)
    r = int(np.ceil(radius_px)) + 1
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    xi = np.round(x_px).astype(int)[:, None] + dx.ravel()[None, :]
    yi = np.round(y_px).astype(int)[:, None] + dy.ravel()[None, :]
    inside = (xi - x_px[:, None]) ** 2 + (yi - y_px[:, None]) ** 2 <= radius_px**2
    inside &= (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    ch = np.broadcast_to(np.asarray(channel)[:, None], xi.shape)
    out[ch[inside], yi[inside], xi[inside]] = True
    return out
