"""Scan distortion of the STEM simulator: where the beam really was for every pixel
(:class:`Scan`: anisotropic scale and drift shear, a slow wander of each line's start, white
line-to-line jitter along the fast axis, the fly-back lag at the start of each line), drawn per
image (:func:`draw_scan`), and the specimen sampled at those positions (:func:`sample_grid`).

Lengths in Å, offsets in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Lines of the frame a scan's slow wander is drawn over (a crop is part of such a frame).
FRAME_LINES = 512


def smooth_series(rng: np.random.Generator, n: int, length: float, rms: float) -> np.ndarray:
    """A random series of ``n`` values with correlation length ``length`` and rms ``rms``.

    Parameters
    ----------
    rng : Generator
        Source of the white noise that is smoothed.
    n : int
        Values.
    length : float
        Correlation length (Gaussian σ, in steps of the series).
    rms : float
        Root mean square of the series about its zero mean (in the caller's unit); 0 or less
        gives zeros.

    Returns
    -------
    (n,) ndarray
        The series.
    """
    if rms <= 0:
        return np.zeros(n)
    series = ndimage.gaussian_filter1d(rng.normal(size=n + 4 * int(length)), length,
                                       mode="wrap")[:n]
    return rms * (series - series.mean()) / max(series.std(), 1e-12)


@dataclass
class Scan:
    """Where the beam was: per-line offsets (px) and the affine map of one image of n × n px.

    Pixel (row i, column j) was recorded at specimen position (Å, relative to the image
    centre) ``pixel * A @ (j + flyback(j) + wander_x[i] + jitter[i] - c, i + wander_y[i] - c)``
    with ``c = (n - 1) / 2`` and ``A = [[1 + scale_x, shear], [0, 1 + scale_y]]``.
    """

    n: int
    pixel_angstrom: float
    affine: np.ndarray
    wander_x: np.ndarray
    wander_y: np.ndarray
    jitter: np.ndarray
    flyback_px: float
    flyback_decay_px: float

    def _flyback(self, j: np.ndarray) -> np.ndarray:
        return -self.flyback_px * np.exp(-j / self.flyback_decay_px)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Specimen positions X, Y (n, n) in Å of every pixel.

        Returns
        -------
        X, Y : (n, n) arrays
        """
        j = np.arange(self.n, dtype=float)
        c = (self.n - 1) / 2
        u = j[None, :] + self._flyback(j)[None, :] + (self.wander_x + self.jitter)[:, None] - c
        v = np.broadcast_to((np.arange(self.n) + self.wander_y)[:, None] - c, u.shape)
        xy = np.einsum("ab,bij->aij", self.affine, np.stack([u, v])) * self.pixel_angstrom
        return xy[0], xy[1]

    def pixels(self, x_angstrom: np.ndarray, y_angstrom: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates (x_px, y_px) where specimen points (Å) appear, white jitter aside
        (it is noise about the true position): the inverse of :meth:`positions`.

        Parameters
        ----------
        x_angstrom, y_angstrom : array
            Specimen points, Å from the image centre.

        Returns
        -------
        x_px, y_px : arrays
        """
        c = (self.n - 1) / 2
        u, v = np.linalg.solve(self.affine, np.stack([x_angstrom, y_angstrom]) /
                               self.pixel_angstrom)
        rows = np.arange(self.n)
        i = v + c
        for _ in range(4):
            i = v + c - np.interp(i, rows, self.wander_y)
        j = u + c - np.interp(i, rows, self.wander_x)
        target = j.copy()
        for _ in range(8):
            j = target - self._flyback(np.maximum(j, 0))
        return j, i


def draw_scan(n: int, pixel_angstrom: float, p: dict[str, float],
              rng: np.random.Generator) -> Scan:
    """The scan of an n × n image at ``pixel_angstrom`` for microscope ``p``.

    The slow wander belongs to the frame, not to the image: it is drawn over a frame of at
    least :data:`FRAME_LINES` lines (correlated over a sixth of it) and the image is its
    first n lines, so a small crop is not sheared more than a whole frame.

    Parameters
    ----------
    n : int
    pixel_angstrom : float
    p : dict
        A drawn microscope.
    rng : Generator

    Returns
    -------
    Scan
    """
    affine = np.array([[1 + p["scale_x"], p["shear"]], [0.0, 1 + p["scale_y"]]])
    wander = p["drift_angstrom"] / pixel_angstrom
    frame = max(n, FRAME_LINES)
    return Scan(n, pixel_angstrom, affine,
                smooth_series(rng, frame, frame / 6, wander)[:n],
                smooth_series(rng, frame, frame / 6, wander / 3)[:n],
                rng.normal(0, p["jitter_angstrom"] / pixel_angstrom, n),
                p["flyback_px"], p["flyback_decay_px"])


def sample_grid(grid: np.ndarray, grid_pixel_angstrom: float, x_angstrom: np.ndarray,
                y_angstrom: np.ndarray) -> np.ndarray:
    """Values of a square ``grid`` image (centred on the origin, ``grid_pixel_angstrom``
    spacing) at specimen points (Å), by cubic interpolation.

    Parameters
    ----------
    grid : (m, m) array
    grid_pixel_angstrom : float
    x_angstrom, y_angstrom : array

    Returns
    -------
    array
    """
    c = (grid.shape[0] - 1) / 2
    coords = np.stack([y_angstrom / grid_pixel_angstrom + c, x_angstrom / grid_pixel_angstrom + c])
    return ndimage.map_coordinates(grid, coords, order=3, mode="nearest")
