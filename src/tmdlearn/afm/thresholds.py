"""Height thresholds of AFM height maps (heights in nm) from their histograms: Otsu's threshold
in a window about the median, the substrate level (the lowest well-populated histogram peak) and
the mask of raised features that the two-pass levelling keeps out of its refit.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks
from skimage.filters import threshold_otsu

from tmdlearn.afm.shifts import dilate_cross
from tmdlearn.afm.surface import height_array
from tmdlearn.errors import InputError


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for evenly spaced ``edges``, without numpy's sort:
    each value's bin from its offset, corrected against the actual edges.

    Parameters
    ----------
    values : ndarray
        Values (any shape is read flat; NaN falls in no bin).
    edges : (B + 1,) array
        Evenly spaced, increasing bin edges; the last bin includes its right edge.

    Returns
    -------
    (B,) ndarray of int
        Counts per bin.
    """
    step = (edges[-1] - edges[0]) / (len(edges) - 1)
    inside = values[(values >= edges[0]) & (values <= edges[-1])]
    index = np.clip(((inside - edges[0]) / step).astype(np.intp), 0, len(edges) - 2)
    index -= inside < edges[index]
    index += (inside >= edges[index + 1]) & (index < len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1)


def otsu_in_window(values: np.ndarray, window_nm: float = 1.5) -> float:
    """Otsu threshold of heights clipped to median ± ``window_nm``, so that tall particles do
    not pull the threshold away from the substrate/film step.

    Parameters
    ----------
    values : ndarray
        Heights (nm); non-finite values are ignored.
    window_nm : float
        Half-width of the clipping window (nm).

    Returns
    -------
    float
        The threshold (nm).
    """
    values = values[np.isfinite(values)]
    centre = np.median(values)
    return float(threshold_otsu(np.clip(values, centre - window_nm, centre + window_nm)))


def substrate_level(h: np.ndarray, min_fraction: float = 0.05, bin_nm: float = 0.01,
                    window_nm: float = 3.0) -> float:
    """Height of the substrate: the lowest peak of the height histogram holding at least
    ``min_fraction`` of the pixels within ±0.1 nm of it; the median when no peak qualifies.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm); non-finite pixels are ignored.
    min_fraction : float
        Smallest fraction of all pixels within ±0.1 nm of a qualifying peak.
    bin_nm : float
        Histogram bin width (nm); the histogram is smoothed over 3 bins.
    window_nm : float
        The histogram spans median ± ``window_nm`` (nm).

    Returns
    -------
    float
        Substrate height (nm).
    """
    values = np.asarray(h, dtype=float)
    values = values[np.isfinite(values)]
    centre = np.median(values)
    edges = np.arange(centre - window_nm, centre + window_nm + bin_nm, bin_nm)
    counts = histogram_counts(values, edges)
    smooth = ndimage.gaussian_filter1d(counts.astype(float), 3.0)
    peaks, _ = find_peaks(smooth, prominence=0.02 * smooth.max())
    half = int(round(0.1 / bin_nm))
    for peak in peaks:  # ascending heights
        if counts[max(peak - half, 0):peak + half + 1].sum() >= min_fraction * values.size:
            return float(0.5 * (edges[peak] + edges[peak + 1]))
    return float(centre)


def feature_mask(h: np.ndarray, threshold: str | float = "otsu",
                 dilation_px: int = 2) -> np.ndarray:
    """Raised features of a first-pass levelled image, grown by ``dilation_px`` pixels so
    feature edges stay out of the refit.

    Parameters
    ----------
    h : (H, W) array
        First-pass levelled heights (nm).
    threshold : str or float
        "otsu": pixels above the Otsu threshold (:func:`otsu_in_window`); a number: pixels
        above ``median + threshold * std`` (TopoStats uses 1.0).
    dilation_px : int
        Growth of the mask (px, cross-shaped steps); 0 for none.

    Returns
    -------
    (H, W) ndarray of bool
        True on raised features.
    """
    h = height_array(h)
    finite = h[np.isfinite(h)]
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise InputError(f"threshold must be 'otsu' or a number, got {threshold!r}")
        level = otsu_in_window(finite)
    else:
        level = np.median(finite) + float(threshold) * finite.std()
    mask = h > level  # NaN is never above
    if dilation_px > 0:
        mask = dilate_cross(mask, dilation_px)
    return mask
