"""Outside measurements used by the synth tests: a plain levelling + Otsu coverage, a quick
Lorentzian peak fit. Deliberately independent of tmdlearn's own afm/ and spectra/ code."""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit
from skimage.filters import threshold_otsu


def _refine(height: np.ndarray, film: np.ndarray, design: np.ndarray, iters: int = 6):
    ny = height.shape[0]
    rows = np.zeros((ny, 1))
    for _ in range(iters):
        coef, *_ = np.linalg.lstsq(np.column_stack([design, film.ravel()]),
                                   (height - rows).ravel(), rcond=None)
        plane = (design @ coef[:-1]).reshape(height.shape)
        fit = height - plane - coef[-1] * film
        rows = np.median(fit, axis=1, keepdims=True)
        residual = height - plane - rows
        film = (residual > threshold_otsu(residual)).astype(float)
    return film, float(np.sum((fit - rows) ** 2))


def otsu_coverage(height_nm: np.ndarray) -> float:
    """Covered fraction: quadratic background + row offsets fitted jointly with a film step,
    film pixels by Otsu; two starts (no film, row-aligned Otsu), the better fit wins."""
    ny, nx = height_nm.shape
    y, x = np.mgrid[0:ny, 0:nx] / ny - 0.5
    design = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], -1).reshape(-1, 6)
    aligned = height_nm - np.concatenate(
        [[0.0], np.cumsum(np.median(np.diff(height_nm, axis=0), axis=1))])[:, None]
    coef, *_ = np.linalg.lstsq(design, aligned.ravel(), rcond=None)
    aligned = aligned - (design @ coef).reshape(height_nm.shape)
    starts = [np.zeros(height_nm.shape), (aligned > threshold_otsu(aligned)).astype(float)]
    film, _ = min((_refine(height_nm, s, design) for s in starts), key=lambda r: r[1])
    return float(film.mean())


def lorentzians(x, *p):
    """Sum of Lorentzians (height, center, fwhm triples) on a linear baseline (last two)."""
    y = p[-2] + p[-1] * (x - x.mean())
    for height, center, fwhm in zip(p[0:-2:3], p[1:-2:3], p[2:-2:3], strict=True):
        y = y + height / (1 + ((x - center) / (fwhm / 2)) ** 2)
    return y


def fit_peaks(x: np.ndarray, y: np.ndarray, guesses: list[float], width: float = 4.0):
    """Fit one Lorentzian per guessed center; returns (heights, centers, fwhms) arrays."""
    p0 = []
    for c in guesses:
        p0 += [float(np.interp(c, x, y) - np.median(y)), c, width]
    p0 += [float(np.median(y)), 0.0]
    popt, _ = curve_fit(lorentzians, x, y, p0=p0, maxfev=20000)
    k = len(guesses)
    return popt[0:3 * k:3], popt[1:3 * k:3], np.abs(popt[2:3 * k:3])
