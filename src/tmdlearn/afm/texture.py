"""Texture of a levelled AFM height map (heights in nm): roughness, Difference-of-Gaussian
blobs and grey-level co-occurrence (GLCM) statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.feature import graycomatrix, graycoprops

from tmdlearn.afm.blobs import count_dog_blobs
from tmdlearn.afm.gauss import gaussian_filter


def roughness(h: np.ndarray, smooth_sigma_px: float = 2.0) -> dict[str, float]:
    """RMS roughness Sq and mean absolute roughness Ra about the mean plane (nm), and the study's
    RMS of the image minus its Gaussian-smoothed copy (σ = ``smooth_sigma_px``), nm.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    smooth_sigma_px : float
        Smoothing of the copy (px).

    Returns
    -------
    dict
        ``sq_nm``, ``ra_nm`` and ``rms_vs_smoothed_nm`` (nm).
    """
    dev = h - h.mean()
    fine = h - gaussian_filter(h, smooth_sigma_px)
    return {"sq_nm": float(np.sqrt(np.mean(dev**2))), "ra_nm": float(np.mean(np.abs(dev))),
            "rms_vs_smoothed_nm": float(np.sqrt(np.mean(fine**2)))}


def dog_blob_count(h: np.ndarray, min_sigma_px: float = 2.0, max_sigma_px: float = 8.0,
                   threshold_nm: float = 0.1, downsample: int = 2) -> int:
    """Difference-of-Gaussian blobs (skimage ``blob_dog``) of σ in [min, max] px and DoG response
    above ``threshold_nm``; computed on the image block-averaged by ``downsample`` for speed.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    min_sigma_px, max_sigma_px : float
        Smallest and largest blob σ (px, full resolution).
    threshold_nm : float
        Least DoG response (nm).
    downsample : int
        Block-averaging factor.

    Returns
    -------
    int
    """
    if downsample > 1:
        ny, nx = (s - s % downsample for s in h.shape)
        h = h[:ny, :nx].reshape(ny // downsample, downsample, nx // downsample,
                                downsample).mean(axis=(1, 3))
    return count_dog_blobs(h, min_sigma_px / downsample, max_sigma_px / downsample, threshold_nm)


def glcm_features(h: np.ndarray, distances: Sequence[int] = (1,),
                  angles: Sequence[float] = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4),
                  levels: int = 64, range_nm: float = 3.0) -> dict[str, float]:
    """Grey-level co-occurrence texture: dissimilarity, contrast and homogeneity averaged over
    ``distances`` and ``angles``.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm); shifted so that the minimum is 0.
    distances : sequence of int
        Pixel pair distances (px).
    angles : sequence of float
        Pixel pair directions (rad).
    levels : int
        Grey levels over [0, ``range_nm``].
    range_nm : float
        Height range quantised (nm; 3 nm: the ±1.5 nm window); heights above it saturate.

    Returns
    -------
    dict
        ``glcm_dissimilarity``, ``glcm_contrast``, ``glcm_homogeneity``.
    """
    shifted = h - np.nanmin(h)
    grey = np.clip(shifted / range_nm * (levels - 1), 0, levels - 1).astype(np.uint8)
    matrix = graycomatrix(grey, distances=list(distances), angles=list(angles), levels=levels,
                          symmetric=True, normed=True)
    return {f"glcm_{prop}": float(graycoprops(matrix, prop).mean())
            for prop in ("dissimilarity", "contrast", "homogeneity")}
