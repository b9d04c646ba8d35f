"""Render-back (the Gomb-Net study's Fig. 3b): the HAADF image rendered from found atoms and
compared with the input.

The rendering is Gaussian spots, one amplitude per species (linear least squares) and one
width (a small 1-D search). Input and rendering are treated alike: a Gaussian low-pass
(``LOWPASS_ANGSTROM``: drops shot noise, keeps the lattice) and the subtraction of a smooth
background (``BACKGROUND_ANGSTROM``: contamination, thickness and gain drift, which the atoms
cannot explain); the score is the R² of the fit over the image and over windows of
``WINDOW_ANGSTROM`` (a map). :mod:`tmdlearn.stem.quality` grades it with the physics checks.
Positions in pixels of the image's own grid, lengths in Å.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft, ndimage
from scipy.optimize import minimize_scalar

from tmdlearn.raster import padded_frequencies, splat, splat_blur

#: Gaussian low-pass (σ, Å) of the input before the comparison: keeps the lattice (graphene's
#: 2.13 Å fringes at 68 % contrast), removes most of the pixel-to-pixel shot noise.
LOWPASS_ANGSTROM = 0.3
#: Scale (σ, Å) of the smooth background removed from the input and the rendering alike: larger
#: than a lattice constant, so the lattice contrast stays and contamination goes.
BACKGROUND_ANGSTROM = 4.0
#: Range (σ, Å) of the atoms' spot width searched (in the input, before the low-pass), and
#: the points of its grid (log-spaced); the best point's neighbours bracket a bounded search to
#: WIDTH_TOLERANCE (in ln σ).
WIDTH_ANGSTROM, WIDTH_STEPS, WIDTH_TOLERANCE = (0.15, 0.9), 5, 0.01
#: Largest pixel (Å) of the grid the comparison is made on (the input's, subsampled by a whole
#: step; the low-pass leaves it free of aliasing).
WORK_PIXEL_ANGSTROM = 0.36
#: Side (Å) of the windows of the R² and presence maps (about 1 nm).
WINDOW_ANGSTROM = 10.0
#: Band (Å) along the edges left out of the R² (atoms cut by the edge of the field).
BORDER_ANGSTROM = 1.5


@dataclass
class Rendering:
    """A HAADF image rendered from found atoms and its agreement with the input.

    ``image`` the rendering and ``lowpass`` the low-passed input it is compared with (input
    units: the fitted spots on the input's smooth background; on every ``step_px``-th pixel of
    the input's grid), ``amplitudes`` per species (input units, peak height of one atom's
    spot in the input), ``width_angstrom`` the spots' Gaussian σ in the input, ``r2`` over the
    image (border left out), ``r2_map`` per window (NaN where a window is flat).
    """

    image: np.ndarray
    lowpass: np.ndarray
    amplitudes: dict[str, float]
    width_angstrom: float
    r2: float
    r2_map: np.ndarray
    step_px: int = 1


@dataclass
class Windows:
    """The interior of an image cut into whole square windows: ``rows`` and ``cols`` (slices of
    the interior), the windows' count per axis ``n_y``, ``n_x`` and their ``side`` (pixels)."""

    rows: slice
    cols: slice
    n_y: int
    n_x: int
    side: int

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (the interior, n_y × side by n_x × side) per window (n_y, n_x).

        Parameters
        ----------
        values : (n_y * side, n_x * side) array
            Values on the interior's pixels.

        Returns
        -------
        (n_y, n_x) ndarray
            Sum per window.
        """
        return values.reshape(self.n_y, values.shape[0] // self.n_y, self.n_x, -1).sum(
            axis=(1, 3))


def image_windows(shape: tuple[int, int], pixel_angstrom: float) -> Windows:
    """Windows of ``WINDOW_ANGSTROM`` over an image without a ``BORDER_ANGSTROM`` band.

    Parameters
    ----------
    shape : (ny, nx)
        Image size, pixels.
    pixel_angstrom : float
        Pixel size, Å.

    Returns
    -------
    Windows
        The interior, centred, cut into whole windows (smaller in an image smaller than one).
    """
    ny, nx = shape
    pix = pixel_angstrom
    border = min(int(round(BORDER_ANGSTROM / pix)), (min(ny, nx) - 1) // 4)
    window = max(1, min(int(round(WINDOW_ANGSTROM / pix)), ny - 2 * border, nx - 2 * border))
    n_y, n_x = (ny - 2 * border) // window, (nx - 2 * border) // window
    oy, ox = (ny - n_y * window) // 2, (nx - n_x * window) // 2
    return Windows(slice(oy, oy + n_y * window), slice(ox, ox + n_x * window), n_y, n_x, window)


def box_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Three box filters of the width whose variance is ``sigma_px``²: a Gaussian-like blur at
    a cost independent of its width.

    Parameters
    ----------
    image : 2-D array
        The image.
    sigma_px : float
        The blur's standard deviation, in px.

    Returns
    -------
    2-D array
        The blurred image (edges reflected).
    """
    width = max(1, int(round(np.sqrt(4 * sigma_px ** 2 + 1))))
    for _ in range(3):
        image = ndimage.uniform_filter(image, width, mode="reflect")
    return image


