"""Gatan DigitalMicrograph images (.dm3, .dm4), read from their tag tree
(:func:`tmdlearn.io.dm_layout.read_dm_tags`, every size checked) without GPL packages.

The root's ``ImageList`` holds one tag group per image; the entries that ``Thumbnails`` lists
by ``ImageIndex`` are DM's previews and are skipped. An image has a ``Name`` (its title,
UTF-16), ``ImageData`` with ``Data`` (the pixels, x fastest), ``DataType`` (DM's image type:
:data:`DATA_TYPES`), ``Dimensions`` (x, y and, for a stack, frames: the array is
([frames,] y, x)) and ``Calibrations/Dimension`` (per axis, in the same order, ``Scale`` and
``Units``), and ``ImageTags/Microscope Info/Voltage`` (V). Of several images the HAADF one is
read (:func:`tmdlearn.io.stem.haadf_choice`), of a stack its first frame. Complex (Fourier
transform) and colour (RGB) images, spectra and spectrum images (an axis in eV, or
``ImageTags/Meta Data/Format`` "Spectrum image": EELS, EDS, cathodoluminescence), images whose
x and y axes are calibrated differently (a spectrum line scan: length against wavelength) and
diffraction patterns (an axis in an inverse length) are refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.dm_layout import Group, find, read_dm_tags
from tmdlearn.io.frames import combine_frames
from tmdlearn.io.stem import angstrom_per_unit, axis_pixel_size, haadf_choice, stem_from_array

#: NumPy type of each real DM image data type (``ImageData/DataType``; 14 is binary).
DATA_TYPES = {1: "i2", 2: "f4", 6: "u1", 7: "i4", 9: "i1", 10: "u2", 11: "u4", 12: "f8",
              14: "u1", 39: "i8", 40: "u8"}
#: DM's complex image data types (Fourier transforms; 5 is packed complex).
COMPLEX_TYPES = (3, 5, 13)
#: DM's colour image data types (RGB and RGBA of 1-8 byte channels).
RGB_TYPES = (8, *range(15, 24))
#: Largest ratio of the x and y pixel sizes of an image (scan pixels are about square).
AXES_AGREE = 1.5


def read_dm(path: Path, pixel_size_angstrom: float | None = None,
            frames: str = "first") -> StemImage:
    """Read a Gatan DigitalMicrograph .dm3 / .dm4 image (module doc).

    Parameters
    ----------
    path : Path
        The .dm3 or .dm4 file.
    pixel_size_angstrom : float, optional
        Pixel size (Å/px); default the calibrated scale of the x axis in its unit (m, µm, nm,
        Å, pm).
    frames : str, optional
        Of a stack, ``"first"`` frame or the registered ``"mean"``
        (:func:`tmdlearn.io.frames.combine_frames`).

    Returns
    -------
    StemImage
        ``metadata``: ``format`` (dm3, dm4), ``axis_unit``, ``pixel_size_source``, ``frames``
        (1, or a stack's length), the image's ``title`` and beam energy (``high_tension_v``,
        V) when stated, and of several images ``detector`` and ``images_in_file``.
    """
    version, order, root = read_dm_tags(path)
    images = _images(root)
    if not images:
        raise InputError("no image in the DigitalMicrograph file (empty ImageList)", path)
    problems = [_problem(image) for image in images]
    readable = [image for image, problem in zip(images, problems, strict=True) if not problem]
    if not readable:
        raise InputError(problems[0], path)
    titles = [_text(find(image, "Name")) for image in readable]
    pick, metadata = haadf_choice(titles)
    image = readable[pick]
    data = _pixels(path, image, order)
    data, combined = combine_frames(path, data, frames) if data.ndim == 3 \
        else (data, {"frames": 1})
    calibrations = _calibrations(image)
    x = calibrations[0] if calibrations else []
    pixel_size_angstrom, calibration = axis_pixel_size(
        path, find(x, "Scale"), _text(find(x, "Units")), pixel_size_angstrom)
    metadata = {"format": f"dm{version}", **calibration, **metadata, **combined}
    if titles[pick]:
        metadata["title"] = titles[pick]
    volts = find(image, "ImageTags", "Microscope Info", "Voltage")
    if isinstance(volts, (int, float)) and volts > 0:
        metadata["high_tension_v"] = float(volts)
    return stem_from_array(path, data, pixel_size_angstrom, metadata)


def _images(root: Group) -> list[Group]:
    """The ``ImageList`` entries that are not thumbnails (``Thumbnails/*/ImageIndex``)."""
    entries, thumbnails = find(root, "ImageList"), find(root, "Thumbnails")
    if not isinstance(entries, list):
        return []
    indices = [find(item, "ImageIndex") for _, item in thumbnails] \
        if isinstance(thumbnails, list) else []
    skipped = {index for index in indices if isinstance(index, int)}
    return [entry for k, (_, entry) in enumerate(entries)
            if k not in skipped and isinstance(entry, list)]


def _problem(image: Group) -> str:
    """Why an ``ImageList`` entry is not a readable image ("" when it is)."""
    kind = find(image, "ImageData", "DataType")
    dimensions = _dimensions(image)
    units = [_text(find(c, "Units")).strip().lower() for c in _calibrations(image)]
    if not isinstance(kind, int):
        return f"DM image data type {kind!r} is not a number"
    if kind in COMPLEX_TYPES:
        return f"complex image (DM data type {kind}, a Fourier transform?): HAADF-STEM is real"
    if kind in RGB_TYPES:
        return (f"colour (RGB) image (DM data type {kind}): HAADF-STEM needs the "
                "single-channel detector image")
    if kind not in DATA_TYPES:
        return f"unknown DM image data type {kind}"
    if not isinstance(find(image, "ImageData", "Data"), np.ndarray):
        return "the DM image has no Data array"
    if dimensions is None or len(dimensions) not in (2, 3):
        return (f"DM image of dimensions {dimensions} (a spectrum?): expected x, y and "
                "optionally frames")
    if any(unit.endswith("ev") for unit in units):
        return f"DM image with an axis in {units} (spectra or a spectrum image), not an image"
    meta = find(image, "ImageTags", "Meta Data")
    kind, signal = (_tag_text(find(meta, key)) for key in ("Format", "Signal"))
    if "spectrum" in kind.lower():
        return f"a {signal + ' ' if signal else ''}{kind.lower()} (DM Meta Data), not an image"
    return _axes_problem(_calibrations(image)[:2])


def _axes_problem(calibrations: list[Group]) -> str:
    """Why x and y calibrations are not an image's ("" when they agree within
    :data:`AXES_AGREE` or either is uncalibrated)."""
    sizes = []
    for calibration in calibrations:
        unit, scale = _text(find(calibration, "Units")).strip(), find(calibration, "Scale")
        factor = angstrom_per_unit(unit)
        if factor is None or not isinstance(scale, (int, float)) or not scale > 0:
            return ""
        sizes.append((scale * factor, f"{scale:.4g} {unit}"))
    if len(sizes) == 2 and max(sizes)[0] > AXES_AGREE * min(sizes)[0]:
        return (f"x and y calibrated differently ({sizes[0][1]}, {sizes[1][1]} per pixel): "
                "a spectrum line scan, not an image")
    return ""


def _tag_text(value: Any) -> str:
    """A DM tag that holds text (a Python string or DM's UTF-16 array); "" otherwise."""
    return value if isinstance(value, str) else _text(value)


def _dimensions(image: Group) -> list[int] | None:
    """The image's ``Dimensions`` (x, y[, frames]); None unless positive integers."""
    dimensions = find(image, "ImageData", "Dimensions")
    if not isinstance(dimensions, list):
        return None
    values = [value for _, value in dimensions]
    return values if all(isinstance(v, int) and v > 0 for v in values) else None


def _calibrations(image: Group) -> list[Group]:
    """The per-axis calibration groups (x first)."""
    calibrations = find(image, "ImageData", "Calibrations", "Dimension")
    return [c for _, c in calibrations if isinstance(c, list)] \
        if isinstance(calibrations, list) else []


def _pixels(path: Path, image: Group, order: str) -> np.ndarray:
    """The image's pixels, shape ([frames,] y, x), from its raw ``Data`` bytes."""
    raw = find(image, "ImageData", "Data")
    dtype = np.dtype(order + DATA_TYPES[find(image, "ImageData", "DataType")])
    shape = _dimensions(image)[::-1]
    needed = math.prod(shape) * dtype.itemsize
    if raw.nbytes != needed:
        raise InputError(f"DM image data hold {raw.nbytes} bytes; its dimensions "
                         f"{' x '.join(map(str, shape[::-1]))} of {dtype.name} need {needed}",
                         path)
    return raw.view(np.uint8).view(dtype).reshape(shape)


def _text(value: Any) -> str:
    """A DM string: an array of UTF-16 code units (or of bytes); "" for anything else."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        if value.itemsize == 2:
            return value.astype("<u2").tobytes().decode("utf-16-le", "replace")
        if value.itemsize == 1:
            return value.tobytes().decode("latin-1")
    return ""
