"""Tiles of a large image for the network: where they start, how they are blended, and how
a tile's layer branches are matched to its neighbours'
(:func:`tmdlearn.stem.inference.predict_tiled`)."""

from __future__ import annotations

import itertools

import numpy as np

#: Overlap (model px) of neighbouring tiles in :func:`predict_tiled`.
TILE_OVERLAP_PX = 48


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start indices of the fewest tiles of ``tile`` px that cover ``length`` px with
    neighbours overlapping by at least ``overlap`` px, evenly spaced from the first to the
    last pixel (one tile if it fits).

    Parameters
    ----------
    length : int
        Image side, in px.
    tile : int
        Tile side, in px.
    overlap : int
        Least overlap of neighbouring tiles, in px.

    Returns
    -------
    list of int
        First pixel of each tile.
    """
    if length <= tile:
        return [0]
    count = 1 + int(np.ceil((length - tile) / max(1, tile - overlap)))
    return [int(v) for v in np.round(np.linspace(0, length - tile, count))]


def blend_window(size: int, before: int, after: int) -> np.ndarray:
    """1-D weights (``size``,) of a tile: a raised-cosine rise over the ``before`` px it shares
    with the previous tile, a fall over the ``after`` px shared with the next, 1 between
    (and at the image edges). Two neighbours' weights sum to 1 on their overlap; never zero
    (:func:`predict_tiled` divides by the summed weights, also where three tiles meet).

    Parameters
    ----------
    size : int
        Tile side, in px.
    before, after : int
        Overlap with the previous and the next tile, in px (0 at an image edge).

    Returns
    -------
    (size,) array
        The weights.
    """
    weights = np.ones(size, np.float32)
    for n, start in ((before, True), (after, False)):
        if n > 0:
            ramp = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2
            if start:
                weights[:n] = ramp
            else:
                weights[size - n:] = ramp[::-1]
    return weights


def match_branches(logits: np.ndarray, reference: np.ndarray, weights: np.ndarray
                   ) -> tuple[int, ...]:
    """The permutation ``perm`` (branch b -> reference branch perm[b]) that brings
    ``logits`` closest to ``reference``: the largest summed covariance, with pixel
    ``weights``, of the centred logits (the smallest weighted squared difference). On a thin
    strip where two tiles overlap the logits decide more reliably than the masks' IoU
    (:func:`tmdlearn.stem.metrics.best_assignment`), because both tiles see only part of
    their usual context there.

    Parameters
    ----------
    logits, reference : (B, S, N) array
        Logits of B branches, S species on N pixels.
    weights : (N,) array
        Pixel weights.

    Returns
    -------
    tuple of int
        ``perm``.
    """
    w = np.asarray(weights, float) / max(float(np.sum(weights)), 1e-12)
    p = logits.reshape(len(logits), -1, w.size)
    q = reference.reshape(len(reference), -1, w.size)
    p = p - (p * w).sum(-1, keepdims=True)
    q = q - (q * w).sum(-1, keepdims=True)
    cov = np.einsum("bsn,csn,n->bc", p, q, w)
    branches = range(len(cov))
    return max(itertools.permutations(branches),
               key=lambda perm: cov[list(branches), list(perm)].sum())
