"""Levelling of AFM height maps (heights in nm, fast scan along rows): the default pipeline
:func:`level`, scar removal, zeroing, clipping to a height window and resizing for CNN input.

The fits it chains live in :mod:`tmdlearn.afm.surface` (plane, per-line polynomials, row
alignment), :mod:`tmdlearn.afm.thresholds` (histogram thresholds, substrate level, feature
mask) and :mod:`tmdlearn.afm.twopass` (the layer-aware two-pass method); their public functions
are importable from here too.

All functions take and return 2-D float arrays; masks are boolean arrays of the same shape whose
True pixels are *excluded* from the fits.
"""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

from tmdlearn.afm.shifts import long_row_runs
from tmdlearn.afm.surface import align_rows, flatten_lines, height_array, plane_fit
from tmdlearn.afm.thresholds import (
    feature_mask,
    histogram_counts,
    otsu_in_window,
    substrate_level,
)
from tmdlearn.afm.twopass import flatten_two_pass
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError

__all__ = ["LEVEL_METHODS", "ZEROS", "align_rows", "clip_height", "feature_mask",
           "flatten_lines", "flatten_two_pass", "histogram_counts", "level", "otsu_in_window",
           "plane_fit", "remove_scars", "resize_image", "substrate_level", "zero_height"]

#: The ``method`` and ``zero`` names :func:`level` takes.
LEVEL_METHODS = ("two-pass", "lines", "plane")
ZEROS = ("substrate", "median", "none")


def remove_scars(h: np.ndarray, threshold_nm: float = 0.666, max_width: int = 4,
                 min_length: int = 16) -> np.ndarray:
    """Replace scars by linear interpolation between the line before and the line after.

    A scar is a streak along the fast-scan axis, 1 to ``max_width`` lines thick and at least
    ``min_length`` pixels long, standing more than ``threshold_nm`` above or below both the
    line before and the line after. Defaults are TopoStats' (threshold 0.666, max width 4
    lines, min length 16 pixels).

    Parameters
    ----------
    h : (H, W) array
        Heights (nm), fast scan along rows.
    threshold_nm : float
        Least height (nm) of a scar above or below both neighbouring lines.
    max_width : int
        Thickest scar (lines).
    min_length : int
        Shortest scar (px along the row).

    Returns
    -------
    (H, W) ndarray
        Heights (nm) with scars replaced.
    """
    h = height_array(h).copy()
    ny = h.shape[0]
    for width in range(1, min(max_width, ny - 2) + 1):
        above, below = h[: ny - width - 1], h[width + 1:]
        raised = np.ones(above.shape, dtype=bool)
        sunk = raised.copy()
        for j in range(width):
            band = h[1 + j: ny - width + j]
            for side in (above, below):
                step = band - side
                raised &= step > threshold_nm
                sunk &= -step > threshold_nm
        for scar in (raised, sunk):
            if not scar.any():
                continue
            tops, cols = np.nonzero(long_row_runs(scar, min_length))
            for j in range(width):
                t = (j + 1) / (width + 1)
                h[tops + 1 + j, cols] = above[tops, cols] * (1 - t) + below[tops, cols] * t
    return h


def zero_height(h: np.ndarray, mask: np.ndarray | None = None, stat: str = "median") -> np.ndarray:
    """Shift heights so that the ``stat`` of the pixels selected by ``mask`` is 0 nm.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    mask : (H, W) bool array, optional
        Reference pixels (True: used, e.g. the substrate); all pixels when None or empty.
    stat : str
        "median", "mean" or "min" (NaN ignored).

    Returns
    -------
    (H, W) ndarray
        Shifted heights (nm).
    """
    h = height_array(h)
    ref = h[mask] if mask is not None and mask.any() else h
    funcs = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin}
    if stat not in funcs:
        raise InputError(f"stat must be one of {', '.join(funcs)}, got {stat!r}")
    return h - funcs[stat](ref)


def clip_height(h: np.ndarray, window_nm: float = 1.5) -> np.ndarray:
    """Clip heights to [-window_nm, window_nm] (±1.5 nm in the MoS2 study).

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    window_nm : float
        Half-width of the window (nm), positive.

    Returns
    -------
    (H, W) ndarray
        Clipped heights (nm).
    """
    if not window_nm > 0:
        raise InputError(f"window_nm must be positive, got {window_nm}")
    return np.clip(height_array(h), -window_nm, window_nm)


def resize_image(h: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize to ``size`` x ``size`` pixels (antialiased, values kept in nm) for CNN input.

    Parameters
    ----------
    h : (H, W) array
        Heights (nm).
    size : int
        Side of the output (px).

    Returns
    -------
    (size, size) ndarray
        Heights (nm), bilinear with anti-aliasing.
    """
    return resize(height_array(h), (size, size), order=1, anti_aliasing=True, preserve_range=True)


def level(h, method: str = "two-pass", order: int = 2, threshold: str | float = "otsu",
          scars: bool = True, zero: str = "substrate"):
    """The default levelling pipeline; array in, array out (a :class:`HeightMap` gives one back).

    Parameters
    ----------
    h : (H, W) array or HeightMap
        Raw heights (nm), fast scan along rows.
    method : str
        "two-pass" (default, :func:`flatten_two_pass`), "lines" (plane + line flattening) or
        "plane".
    order : int
        Line polynomial order 0-2 (2 removes the scanner bow along the fast axis).
    threshold : str or float
        Feature mask of the two-pass method ("otsu" or a number of standard deviations).
    scars : bool
        Remove scars after flattening (:func:`remove_scars`, TopoStats defaults).
    zero : str
        "substrate" (the substrate peak of the histogram, :func:`substrate_level`, is 0 nm),
        "median" or "none".

    Returns
    -------
    (H, W) ndarray or HeightMap
        Levelled heights (nm), of the input's type.
    """
    if isinstance(h, HeightMap):
        return h.with_values(level(h.height_nm, method, order, threshold, scars, zero))
    if method == "two-pass":
        out = flatten_two_pass(h, order=order, threshold=threshold)
    elif method == "lines":
        out = flatten_lines(plane_fit(h), order=order)
    elif method == "plane":
        out = plane_fit(h)
    else:
        raise InputError(f"method must be one of {', '.join(LEVEL_METHODS)}, got {method!r}")
    if scars:
        out = remove_scars(out)
    if zero == "substrate":
        out = out - substrate_level(out)
    elif zero == "median":
        out = zero_height(out)
    elif zero != "none":
        raise InputError(f"zero must be one of {', '.join(ZEROS)}, got {zero!r}")
    return out
