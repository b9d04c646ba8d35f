"""Number of h-maxima of an image without computing the h-maxima image.

``count_h_maxima(image, h)`` equals the number of 8-connected components of
``skimage.morphology.h_maxima(image, h)`` (checked side by side in
tests/test_afm_fast_paths.py) at a fraction of its cost: one sort and one union-find pass.

A regional-maximum plateau of height m is an h-maximum when every path from it to a strictly
higher pixel descends to m - h or lower. Pixels are added from the highest down and joined to
their already-added 8-neighbours; each component keeps its top height and the number of plateaus
at that height that have not yet met a higher component. When a component meets a strictly
higher one at level v, its plateaus are counted if m - v >= h; plateaus never met by a higher
component are counted at the end. Pixels at the image minimum are not visited: they join all
components at the end, at the minimum level.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True, nogil=True)
def _count(values: np.ndarray, order: np.ndarray, low: float, ny: int, nx: int,
           h: float) -> int:
    parent = np.full(ny * nx, -1, dtype=np.int64)
    top = np.empty(ny * nx)
    alive = np.zeros(ny * nx, dtype=np.int64)
    count = 0
    for p in order:
        level = values[p]
        parent[p], top[p], alive[p] = p, level, 1
        row, col = p // nx, p % nx
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                r, c = row + dr, col + dc
                if (dr == 0 and dc == 0) or r < 0 or r >= ny or c < 0 or c >= nx:
                    continue
                q = r * nx + c
                if parent[q] < 0:
                    continue
                a, b = _find(parent, p), _find(parent, q)
                if a == b:
                    continue
                if top[a] < top[b]:
                    a, b = b, a
                if top[a] == top[b]:  # same height: one plateau if joined at it, else both live
                    alive[a] = 1 if level == top[a] else alive[a] + alive[b]
                elif top[b] - level >= h:  # b's plateaus meet a higher one deep enough below
                    count += alive[b]
                parent[b] = a
    # The pixels at the image minimum (left out of ``order``) join everything at level ``low``:
    # components with the highest top are never met by a higher one, the others then are.
    highest = top[order[0]] if len(order) else low
    for p in order:
        if parent[p] == p and (top[p] == highest or top[p] - low >= h):
            count += alive[p]
    return count if len(order) else 0  # a flat image has none (as scikit-image)


def count_h_maxima(image: np.ndarray, h: float) -> int:
    """Number of 8-connected h-maxima (regional maxima of dynamic >= ``h``) of a 2-D image.

    Parameters
    ----------
    image : (H, W) array
        Finite image (e.g. a distance map, px).
    h : float
        Least dynamic, positive (image units).

    Returns
    -------
    int
        Number of h-maxima (0 for a flat image).
    """
    image = np.ascontiguousarray(image, dtype=float)
    if image.ndim != 2 or not h > 0 or not np.isfinite(image).all():
        raise ValueError("count_h_maxima needs a finite 2-D image and h > 0")
    values = image.ravel()
    # Highest first, leaving out the pixels at the minimum (the background of a distance map).
    low = values.min()
    above = np.flatnonzero(values > low)
    order = above[np.argsort(-values[above], kind="stable")]
    return int(_count(values, order, float(low), image.shape[0], image.shape[1], float(h)))
