"""Densities of 1-D samples (distances in Å, order parameters): the FWHM of a Gaussian KDE with
the kernel's width removed, bootstrap resamples of a KDE, and the bootstrap comparison of two
samples' densities.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

#: FWHM of a Gaussian in units of its σ: 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def kde_fwhm(samples: np.ndarray, points: int = 4096) -> float:
    """Full width at half maximum of a 1-D distribution.

    The density is a Gaussian KDE (Scott's bandwidth h); the width is read at half the highest
    peak, walking outward from it to the first points below half (linear interpolation), and
    the kernel's own width is removed in quadrature, sqrt(W² − (2.3548 h)²), which is exact for
    a Gaussian distribution.

    Parameters
    ----------
    samples : array_like
        Values (non-finite ones are ignored).
    points : int
        Points of the evaluation grid.

    Returns
    -------
    float
        FWHM in the unit of ``samples``; 0 for fewer than 3 samples or no spread.
    """
    samples = np.asarray(samples, float).ravel()
    samples = samples[np.isfinite(samples)]
    if len(samples) < 3 or np.ptp(samples) <= 1e-9 * max(np.abs(samples).max(), 1.0):
        return 0.0
    kde = gaussian_kde(samples)
    h = float(np.sqrt(kde.covariance[0, 0]))
    grid = np.linspace(samples.min() - 3 * h, samples.max() + 3 * h, points)
    density = kde(grid)
    peak = int(np.argmax(density))
    below = density < density[peak] / 2
    left = peak - int(np.argmax(below[peak::-1]))
    right = peak + int(np.argmax(below[peak:]))

    def crossing(i: int, j: int) -> float:  # half-maximum between grid points i and j
        half = density[peak] / 2
        return float(grid[i] + (half - density[i]) / (density[j] - density[i])
                     * (grid[j] - grid[i]))

    width = crossing(right, right - 1) - crossing(left, left + 1)
    return float(np.sqrt(max(width ** 2 - (FWHM_PER_SIGMA * h) ** 2, 0.0)))


def bootstrap_kde(samples: np.ndarray, grid: np.ndarray, n_boot: int = 1000,
                  seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian KDE of 1-D ``samples`` on ``grid`` and its bootstrap resamples.

    The bandwidth is scipy's Scott-rule bandwidth of the full sample, kept for every resample,
    so a resample's density is a weighted sum of the same kernels (one matrix product for all
    ``n_boot`` resamples).

    Parameters
    ----------
    samples : (N,) array
        The sample.
    grid : (G,) array
        Evaluation points, in the unit of ``samples``.
    n_boot : int
        Resamples.
    seed : int or Generator
        Seed of the resampling.

    Returns
    -------
    density : (G,) ndarray
        KDE of the full sample (per unit of ``samples``).
    resampled : (n_boot, G) ndarray
        KDEs of the resamples.
    """
    rng = np.random.default_rng(seed)
    samples = np.asarray(samples, float).ravel()
    kde = gaussian_kde(samples)
    full = kde(grid)
    width = float(np.sqrt(kde.covariance[0, 0]))
    kernels = np.exp(-0.5 * ((np.asarray(grid)[None, :] - samples[:, None]) / width) ** 2)
    kernels /= width * np.sqrt(2 * np.pi)
    counts = np.stack([np.bincount(rng.integers(0, len(samples), len(samples)),
                                   minlength=len(samples)) for _ in range(n_boot)])
    return full, counts @ kernels / len(samples)


def density_mse(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 1000,
                points: int = 200) -> dict[str, float]:
    """Mean squared difference between the KDEs of two samples, with a bootstrap 95 % interval.

    Used to compare where Se sits with where the moiré puts sites (same order-parameter axis).

    Parameters
    ----------
    a, b : (N,) array
        The two samples (same unit).
    seed : int
        Seed of ``a``'s resampling (``b`` uses ``seed + 1``).
    n_boot : int
        Resamples.
    points : int
        Grid points spanning both samples.

    Returns
    -------
    dict
        ``mse`` and its 2.5 / 97.5 percentiles ``mse_low``, ``mse_high`` (squared density
        units).
    """
    lo = min(np.min(a), np.min(b))
    hi = max(np.max(a), np.max(b))
    grid = np.linspace(lo, hi, points)
    fa, ba = bootstrap_kde(a, grid, n_boot, seed)
    fb, bb = bootstrap_kde(b, grid, n_boot, seed + 1)
    boots = ((ba - bb) ** 2).mean(axis=1)
    return {"mse": float(((fa - fb) ** 2).mean()), "mse_low": float(np.percentile(boots, 2.5)),
            "mse_high": float(np.percentile(boots, 97.5))}
