"""Cosmic-ray spikes removed from spectra (N, L) and maps (ny, nx, L): first-difference and
Whitaker–Hayes detectors, a map method confirmed by the neighbouring pixels, and
:func:`despike`, the one entry for the config key ``preprocess.despike``."""

from __future__ import annotations

import warnings

import numpy as np

from tmdlearn.errors import InputError


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


def _jump_score(diff: np.ndarray) -> np.ndarray:
    """First differences (N, L-1) in robust spreads (1.4826 x MAD) of their spectrum."""
    spread = 1.4826 * np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1)
    return diff / np.maximum(spread, 1e-12)[:, None]


def _modified_z(diff: np.ndarray) -> np.ndarray:
    """Modified z-scores (N, L-1) of first differences: 0.6745 (d - median) / MAD."""
    median = np.median(diff, axis=1, keepdims=True)
    mad = np.median(np.abs(diff - median), axis=1, keepdims=True)
    return 0.6745 * (diff - median) / np.maximum(mad, 1e-12)


def _despike_scored(intensity, score, threshold: float, width: int) -> np.ndarray:
    """Spectra (N, L) with the spikes :func:`_spikes` finds in ``score`` of the first
    differences replaced by linear interpolation."""
    y = np.atleast_2d(np.asarray(intensity, dtype=float))
    return _interpolate_flagged(y, _spikes(score(np.diff(y, axis=1)), threshold, width))


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
    return _despike_scored(intensity, _jump_score, threshold, width)


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
        The spectra, spike channels and one channel each side linearly interpolated.
    """
    return _despike_scored(intensity, _modified_z, threshold, width)


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
