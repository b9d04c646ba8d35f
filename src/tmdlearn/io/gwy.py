"""Gwyddion native files (.gwy): the serialisation documented in the Gwyddion user guide.

A file is the magic ``GWYP`` followed by one serialised ``GwyContainer``; each object is its
type name (NUL-terminated), a little-endian uint32 byte count, then components ``name\\0``,
a one-letter type (``i`` int32, ``d`` float64, ``s`` string, ``o`` object, ``D`` float64
array with a uint32 length) and the value. tmdlearn writes one data field; reading goes
through SurfaceTopography.
"""

from __future__ import annotations

import struct

import numpy as np


def _component(name: str, kind: str, payload: bytes) -> bytes:
    return name.encode("ascii") + b"\0" + kind.encode("ascii") + payload


def _object(type_name: str, components: bytes) -> bytes:
    return type_name.encode("ascii") + b"\0" + struct.pack("<I", len(components)) + components


def _string(text: str) -> bytes:
    return text.encode("utf-8") + b"\0"


def _si_unit(unit: str) -> bytes:
    return _object("GwySIUnit", _component("unitstr", "s", _string(unit)))


def gwy_bytes(values_m: np.ndarray, pixel_size_m: float, title: str) -> bytes:
    """The bytes of a .gwy file holding one channel.

    Parameters
    ----------
    values_m : (ny, nx) array
        The channel's values (m).
    pixel_size_m : float
        Square pixel size (m/px).
    title : str
        Channel title (capitalised in the file).

    Returns
    -------
    bytes
    """
    values = np.ascontiguousarray(values_m, dtype="<f8")
    ny, nx = values.shape
    field = b"".join([
        _component("xres", "i", struct.pack("<i", nx)),
        _component("yres", "i", struct.pack("<i", ny)),
        _component("xreal", "d", struct.pack("<d", nx * pixel_size_m)),
        _component("yreal", "d", struct.pack("<d", ny * pixel_size_m)),
        _component("si_unit_xy", "o", _si_unit("m")),
        _component("si_unit_z", "o", _si_unit("m")),
        _component("data", "D", struct.pack("<I", values.size) + values.tobytes()),
    ])
    container = _component("/0/data", "o", _object("GwyDataField", field)) + _component(
        "/0/data/title", "s", _string(title.capitalize())
    )
    return b"GWYP" + _object("GwyContainer", container)
