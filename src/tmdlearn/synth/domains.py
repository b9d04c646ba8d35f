"""Domain growth of a film on the pixel grid: nuclei grow as convex polygons until the planted
coverage is reached.

Domains grow as convex polygons between a triangle and a hexagon (a truncated triangle).
Every nucleus ``i`` covers the pixels where ``gauge_i(x - c_i) + delay_i <= r``: the gauge is the
polygon's norm (1 on the edge of the unit-apothem polygon), the delay is its late nucleation
(Johnson-Mehl-Avrami-Kolmogorov growth at a common edge speed), and the common radius ``r`` is the
quantile of the field ``min_i(gauge_i + delay_i)`` that gives the planted coverage exactly. The
argmin is the grain label, so coalesced domains meet at grain boundaries.
:mod:`tmdlearn.synth.film` turns the film state into the domains' parameters and the rendered
film into an AFM height map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from tmdlearn.synth.film import FilmState


@dataclass
class FilmMorphology:
    """A rendered film on the pixel grid.

    Attributes
    ----------
    layers : (ny, nx) int8 array
        Layer number (0 bare).
    grains : (ny, nx) int array
        Grain label (-1 bare).
    grain_boundaries : (ny, nx) bool array
        Pixels on a boundary between two grains.
    truth : dict
        Realised coverage, bilayer fraction, domain counts and densities (µm⁻²).
    """

    layers: np.ndarray
    grains: np.ndarray
    grain_boundaries: np.ndarray
    truth: dict[str, float]


def smooth_noise(shape, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-correlated noise of unit standard deviation and correlation length ``sigma_px``.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, pixels.
    sigma_px : float
        Gaussian correlation length, pixels.
    rng : Generator
        Draws the white noise that is smoothed.

    Returns
    -------
    (ny, nx) array
    """
    spectrum = np.fft.rfft2(rng.standard_normal(shape))
    field = np.fft.irfft2(ndimage.fourier_gaussian(spectrum, sigma_px, n=shape[1]), s=shape)
    return field / max(field.std(), 1e-12)


def _polygon_area(hexagonality: float) -> float:
    """Area of the unit-apothem truncated triangle (3√3 triangle .. 2√3 hexagon)."""
    return 2.0 * np.sqrt(3.0) + np.sqrt(3.0) * (1.0 - hexagonality) ** 2


@dataclass
class _Nuclei:
    """Domain nuclei on the pixel grid: centres ``cy``, ``cx`` (pixels, margin included),
    nucleation ``delay`` and orientation ``theta`` (rad) each, which seed a second layer, and
    the domains' common ``apothem`` (pixels) and ``hexagonality``."""

    cy: np.ndarray
    cx: np.ndarray
    delay: np.ndarray
    theta: np.ndarray
    bilayer_seed: np.ndarray
    apothem: float
    hexagonality: float


def _nucleate(state: FilmState, shape: tuple[int, int], pixel_size_nm: float,
              rng: np.random.Generator, epitaxy_deg: float | None) -> _Nuclei:
    """A Poisson process of ``state.nucleation_density_um2`` nuclei on the grid and a margin
    (domains enter from outside the field), with delays, orientations and bilayer seeds."""
    ny, nx = shape
    px_um = pixel_size_nm / 1000.0
    density_px = state.nucleation_density_um2 * px_um**2
    h = float(np.clip(state.hexagonality, 0.0, 1.0))
    apothem = np.sqrt(-np.log1p(-state.coverage) / density_px / _polygon_area(h))
    margin = int(np.ceil(2.5 * apothem)) + 2
    area = (ny + 2 * margin) * (nx + 2 * margin)
    n = max(int(rng.poisson(density_px * area)), 1)
    cy = rng.uniform(-margin, ny + margin, n)
    cx = rng.uniform(-margin, nx + margin, n)
    delay = rng.uniform(0.0, 0.5, n) * apothem
    epitaxy = np.deg2rad(rng.uniform(0, 120) if epitaxy_deg is None else epitaxy_deg)
    theta = (epitaxy + rng.integers(0, 2, n) * np.pi / 3
             + np.deg2rad(rng.normal(0.0, state.orientation_spread_deg, n)))
    bilayer_seed = np.zeros(n, dtype=bool)
    if state.bilayer_fraction > 0:
        # Second layers nucleate on the earliest (largest) domains.
        order = np.argsort(delay)
        bilayer_seed[order[: max(1, int(round(0.6 * n)))]] = True
    return _Nuclei(cy, cx, delay, theta, bilayer_seed, apothem, h)


