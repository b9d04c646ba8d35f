"""STEM readers: .tif/.npy/.npz with a pixel size, Gatan .dm3/.dm4 and Velox .emd through
rosettasciio (GPL, optional: ``pip install tmdlearn[gpl]``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.arrays import as_image

GPL_FORMATS = (".dm3", ".dm4", ".emd")
#: Every file suffix the STEM readers take (the GPL ones need the optional extra).
STEM_FORMATS = (".tif", ".tiff", ".npy", ".npz", *GPL_FORMATS)
#: Length units a file may give its pixel size in, in Å.
ANGSTROM_PER_UNIT = {
    "pm": 0.01, "a": 1.0, "å": 1.0, "angstrom": 1.0, "nm": 10.0, "µm": 1e4, "um": 1e4,
    "micron": 1e4, "m": 1e10,
}


def stem_from_array(path: Path, values: np.ndarray, pixel_size_angstrom: float | None,
                    metadata: dict | None = None) -> StemImage:
    """A StemImage from a plain 2-D array; the pixel size must be known."""
    if pixel_size_angstrom is None:
        raise InputError("the file stores no pixel size: pass pixel_size_angstrom=", path)
    values = as_image(path, values)
    if not float(pixel_size_angstrom) > 0:
        raise InputError(f"pixel size must be positive, got {pixel_size_angstrom}", path)
    return StemImage(values, float(pixel_size_angstrom), source=path,
                     metadata=dict(metadata or {}))


def stem_from_npz(path: Path, arrays: dict, pixel_size_angstrom: float | None = None
                  ) -> StemImage:
    """A StemImage from tmdlearn's .npz (keys intensity, pixel_size_angstrom, metadata)."""
    from tmdlearn.io.afm import npz_metadata, npz_scalar

    stored = npz_scalar(path, arrays, "pixel_size_angstrom")
    return stem_from_array(path, arrays["intensity"], pixel_size_angstrom or stored,
                           npz_metadata(path, arrays))


def tiff_pixel_size_angstrom(tif) -> float | None:
    """The pixel size a TIFF states: tmdlearn's JSON description or ImageJ's unit + resolution."""
    shaped = tif.shaped_metadata
    if shaped and "pixel_size_angstrom" in shaped[0]:
        return float(shaped[0]["pixel_size_angstrom"])
    imagej = tif.imagej_metadata or {}
    unit = str(imagej.get("unit", "")).lower().replace("\\u00c5", "å")
    if unit in ANGSTROM_PER_UNIT:
        tag = tif.pages[0].tags.get("XResolution")
        if tag is not None:
            numerator, denominator = tag.value
            if numerator > 0:
                return denominator / numerator * ANGSTROM_PER_UNIT[unit]
    return None


def read_stem_gpl(path: Path, pixel_size_angstrom: float | None = None) -> StemImage:
    """Read a Gatan .dm3/.dm4 or Velox .emd image through rosettasciio (optional, GPL)."""
    try:
        from rsciio import digitalmicrograph, emd
    except ImportError as err:
        raise InputError(
            f"reading {path.suffix} needs the optional GPL extra: pip install tmdlearn[gpl]", path
        ) from err
    reader = emd if path.suffix.lower() == ".emd" else digitalmicrograph
    try:
        signals = reader.file_reader(str(path))
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read: {err}", path) from err
    images = [s for s in signals if np.asarray(s["data"]).ndim == 2]
    if not images:
        raise InputError("no 2-D image in the file", path)
    signal = images[0]
    axis = signal["axes"][-1]
    unit = str(axis.get("units", "")).lower()
    stated = None
    if unit in ANGSTROM_PER_UNIT:
        stated = float(axis.get("scale", 0)) * ANGSTROM_PER_UNIT[unit]
    return stem_from_array(path, signal["data"], pixel_size_angstrom or stated or None,
                           {"format": path.suffix.lower().lstrip("."), "axis_unit": unit})
