"""A HAADF image normalised as a segmentation model was trained: z-score, or robust (smooth
background removed, outer percentiles clipped)."""

from __future__ import annotations

from typing import Any

import numpy as np


def normalise(image: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance float32 copy of an image (counts, any dose).

    Parameters
    ----------
    image : (H, W) array
        HAADF intensities (counts).

    Returns
    -------
    (H, W) float32 array
        The normalised image (dimensionless).
    """
    image = np.asarray(image, dtype=np.float32)
    return (image - image.mean()) / max(float(image.std()), 1e-6)


#: The robust normalisation of models trained on the realistic microscope (their
#: ``meta["normalisation"]``): background smoothed over 10 Å removed, outer 0.1 % clipped.
ROBUST = {"name": "robust", "background_angstrom": 10.0, "clip_percent": [0.1, 99.9]}


def _background(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """``image`` smoothed by a Gaussian of ``sigma_px``, computed on a grid 1/4 σ coarse."""
    from scipy.ndimage import gaussian_filter
    from skimage.transform import resize

    factor = max(1, int(sigma_px / 4))
    small = resize(image, (max(1, image.shape[0] // factor), max(1, image.shape[1] // factor)),
                   order=1, anti_aliasing=factor > 1, preserve_range=True)
    small = gaussian_filter(small, sigma_px * small.shape[0] / image.shape[0], mode="reflect")
    return resize(small, image.shape, order=1, preserve_range=True)


def prepare_image(image: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """The network's input: ``image`` normalised as the model was trained.

    Robust normalisation: the background smoothed over ``background_angstrom`` is removed
    (contamination and thickness gradients), the values are clipped to the percentiles
    ``clip_percent`` (hot pixels, dead lines, saturation), then zero mean, unit variance.

    Parameters
    ----------
    image : (H, W) array
        HAADF intensities (counts) at the model's pixel size (Å/px).
    meta : dict
        The model's metadata; ``meta["normalisation"]`` holds the settings (:func:`normalise`
        for models without one).

    Returns
    -------
    (H, W) float32 array
        The normalised image.
    """
    spec = meta.get("normalisation")
    if not spec:
        return normalise(image)
    image = np.asarray(image, dtype=np.float32)
    sigma_px = float(spec["background_angstrom"]) / float(meta["pixel_size_angstrom"])
    image = image - _background(image, sigma_px)
    lo, hi = np.percentile(image, spec["clip_percent"])
    return normalise(np.clip(image, lo, hi))