def _gauge_fields(nuclei: _Nuclei, shape: tuple[int, int], reach: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smallest ``gauge + delay`` over the nuclei within ``reach`` (pixels) of each pixel,
    the nucleus that gives it (the grain label, -1 none) and the smallest gauge of the bilayer
    seeds."""
    ny, nx = shape
    h = nuclei.hexagonality
    span = 2.0 - 0.8 * h  # farthest vertex of the unit-apothem truncated triangle
    gauge = np.full(shape, np.inf)
    label = np.full(shape, -1, dtype=np.int64)
    gauge2 = np.full(shape, np.inf)
    for i in range(nuclei.cy.size):
        cy, cx = nuclei.cy[i], nuclei.cx[i]
        r_i = reach - nuclei.delay[i]
        if r_i <= 0:
            continue
        half = int(np.ceil(span * r_i)) + 2
        y0, y1 = max(int(cy) - half, 0), min(int(cy) + half + 1, ny)
        x0, x1 = max(int(cx) - half, 0), min(int(cx) + half + 1, nx)
        if y0 >= y1 or x0 >= x1:
            continue
        dy = np.arange(y0, y1)[:, None] - cy
        dx = np.arange(x0, x1)[None, :] - cx
        p = [dx * np.cos(a) + dy * np.sin(a)
             for a in nuclei.theta[i] + np.arange(3) * 2 * np.pi / 3]
        g = np.maximum(np.maximum(np.maximum(p[0], p[1]), p[2]),
                       -np.minimum(np.minimum(p[0], p[1]), p[2]) / (2.0 - h))
        total = g + nuclei.delay[i]
        view = gauge[y0:y1, x0:x1]
        better = total < view
        view[better] = total[better]
        label[y0:y1, x0:x1][better] = i
        if nuclei.bilayer_seed[i]:
            np.minimum(gauge2[y0:y1, x0:x1], g, out=gauge2[y0:y1, x0:x1])
    return gauge, label, gauge2


def _layers(state: FilmState, field: np.ndarray, radius: float, gauge2: np.ndarray,
            rough: np.ndarray) -> np.ndarray:
    """Layer number per pixel: 1 where ``field < radius``, 2 on the bilayer seeds' domains
    inside it up to the planted bilayer fraction."""
    covered = field < radius
    layers = covered.astype(np.int8)
    if state.bilayer_fraction > 0 and covered.any():
        field2 = gauge2 + 0.5 * rough
        inside = field2[covered]
        k2 = int(round(state.bilayer_fraction * inside.size))
        if k2 > 0:
            radius2 = np.partition(inside, min(k2, inside.size - 1))[min(k2, inside.size - 1)]
            layers[covered & (field2 < radius2)] = 2
    return layers


def _film_truth(state: FilmState, nuclei: _Nuclei, layers: np.ndarray, grains: np.ndarray,
                boundaries: np.ndarray, radius: float, pixel_size_nm: float) -> dict[str, float]:
    """The realised coverage, bilayer fraction, domain and nucleation densities (µm⁻²),
    grain-boundary fraction and domain radius (nm) of a rendered film."""
    ny, nx = layers.shape
    covered = layers > 0
    in_view = (nuclei.cy >= 0) & (nuclei.cy < ny) & (nuclei.cx >= 0) & (nuclei.cx < nx)
    visible = np.unique(grains[covered])
    scan_area_um2 = ny * nx * (pixel_size_nm / 1000.0)**2
    return {
        "coverage": float(covered.mean()),
        "bilayer_fraction": float((layers == 2).sum() / max(covered.sum(), 1)),
        "mean_layers": float(layers[covered].mean()) if covered.any() else 0.0,
        "nucleation_density_um2": float(state.nucleation_density_um2),
        "nuclei_in_view": int(in_view.sum()),
        "nuclei_density_in_view_um2": float(in_view.sum() / scan_area_um2),
        "domain_count": int(visible.size),
        "domain_density_um2": float(visible.size / scan_area_um2),
        "grain_boundary_fraction": float(boundaries.mean()),
        "domain_radius_nm": float(radius * pixel_size_nm),
    }


def grow_film(
    state: FilmState,
    shape: tuple[int, int] = (512, 512),
    pixel_size_nm: float = 1000.0 / 512,
    seed=None,
    epitaxy_deg: float | None = None,
) -> FilmMorphology:
    """Render the film of a film state on a pixel grid.

    Nuclei are a Poisson process of ``state.nucleation_density_um2`` (including a margin so that
    domains enter from outside the field); the realised coverage equals ``state.coverage`` to
    within one pixel.

    Parameters
    ----------
    state : FilmState
        The latent film state.
    shape : (ny, nx)
        Grid size, pixels.
    pixel_size_nm : float
        Pixel size, nm.
    seed : int or Generator, optional
        Seed or generator of the nuclei, their shapes and orientations.
    epitaxy_deg : float, optional
        The substrate's epitaxial direction, degrees (random if None).

    Returns
    -------
    FilmMorphology
        Layer number, grain label and grain boundaries per pixel, and the realised truth.
    """
    rng = np.random.default_rng(seed)
    nuclei = _nucleate(state, shape, pixel_size_nm, rng, epitaxy_deg)
    rough = smooth_noise(shape, 1.5, rng) * state.edge_roughness_nm / pixel_size_nm
    reach = 1.25 * nuclei.apothem + nuclei.delay.max()
    while True:  # widen the reach until the planted coverage's radius lies well inside it
        gauge, label, gauge2 = _gauge_fields(nuclei, shape, reach)
        field = gauge + rough
        k = int(round(state.coverage * field.size))
        k = min(max(k, 1), field.size - 1)
        radius = np.partition(field.ravel(), k)[k]
        if np.isfinite(radius) and radius < reach - 1.0:
            break
        reach *= 1.3
    layers = _layers(state, field, radius, gauge2, rough)
    covered = layers > 0
    grains = np.where(covered, label, -1)
    boundaries = np.zeros(shape, dtype=bool)
    boundaries[:, 1:] |= (grains[:, 1:] != grains[:, :-1]) & covered[:, 1:] & covered[:, :-1]
    boundaries[1:, :] |= (grains[1:, :] != grains[:-1, :]) & covered[1:, :] & covered[:-1, :]
    truth = _film_truth(state, nuclei, layers, grains, boundaries, radius, pixel_size_nm)
    return FilmMorphology(layers, grains, boundaries, truth)
