"""Validation of images stored as plain arrays (.npy, .npz, .tif)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError


def as_image(path: Path, values) -> np.ndarray:
    """``values`` as a finite 2-D float image; an RGB(A) export becomes its channel mean.

    Parameters
    ----------
    path : Path
        The file the values came from (named in errors).
    values : array_like
        (H, W) or (H, W, 3|4) numeric or boolean values.

    Returns
    -------
    (H, W) ndarray of float

    Raises
    ------
    InputError
        For a non-numeric dtype, a shape other than 2-D (or RGB(A)), or NaN / infinite values.
    """
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


#: Largest array a reader allocates from sizes a file declares: 2 GiB (a 16k × 16k float64
#: image). Sizes are checked before anything is allocated.
MAX_ARRAY_BYTES = 2 * 1024**3


def check_declared_size(path: Path, shape, dtype, available: int | None, what: str) -> None:
    """InputError when an array of ``shape`` and ``dtype`` declared by a header would need
    more than ``available`` bytes (what the file really holds for it) or more than
    :data:`MAX_ARRAY_BYTES`.

    Parameters
    ----------
    path : Path
        The file (named in errors).
    shape : sequence of int
        The declared shape.
    dtype : dtype_like
        The declared element type.
    available : int or None
        Bytes the file holds for the array; None when the data are compressed.
    what : str
        What declares it, for the message (e.g. "the array").
    """
    itemsize = np.dtype(dtype).itemsize
    nbytes = itemsize * int(np.prod([int(n) for n in shape], dtype=object))
    declared = f"{what} declares shape {tuple(int(n) for n in shape)} of {np.dtype(dtype)}"
    if available is not None and nbytes > available:
        raise InputError(f"{declared} ({nbytes} bytes) but holds {available} bytes (damaged "
                         "or truncated)", path)
    if nbytes > MAX_ARRAY_BYTES:
        raise InputError(f"{declared} ({nbytes} bytes), more than the "
                         f"{MAX_ARRAY_BYTES // 1024**3} GiB tmdlearn reads", path)


def check_npy_header(path: Path, handle, available: int, what: str) -> None:
    """Read the ``.npy`` header at ``handle``'s position and check the array it declares
    against the ``available`` bytes (header included); leaves the handle after the header.

    Parameters
    ----------
    path : Path
        The file (named in errors).
    handle : binary file
        Open at the start of the ``.npy`` data.
    available : int
        Bytes the member holds, header included.
    what : str
        What declares it, for the message.
    """
    start = handle.tell()
    version = np.lib.format.read_magic(handle)
    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
              else np.lib.format.read_array_header_2_0)
    shape, _, dtype = header(handle)
    check_declared_size(path, shape, dtype, available - (handle.tell() - start), what)
