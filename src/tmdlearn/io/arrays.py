"""Validation of images stored as plain arrays (.npy, .npz, .tif)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError


def as_image(path: Path, values) -> np.ndarray:
    """``values`` as a finite 2-D float image; an RGB(A) export becomes its channel mean."""
    values = np.asarray(values)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
            or values.dtype == bool):
        raise InputError(f"expected a numeric image, got dtype {values.dtype}", path)
    values = values.astype(float)
    if values.ndim == 3 and values.shape[-1] in (3, 4):
        values = values[..., :3].mean(axis=-1)
    if values.ndim != 2 or min(values.shape) < 2:
        raise InputError(f"expected a 2-D image, got shape {values.shape}", path)
    if not np.all(np.isfinite(values)):
        raise InputError("the image contains NaN or infinite values", path)
    return values
