"""Preprocessing of spectra, batched over N spectra (N, L) on one axis (L,).

Maps are flattened first (``SpectralMap.spectra(mask)``); :func:`background_mask` gives the
flake/background mask of a map. Every function takes and returns plain arrays.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.integrate import trapezoid

from tmdlearn.errors import InputError
from tmdlearn.progress import track


def _as_batch(intensity) -> np.ndarray:
    intensity = np.asarray(intensity, dtype=float)
    return intensity[None, :] if intensity.ndim == 1 else intensity


def _interpolate_flagged(intensity: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """Replace flagged channels by linear interpolation between their unflagged neighbours."""
    out = intensity.copy()
    channels = np.arange(intensity.shape[1])
    for i in np.flatnonzero(flagged.any(axis=1)):
        keep = ~flagged[i]
        if keep.sum() >= 2:
            out[i, ~keep] = np.interp(channels[~keep], channels[keep], intensity[i, keep])
    return out


def _spikes(score: np.ndarray, threshold: float, width: int) -> np.ndarray:
    """Channels (N, L) of spikes: a rise above ``threshold`` from a quiet channel followed
    within ``width`` channels by a fall below -``threshold`` back to a quiet one (``score``
    (N, L-1) scores the first differences). A real peak's flanks rise and fall over many
    channels and are left alone."""
    quiet = np.abs(score) < threshold / 2
    edge = np.ones((score.shape[0], 1), dtype=bool)
    # a spike rises from and falls back to quiet channels; a peak's flanks do not
    up = (score > threshold) & np.hstack([edge, quiet[:, :-1]])
    down = (score < -threshold) & np.hstack([quiet[:, 1:], edge])
    flagged = np.zeros((score.shape[0], score.shape[1] + 1), dtype=bool)
    for k in range(1, width + 1):
        both = up[:, :-k] & down[:, k:]  # rise into channel d + 1, fall out of channel d + k
        for j in range(1, k + 1):
            flagged[:, j:j + both.shape[1]] |= both
    margin = flagged.copy()  # one channel each side for the spike's shoulders
    margin[:, 1:] |= flagged[:, :-1]
    margin[:, :-1] |= flagged[:, 1:]
    return margin


def despike_difference(intensity, threshold: float = 8.0, width: int = 3) -> np.ndarray:
    """Remove cosmic-ray spikes by a first-difference threshold (the WSe2 study's method).

    A spike is a jump up larger than ``threshold`` times the spectrum's robust spread of first
    differences (1.4826 x median absolute deviation) followed, within ``width`` channels, by a
    jump down as large; its channels (plus one each side) are replaced by linear interpolation.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units (counts).
    threshold : float
        Jump size, in robust spreads of the first differences.
    width : int
        Longest spike, in channels.

    Returns
    -------
    (N, L) array
        The despiked spectra.
    """
    y = _as_batch(intensity)
    diff = np.diff(y, axis=1)
    spread = 1.4826 * np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1)
    score = diff / np.maximum(spread, 1e-12)[:, None]
    return _interpolate_flagged(y, _spikes(score, threshold, width))


def despike_whitaker_hayes(intensity, threshold: float = 6.0, width: int = 3) -> np.ndarray:
    """Whitaker–Hayes despiking: modified z-scores of the first differences (Whitaker & Hayes,
    Chemom. Intell. Lab. Syst. 179, 82 (2018)) above ``threshold``, a rise then a fall within
    ``width`` channels; spike channels are replaced by linear interpolation.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units (counts).
    threshold : float
        Modified z-score above which a first difference is a spike's edge.
    width : int
        Longest spike, in channels.

    Returns
    -------
    (N, L) array
        The despiked spectra.
    """
    y = _as_batch(intensity)
    diff = np.diff(y, axis=1)
    median = np.median(diff, axis=1, keepdims=True)
    mad = np.median(np.abs(diff - median), axis=1, keepdims=True)
    z = 0.6745 * (diff - median) / np.maximum(mad, 1e-12)
    return _interpolate_flagged(y, _spikes(z, threshold, width))


def despike_map(cube, mask=None, threshold: float = 5.0, spatial_k: float = 6.0,
               chunk: int = 128) -> np.ndarray:
    """Despike a map (ny, nx, L) using the neighbouring pixels.

    A channel is replaced by its first-difference interpolation
    (:func:`~tmdlearn.spectra.despike_difference`, the study's method) only where it also
    stands ``spatial_k`` robust σ above the median of its 3 x 3 neighbours within ``mask``
    (σ: 1.4826 MAD of that channel's residuals over the mask), so narrow, strong Raman peaks,
    present in every flake pixel, are kept while single-pixel cosmic rays are removed.

    Parameters
    ----------
    cube : (ny, nx, L) array
        The map's spectra, in intensity units (counts).
    mask : (ny, nx) bool array, optional
        Pixels compared with each other (e.g. the flake); all when None.
    threshold : float
        Jump size of :func:`despike_difference`, in robust spreads of the first differences.
    spatial_k : float
        Height above the neighbours' median, in robust σ, that confirms a spike.
    chunk : int
        Channels compared at a time (bounds memory).

    Returns
    -------
    (ny, nx, L) array
        The despiked map.
    """
    cube = np.asarray(cube, dtype=float)
    ny, nx, n_channels = cube.shape
    mask = np.ones((ny, nx), bool) if mask is None else np.asarray(mask, bool)
    cleaned = despike_difference(cube.reshape(-1, n_channels), threshold=threshold)
    cleaned = cleaned.reshape(cube.shape)
    out = cube.copy()
    for start in range(0, n_channels, chunk):
        part = np.where(mask[..., None], cube[..., start:start + chunk], np.nan)
        padded = np.pad(part, ((1, 1), (1, 1), (0, 0)), constant_values=np.nan)
        shifted = [padded[1 + dy:1 + dy + ny, 1 + dx:1 + dx + nx]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            residual = part - np.nanmedian(np.stack(shifted), axis=0)
            centred = residual - np.nanmedian(residual[mask], axis=0)
            sigma = 1.4826 * np.nanmedian(np.abs(centred[mask]), axis=0)
            outlier = residual > spatial_k * np.maximum(sigma, 1e-12)
        outlier[..., 1:] |= outlier[..., :-1]
        outlier[..., :-1] |= outlier[..., 1:]
        window = slice(start, start + chunk)
        changed = outlier & (cleaned[..., window] != cube[..., window]) & mask[..., None]
        out[..., window] = np.where(changed, cleaned[..., window], cube[..., window])
    return out


#: The values of the config key ``preprocess.despike`` (spectra and explain alike).
DESPIKE = ("none", "difference", "whitaker-hayes", "map")


def despike(intensity, method: str, threshold: float | None = None, mask=None,
            spatial_k: float = 6.0) -> np.ndarray:
    """Despike with a method of :data:`DESPIKE`.

    Parameters
    ----------
    intensity : (N, L) or (ny, nx, L) array
        Spectra or a map, in intensity units (counts).
    method : str
        ``none``, ``difference`` (:func:`despike_difference`), ``whitaker-hayes``
        (:func:`despike_whitaker_hayes`), both on spectra (N, L) or a map (ny, nx, L), or
        ``map`` (:func:`despike_map`: a map (ny, nx, L) only, spikes confirmed by the 3 x 3
        neighbours within ``mask``).
    threshold : float, optional
        The method's threshold; None: the method's own default.
    mask : (ny, nx) bool array, optional
        Pixels compared with each other by ``map``.
    spatial_k : float
        Height above the neighbours' median, in robust σ, for ``map``.

    Returns
    -------
    array
        The despiked spectra, shaped like ``intensity``.
    """
    if method not in DESPIKE:
        raise InputError(f"preprocess.despike must be one of {', '.join(DESPIKE)}, got "
                         f"{method!r}")
    if method == "none":
        return intensity
    options = {} if threshold is None else {"threshold": threshold}
    if method == "map":
        if np.ndim(intensity) != 3:
            raise InputError("preprocess.despike map needs a map (ny, nx, L) input")
        return despike_map(intensity, mask, spatial_k=spatial_k, **options)
    one = despike_difference if method == "difference" else despike_whitaker_hayes
    shape = np.shape(intensity)
    return one(np.reshape(intensity, (-1, shape[-1])), **options).reshape(shape)


def baseline(intensity, axis, method: str = "arpls", progress: bool = False,
             **params) -> np.ndarray:
    """Baselines (N, L) from any pybaselines 1-D algorithm by name.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV).
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

    y = _as_batch(intensity)
    fitter = Baseline(x_data=np.asarray(axis, dtype=float))
    if not hasattr(fitter, method):
        raise InputError(f"unknown pybaselines method {method!r}")
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
        Spectra, in intensity units.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV).
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
        Spectra, in intensity units.
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
    raise InputError(f"normalisation must be minmax, max or area, got {method!r}")


def crop(intensity, axis, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The channels with ``low <= axis <= high``.

    Parameters
    ----------
    intensity : (N, L) or (L,) array
        Spectra, in intensity units.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV).
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
        Spectra, in intensity units.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV).
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
