"""Preprocessing of spectra, batched over N spectra (N, L) on one axis (L,).

Maps are flattened first (``SpectralMap.spectra(mask)``); :func:`background_mask` gives the
flake/background mask of a map. Every function takes and returns plain arrays. Despiking is in
:mod:`tmdlearn.spectra.despike`.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid

from tmdlearn.errors import InputError
from tmdlearn.progress import track
from tmdlearn.spectra.despike import (  # noqa: F401 - re-exported: their import path before
    DESPIKE,
    despike,
    despike_difference,
    despike_map,
    despike_whitaker_hayes,
)


def _as_batch(intensity) -> np.ndarray:
    intensity = np.asarray(intensity, dtype=float)
    return intensity[None, :] if intensity.ndim == 1 else intensity


#: The ``method`` names :func:`normalise` takes.
NORMALISE = ("minmax", "max", "area")


def baseline_methods() -> tuple[str, ...]:
    """The pybaselines 1-D algorithms :func:`baseline` takes by name (``arpls``, ...).

    Returns
    -------
    tuple of str
    """
    from pybaselines import Baseline

    return tuple(m for m in dir(Baseline) if not m.startswith("_")
                 and callable(getattr(Baseline, m)))


def baseline(intensity, axis, method: str = "arpls", progress: bool = False,
             **params) -> np.ndarray:
    """Baselines (N, L) from any pybaselines 1-D algorithm by name.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units; one baseline is fitted to each.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV): the algorithm's x data.
    method : str
        A pybaselines algorithm: ``arpls``, ``asls``, ``modpoly``, ``snip``, ``imodpoly``, ...
    progress : bool
        Show a progress bar.
    **params
        That algorithm's keyword parameters.

    Returns
    -------
    (N, L) array
        The baselines, in intensity units.
    """
    from pybaselines import Baseline

    if method not in baseline_methods():
        raise InputError(f"unknown pybaselines method {method!r}")
    y = _as_batch(intensity)
    fitter = Baseline(x_data=np.asarray(axis, dtype=float))
    function = getattr(fitter, method)
    rows = track(range(y.shape[0]), f"baseline {method}") if progress else range(y.shape[0])
    return np.stack([function(y[i], **params)[0] for i in rows])


def anchor_baseline(intensity, axis, anchors, half_width: float = 2.0) -> np.ndarray:
    """Piecewise-linear baseline through anchor points (the WSe2 study's baseline).

    Each anchor takes the spectrum's mean within ± ``half_width`` of it; the baseline
    interpolates linearly between anchors and is constant beyond the outer ones.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units, averaged near each anchor.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV), any order.
    anchors : sequence of float
        Anchor positions, in axis units (cm⁻¹ or eV).
    half_width : float
        Half-width of the averaging window around each anchor, in axis units.

    Returns
    -------
    (N, L) array
        The baselines, in intensity units.
    """
    y = _as_batch(intensity)
    axis = np.asarray(axis, dtype=float)
    anchors = np.sort(np.asarray(anchors, dtype=float))
    levels = []
    for anchor in anchors:
        near = np.abs(axis - anchor) <= half_width
        if not near.any():
            near = np.abs(axis - anchor) == np.abs(axis - anchor).min()
        levels.append(y[:, near].mean(axis=1))
    levels = np.stack(levels, axis=1)
    # vectorised interpolation: weights of each axis point on its two neighbouring anchors
    j = np.clip(np.searchsorted(anchors, axis) - 1, 0, anchors.size - 2) if anchors.size > 1 \
        else np.zeros(axis.size, dtype=int)
    if anchors.size == 1:
        return np.repeat(levels, axis.size, axis=1)
    t = np.clip((axis - anchors[j]) / (anchors[j + 1] - anchors[j]), 0.0, 1.0)
    return levels[:, j] * (1.0 - t) + levels[:, j + 1] * t


def normalise(intensity, method: str = "minmax", axis=None) -> np.ndarray:
    """Normalise each spectrum; flat spectra become NaN.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units; each is scaled on its own.
    method : str
        ``minmax`` to [0, 1] (the MoS2 study), ``max`` (divide by the maximum) or ``area``
        (unit trapezoid area over ``axis``).
    axis : (L,) array, optional
        Raman shift (cm⁻¹) or photon energy (eV); needed by ``area``.

    Returns
    -------
    (N, L) array
        The normalised spectra (dimensionless).
    """
    y = _as_batch(intensity)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "minmax":
            low = y.min(axis=1, keepdims=True)
            span = y.max(axis=1, keepdims=True) - low
            return (y - low) / np.where(span > 0, span, np.nan)
        if method == "max":
            top = y.max(axis=1, keepdims=True)
            return y / np.where(top != 0, top, np.nan)
        if method == "area":
            if axis is None:
                raise InputError("area normalisation needs the axis")
            area = trapezoid(y, np.asarray(axis, dtype=float), axis=1)[:, None]
            return y / np.where(area != 0, area, np.nan)
    raise InputError(f"normalisation must be one of {', '.join(NORMALISE)}, got {method!r}")


def crop(intensity, axis, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The channels with ``low <= axis <= high``.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units (returned unscaled).
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV); the window must hold at least 2 points.
    low, high : float
        Limits, in axis units (cm⁻¹ or eV), both kept.

    Returns
    -------
    intensity : (N, L') array
        The kept channels.
    axis : (L',) array
        Their axis values.
    """
    y = _as_batch(intensity)
    axis = np.asarray(axis, dtype=float)
    keep = (axis >= low) & (axis <= high)
    if keep.sum() < 2:
        raise InputError(f"the window [{low}, {high}] holds fewer than 2 points of the axis "
                         f"[{axis.min():g}, {axis.max():g}]")
    return y[:, keep], axis[keep]


