"""Number of Difference-of-Gaussian blobs, equal to ``len(skimage.feature.blob_dog(...))``
(checked side by side in tests/test_afm_fast_paths.py).

The scale space and the peaks are scikit-image's, computed faster (:mod:`tmdlearn.afm.gauss`,
:func:`local_maxima`); the overlap pruning, a Python loop over every close pair in
``blob_dog``, is computed for all pairs at once. Pairs are visited in scikit-image's
order and a blob removed by an earlier pair removes nothing later (scikit-image's overlap of a
removed blob, radius 0, never exceeds the threshold against a live one in its favour), so only
the pairs overlapping more than ``overlap`` need the sequential pass.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import spatial

from tmdlearn.afm.gauss import gaussian_filter
from tmdlearn.afm.shifts import reduce3


def _disk_overlap(d, r1, r2) -> np.ndarray:
    """Overlapping area fraction of disks of radii ``r1``, ``r2`` with centres ``d`` apart,
    the operations of scikit-image's ``_compute_disk_overlap`` in the same order."""
    ratio1 = np.clip((d**2 + r1**2 - r2**2) / (2 * d * r1), -1, 1)
    ratio2 = np.clip((d**2 + r2**2 - r1**2) / (2 * d * r2), -1, 1)
    acos1 = np.fromiter(map(math.acos, ratio1), float, len(ratio1))
    acos2 = np.fromiter(map(math.acos, ratio2), float, len(ratio2))
    a, b, c, e = -d + r2 + r1, d - r2 + r1, d + r2 - r1, d + r2 + r1
    area = r1**2 * acos1 + r2**2 * acos2 - 0.5 * np.sqrt(np.abs(a * b * c * e))
    return area / (math.pi * np.minimum(r1, r2) ** 2)


def _pruned_count(blobs: np.ndarray, overlap: float) -> int:
    """Blobs (rows y, x, sigma) left after removing the smaller of every pair overlapping by
    more than ``overlap`` (scikit-image ``_prune_blobs`` for one sigma per blob)."""
    distance = 2 * blobs[:, -1].max() * math.sqrt(2)
    pairs = np.array(list(spatial.cKDTree(blobs[:, :-1]).query_pairs(distance)))
    if len(pairs) == 0:
        return len(blobs)
    i, j = pairs[:, 0], pairs[:, 1]
    s1, s2 = blobs[i, -1], blobs[j, -1]
    first_larger = s1 > s2
    big = np.where(first_larger, s1, s2)
    r1 = np.where(first_larger, 1.0, s1 / s2)
    r2 = np.where(first_larger, s2 / s1, 1.0)
    scale = big * math.sqrt(2)
    dy = blobs[j, 0] / scale - blobs[i, 0] / scale
    dx = blobs[j, 1] / scale - blobs[i, 1] / scale
    d = np.sqrt(dy**2 + dx**2)
    fraction = np.zeros(len(pairs))
    fraction[d <= np.abs(r1 - r2)] = 1.0
    partial = (d > np.abs(r1 - r2)) & (d <= r1 + r2)
    fraction[partial] = _disk_overlap(d[partial], r1[partial], r2[partial])
    alive = np.ones(len(blobs), dtype=bool)
    for a, b, a_larger in zip(i[fraction > overlap], j[fraction > overlap],
                              first_larger[fraction > overlap], strict=True):
        if alive[a] and alive[b]:
            alive[b if a_larger else a] = False
    return int(alive.sum())


def local_maxima(cube: np.ndarray, threshold: float) -> np.ndarray:
    """Coordinates of the elements equal to the maximum of their 3 x 3 x 3 neighbourhood and
    above ``threshold``, strongest first (ties in array order).

    Equals ``peak_local_max(cube, threshold_abs=threshold, exclude_border=False,
    footprint=np.ones((3, 3, 3)))``, whose separable maximum filter is slow along the short
    scale axis.

    Parameters
    ----------
    cube : (H, W, S) array
        Scale space (any number of dimensions; 3 x 3 x 3 in 3-D); a flat cube has no peaks.
    threshold : float
        Peaks must be strictly above it.

    Returns
    -------
    (P, cube.ndim) ndarray of int
        Peak indices, strongest first.
    """
    highest = cube
    for axis in range(cube.ndim):
        highest = reduce3(highest, np.maximum, axis)
    peak = cube == highest
    if peak.all():  # a flat cube has no peaks
        peak[:] = False
    peak &= cube > threshold
    coords = np.nonzero(peak)
    return np.transpose(coords)[np.argsort(-cube[coords], kind="stable")]


def count_dog_blobs(image: np.ndarray, min_sigma: float, max_sigma: float, threshold: float,
                    sigma_ratio: float = 1.6, overlap: float = 0.5) -> int:
    """``len(blob_dog(image, min_sigma, max_sigma, sigma_ratio, threshold, overlap,
    exclude_border=False))`` for a 2-D float image and scalar sigmas.

    Parameters
    ----------
    image : (H, W) array
        The image.
    min_sigma, max_sigma : float
        Smallest and largest Gaussian sigma (px).
    threshold : float
        Lowest difference-of-Gaussian response of a blob (image units).
    sigma_ratio : float
        Ratio of successive sigmas.
    overlap : float
        Of two blobs overlapping by more than this area fraction, the smaller is removed.

    Returns
    -------
    int
        Number of blobs.
    """
    image = np.asarray(image, dtype=float)
    k = int(np.mean(np.log(max_sigma / min_sigma) / np.log(sigma_ratio) + 1))
    sigmas = np.array([min_sigma * sigma_ratio**i for i in range(k + 1)])
    smoothed = [gaussian_filter(image, s, mode="reflect") for s in sigmas]
    # scikit-image's (y, x, scale) cube, stored scale-first so the filters run on whole planes
    cube = np.stack([smoothed[i] - smoothed[i + 1] for i in range(k)])
    cube *= 1 / (sigma_ratio - 1)
    peaks = local_maxima(np.moveaxis(cube, 0, -1), threshold)
    if len(peaks) == 0:
        return 0
    blobs = np.column_stack([peaks[:, :2].astype(float), sigmas[peaks[:, 2]]])
    return _pruned_count(blobs, overlap)