class _SpotFit:
    """The linear fit of per-species Gaussian spots at the atoms to the background-free,
    low-passed input, for one spot width at a time (:meth:`__call__`)."""

    def __init__(self, data: np.ndarray, groups: list, step: int, pix: float,
                 windows: Windows):
        self.pix, self.windows = pix, windows
        self.shape = data.shape
        self.target = data[windows.rows, windows.cols].ravel()
        self.pad = pad = int(np.ceil(3 * WIDTH_ANGSTROM[1] / pix))
        self.padded, self.q2 = padded_frequencies(data.shape, pad)
        ny, nx = data.shape
        points = np.stack([splat(self.padded, g.x_px.to_numpy(float) / step + pad,
                                 g.y_px.to_numpy(float) / step + pad, np.ones(len(g)))
                           for _, g in groups])
        background_px = BACKGROUND_ANGSTROM / pix
        self.smooth_points = np.stack([box_blur(p[pad:pad + ny, pad:pad + nx], background_px)
                                       for p in points])  # mirrored at the edges, as the input
        self.spectrum = fft.rfft2(points)
        self.total = float(np.sum((self.target - self.target.mean()) ** 2))

    def __call__(self, sigma: float) -> tuple[float, np.ndarray, np.ndarray]:
        """R², coefficients and the fitted model (background-free) at spot width ``sigma``."""
        pix, pad, (ny, nx), target = self.pix, self.pad, self.shape, self.target
        gauss = (splat_blur(self.q2, (sigma ** 2 + LOWPASS_ANGSTROM ** 2) / pix ** 2)
                 * (2 * np.pi * (sigma / pix) ** 2))
        spots = fft.irfft2(self.spectrum * gauss, s=self.padded)[:, pad:pad + ny, pad:pad + nx]
        basis = spots - self.smooth_points
        rows, cols = self.windows.rows, self.windows.cols
        design = np.column_stack([b[rows, cols].ravel() for b in basis]
                                 + [np.ones(target.size)])
        coef = np.linalg.lstsq(design.T @ design, design.T @ target, rcond=None)[0]
        residual = target - design @ coef
        model = np.tensordot(coef[:-1], basis, axes=1) + coef[-1]
        return 1 - float(residual @ residual) / max(self.total, 1e-300), coef, model


def _best_log_width(fit: _SpotFit) -> float:
    """ln σ of the best spot width: a grid over ``WIDTH_ANGSTROM``, then Brent's bounded
    search between the best grid point's neighbours."""
    grid = np.linspace(*np.log(WIDTH_ANGSTROM), WIDTH_STEPS)
    best = int(np.argmax([fit(np.exp(g))[0] for g in grid]))
    found = minimize_scalar(lambda g: -fit(np.exp(g))[0], method="bounded",
                            bounds=(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]),
                            options={"xatol": WIDTH_TOLERANCE})
    return float(found.x)


def _window_r2(data: np.ndarray, residual: np.ndarray, target: np.ndarray,
               windows: Windows) -> np.ndarray:
    """R² of ``residual`` against ``data`` per window (NaN where a window is flat)."""
    rows, cols = windows.rows, windows.cols
    inner = data[rows, cols] - np.mean(target)
    window_total = windows.sums(inner ** 2) - windows.sums(inner) ** 2 / windows.side ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_map = 1 - windows.sums(residual[rows, cols] ** 2) / window_total
    r2_map[~(window_total > 0)] = np.nan
    return r2_map


def render_back(image: np.ndarray, atoms: pd.DataFrame, pixel_size_angstrom: float
                ) -> Rendering:
    """Render the image from found atoms and score the agreement (see module doc).

    Input and rendering are low-passed (σ ``LOWPASS_ANGSTROM``; then compared on a grid of at
    most ``WORK_PIXEL_ANGSTROM``) and freed of their smooth background (σ
    ``BACKGROUND_ANGSTROM``); the spot amplitudes (one per species) and an offset are fitted by
    linear least squares for each spot width of a 1-D search over ``WIDTH_ANGSTROM`` (a grid in
    log σ, then Brent's bounded search around its best point) and the best R² kept. A spot of
    σ and peak A in the input is rendered as the low-pass makes it, σ' = √(σ² + σ_low²) and
    peak A σ²/σ'² (less the variance, 1/6 px², that the bilinear splat of the positions adds).

    Parameters
    ----------
    image : (ny, nx) array
        The HAADF image (detector counts or any linear unit).
    atoms : DataFrame
        Found atoms: ``x_px``, ``y_px`` (pixels of ``image``) and ``species``.
    pixel_size_angstrom : float
        Pixel size of ``image``, Å.

    Returns
    -------
    Rendering
        The rendering, its R² over the image and per window, amplitudes and spot width (Å).
    """
    values = np.asarray(image, float)
    step = max(1, int(WORK_PIXEL_ANGSTROM / pixel_size_angstrom + 1e-6))
    pix = float(pixel_size_angstrom) * step
    low = ndimage.gaussian_filter(values, LOWPASS_ANGSTROM / pixel_size_angstrom,
                                  mode="reflect")[::step, ::step]
    data = low - box_blur(low, BACKGROUND_ANGSTROM / pix)
    windows = image_windows(low.shape, pix)
    groups = list(atoms.groupby(atoms["species"].astype(str), sort=False)) if len(atoms) else []
    if not groups:
        return Rendering(low - data, low, {}, float("nan"), 0.0,
                         np.zeros((windows.n_y, windows.n_x)), step)
    fit = _SpotFit(data, groups, step, pix, windows)
    log_sigma = _best_log_width(fit)
    r2, coef, model = fit(np.exp(log_sigma))
    residual = data - model
    r2_map = _window_r2(data, residual, fit.target, windows)
    amplitudes = {name: float(c) for (name, _), c in zip(groups, coef, strict=False)}
    return Rendering(low - residual, low, amplitudes, float(np.exp(log_sigma)), float(r2), r2_map,
                     step)