def resample(intensity, axis, grid) -> np.ndarray:
    """Linear interpolation of every spectrum onto ``grid``; points outside the axis are NaN.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units, interpolated linearly.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV), any order (sorted first).
    grid : (M,) array
        New axis, in the same unit (e.g. the MoS2 study's 202-point Raman window:
        ``np.linspace(360, 480, 202)`` cm⁻¹).

    Returns
    -------
    (N, M) array
        The spectra on ``grid``.
    """
    y = _as_batch(intensity)
    axis = np.asarray(axis, dtype=float)
    grid = np.asarray(grid, dtype=float)
    order = np.argsort(axis)
    axis, y = axis[order], y[:, order]
    j = np.clip(np.searchsorted(axis, grid) - 1, 0, axis.size - 2)
    t = (grid - axis[j]) / (axis[j + 1] - axis[j])
    out = y[:, j] * (1.0 - t) + y[:, j + 1] * t
    out[:, (grid < axis[0]) | (grid > axis[-1])] = np.nan
    return out


def background_mask(intensity_map, k: float = 3.0, corner: int = 3,
                    signal: np.ndarray | None = None) -> np.ndarray:
    """Flake mask (ny, nx) of a map: pixels whose signal exceeds mean + ``k`` · sigma of the
    four ``corner`` x ``corner`` corner blocks (assumed bare substrate).

    Parameters
    ----------
    intensity_map : (ny, nx, L) array
        The map's spectra, in intensity units.
    k : float
        Threshold above the corners' mean, in their standard deviations.
    corner : int
        Side of each corner block, in pixels.
    signal : (ny, nx) array, optional
        The per-pixel quantity (default: integrated intensity of ``intensity_map``).

    Returns
    -------
    (ny, nx) bool array
        True on the flake.
    """
    cube = np.asarray(intensity_map, dtype=float)
    if signal is None:
        if cube.ndim != 3:
            raise InputError(f"a map must be (ny, nx, L), got shape {cube.shape}")
        signal = np.nansum(cube, axis=2)
    signal = np.asarray(signal, dtype=float)
    c = corner_rows(signal.shape, corner)
    return signal > corner_threshold(signal[:c], signal[-c:], k)


def corner_rows(shape: tuple[int, int], corner: int = 3) -> int:
    """Side of the corner blocks of :func:`background_mask` for a map of ``shape`` (pixels).

    Parameters
    ----------
    shape : tuple of int
        The map's (ny, nx).
    corner : int
        The wanted side, in pixels.

    Returns
    -------
    int
        ``corner``, at most half the map's side, at least 1.
    """
    return max(1, min(corner, shape[0] // 2, shape[1] // 2))


def corner_threshold(top, bottom, k: float = 3.0) -> float:
    """The flake threshold of :func:`background_mask` from the map's first and last rows only
    (a map read a chunk at a time).

    Parameters
    ----------
    top, bottom : (c, nx) arrays
        The per-pixel signal of the map's first and last ``c`` rows, ``c`` from
        :func:`corner_rows`; the corner blocks are c x c.
    k : float
        Threshold above the corners' mean, in their standard deviations.

    Returns
    -------
    float
        Mean + ``k`` · sigma of the four corner blocks, in the signal's units.
    """
    c = len(top)
    corners = np.concatenate([top[:c, :c].ravel(), top[:c, -c:].ravel(),
                              bottom[-c:, :c].ravel(), bottom[-c:, -c:].ravel()])
    return corners.mean() + k * corners.std()
