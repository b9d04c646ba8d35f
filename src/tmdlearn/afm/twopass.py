"""Two-pass levelling of layered films (TopoStats' level, mask, refit, made layer-aware): two
first passes, then refits in which pixels one layer above or below the main level stay in with
the layer step subtracted. Heights in nm, fast scan along rows.
"""

from __future__ import annotations

import numpy as np

from tmdlearn.afm.shifts import dilate_cross, window3_nonconstant
from tmdlearn.afm.surface import (
    align_rows,
    fit_surface,
    flatten_lines,
    height_array,
    nan_to_num,
    nanmedian,
    plane_fit,
)
from tmdlearn.afm.thresholds import feature_mask

#: Sq (nm) of the first pass above which an image is no few-layer film: five TMD monolayer
#: steps of 0.65 nm. The layer-aware refit then takes the topography for layers and its
#: per-line fits streak the image (a ±30 nm surface came out in bands), so the rows are only
#: aligned and a quadratic surface removed (:func:`is_rough`).
ROUGH_SQ_NM = 3.25


def is_rough(h: np.ndarray) -> bool:
    """Whether ``h`` (raw heights, nm) is too rough for the two-pass film model: the Sq of its
    rows aligned by the median of differences less a quadratic surface (:func:`_row_start`)
    above :data:`ROUGH_SQ_NM`.

    Parameters
    ----------
    h : (H, W) array
        Raw heights (nm), fast scan along rows.

    Returns
    -------
    bool
    """
    return bool(np.nanstd(_row_start(height_array(h))) > ROUGH_SQ_NM)


def _row_start(h: np.ndarray) -> np.ndarray:
    """Rows aligned by the median of differences, then a quadratic surface removed."""
    return plane_fit(align_rows(h, "difference"), order=2)


def _robust_first_pass(h: np.ndarray) -> np.ndarray:
    """Rows aligned by the median of differences (removes anything that depends on y only:
    line offsets, y tilt and bow), then the x curvature and slope from the medians of the
    second and first differences along the rows, which steps and features barely move."""
    out = align_rows(h, "difference")
    x = np.arange(out.shape[1], dtype=float)
    curvature = nanmedian(np.diff(out, n=2, axis=1)) / 2.0
    out = out - curvature * x**2
    slope = nanmedian(np.diff(out, axis=1))
    out = out - slope * x
    return out - nanmedian(out)


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

    An image too rough for a film of a few layers (:func:`is_rough`), and one in which neither
    start finds a layer step (a bare substrate: the robust start's x curvature from medians of
    second differences put a 0.9 nm bow into a flat 0.05 nm sapphire scan), is levelled by its
    rows aligned by the median of differences and a quadratic surface alone.

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
    h = height_array(h)
    rows = _row_start(h)
    if np.nanstd(rows) > ROUGH_SQ_NM:
        return rows
    best, best_misfit = None, np.inf
    for start in (_robust_first_pass(h), rows):
        out, misfit = _refine(h, start, order, threshold, dilation_px, passes)
        if misfit < best_misfit:
            best, best_misfit = out, misfit
    if best_misfit >= 1.0:  # neither start found a layer step: no film, level as a rough image
        return rows
    return best


def _surface_and_step(h: np.ndarray, levels: np.ndarray, skip: np.ndarray) -> float:
    """Layer step (nm) fitted jointly with a quadratic surface to the pixels outside ``skip``,
    whose layer index relative to the main level is ``levels`` (-1, 0 or 1)."""
    return fit_surface(h, ~skip & np.isfinite(h), 2, extra=levels)[1]


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
        k = np.clip(np.round(nan_to_num(rel)), -1, 1)
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
