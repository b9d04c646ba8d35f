"""Nion Swift image files, the native format of Nion UltraSTEM microscopes (where many 60 kV
HAADF images of 2-D materials are recorded), read without Nion's own (GPL) packages.

Two layouts hold the same ``properties`` (JSON): ``.nhdf`` (Swift's HDF5 export, also saved
as ``.h5``) has the data as the dataset ``/data/<key>`` with the properties as its attribute
``properties``; ``.ndata1`` / ``.ndata`` (Swift's library items) are zip files of ``data.npy``
and ``metadata.json``. The properties give one calibration per data axis,
``dimensional_calibrations`` (``offset``, ``scale``, ``units``; older files
``spatial_calibrations``, possibly under ``data_source``), and whether the first axis is a
``is_sequence`` of frames. An image is the 2-D data, or the first frame of a sequence of 2-D
frames; spectra (``datum_dimension_count`` 1), a spectrum image or 4-D STEM data are refused.
The pixel size is the x (last) axis' scale in its unit (usually nm); y must agree to 0.1 %.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.arrays import check_declared_size, check_npy_header
from tmdlearn.io.frames import combine_frames
from tmdlearn.io.hdf5_layout import check_hdf5_layout
from tmdlearn.io.stem import angstrom_per_unit, given_over, stem_from_array

#: The zip members of an ``.ndata1`` file.
ZIP_MEMBERS = ("data.npy", "metadata.json")


def is_nion_zip(path: Path) -> bool:
    """Whether ``path`` is a zip file holding ``data.npy`` and ``metadata.json``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return set(ZIP_MEMBERS) <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def is_nion_hdf5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file whose ``data`` group holds a dataset with a JSON
    ``properties`` attribute (a file the HDF5 layout check refuses is not)."""
    import h5py

    try:
        check_hdf5_layout(path)
        with h5py.File(path, "r") as handle:
            group = handle.get("data")
            return isinstance(group, h5py.Group) and any(
                isinstance(item, h5py.Dataset) and "properties" in item.attrs
                for item in group.values())
    except (InputError, OSError):
        return False


def read_nion(path: Path, pixel_size_angstrom: float | None = None,
              frames: str = "first") -> StemImage:
    """Read a Nion Swift image (module doc).

    Parameters
    ----------
    path : Path
        A ``.nhdf`` / Swift ``.h5`` or ``.ndata1`` / ``.ndata`` file.
    pixel_size_angstrom : float, optional
        Pixel size (Å/px); default the calibrated scale of the x axis.
    frames : str, optional
        Of a sequence, ``"first"`` frame or the registered ``"mean"``
        (:func:`tmdlearn.io.frames.combine_frames`).

    Returns
    -------
    StemImage
        ``metadata``: ``format`` (nion), ``axis_unit``, ``pixel_size_source``, ``frames`` (of
        a sequence) and the file's ``title`` and beam energy (``high_tension_v``) when stated.
    """
    with open(path, "rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"
    data, properties = _read_zip(path) if is_zip else _read_hdf5(path)
    combined = {"frames": 1}
    if properties.get("is_sequence") and data.ndim == 3:
        data, combined = combine_frames(path, data, frames)
    if data.ndim != 2 or properties.get("datum_dimension_count") == 1:
        raise InputError(f"holds data of shape {data.shape} (spectra, a spectrum image or "
                         "4-D STEM?), not one 2-D image", path)
    calibrations = _calibrations(properties)[-2:]
    metadata: dict[str, Any] = {"format": "nion", **combined}
    title = properties.get("title")
    if isinstance(title, str) and title:
        metadata["title"] = title
    volts = _high_tension(properties.get("metadata"))
    if volts is not None:
        metadata["high_tension_v"] = volts
    if pixel_size_angstrom is not None:
        try:
            stated = _angstrom(path, calibrations[1]) if len(calibrations) == 2 else None
        except InputError:  # a calibration the given pixel size replaces
            stated = None
        given_over(metadata, stated)
    elif len(calibrations) == 2:
        y, x = (_angstrom(path, c) for c in calibrations)
        unit = str(calibrations[1].get("units", ""))
        metadata["axis_unit"] = unit
        if x is not None:
            if y is not None and abs(y / x - 1) > 1e-3:
                raise InputError(f"non-square pixels ({y:.6g} x {x:.6g} Å): tmdlearn needs "
                                 "square ones", path)
            pixel_size_angstrom = x
            metadata["pixel_size_source"] = (
                f"calibrated x axis: {float(calibrations[1]['scale']):.6g} {unit}")
    return stem_from_array(path, data, pixel_size_angstrom, metadata)


def _read_zip(path: Path) -> tuple[np.ndarray, dict]:
    """``data.npy`` and ``metadata.json`` of an ``.ndata1`` file (sizes checked first)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("data.npy")
            with archive.open(info) as member:
                check_npy_header(path, member, info.file_size, "array 'data.npy'")
            with archive.open(info) as member:
                data = np.load(member, allow_pickle=False)
            properties = json.loads(archive.read("metadata.json").decode("utf-8"))
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a Nion Swift file: {err}", path) from err
    return np.asarray(data), _mapping(path, properties)


def _read_hdf5(path: Path) -> tuple[np.ndarray, dict]:
    """The first (sorted) dataset of ``/data`` with ``properties`` and those properties (its
    declared size checked before it is read)."""
    import h5py

    check_hdf5_layout(path)
    try:
        with h5py.File(path, "r") as handle:
            group = handle["data"]
            key = sorted(k for k, item in group.items()
                         if isinstance(item, h5py.Dataset) and "properties" in item.attrs)[0]
            dataset = group[key]
            check_declared_size(path, dataset.shape, dataset.dtype, None,
                                f"dataset 'data/{key}'")
            data = np.asarray(dataset)
            raw = dataset.attrs["properties"]
        properties = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a Nion Swift file: {err}", path) from err
    return data, _mapping(path, properties)


def _mapping(path: Path, properties: Any) -> dict:
    """The properties, which must be a JSON object."""
    if not isinstance(properties, dict):
        raise InputError("Nion Swift properties are not a JSON object", path)
    return properties


def _calibrations(properties: dict) -> list[dict]:
    """The per-axis calibrations of the properties (newer or older key, top level or under
    ``data_source``)."""
    for place in (properties, properties.get("data_source") or {}):
        for key in ("dimensional_calibrations", "spatial_calibrations"):
            value = place.get(key) if isinstance(place, dict) else None
            if isinstance(value, list) and all(isinstance(c, dict) for c in value):
                return value
    return []


def _angstrom(path: Path, calibration: dict) -> float | None:
    """One axis' scale in Å (None for an axis without a length unit or scale)."""
    factor = angstrom_per_unit(str(calibration.get("units", "")))
    try:
        scale = float(calibration.get("scale", 0.0))
    except (TypeError, ValueError):
        raise InputError(f"calibration scale {calibration.get('scale')!r} is not a number",
                         path) from None
    if factor is None or not np.isfinite(scale) or scale == 0:
        return None
    return abs(scale) * factor


def _high_tension(metadata: Any) -> float | None:
    """The beam's high tension (V) from Swift's acquisition metadata, if stated."""
    if not isinstance(metadata, dict):
        return None
    for section in ("instrument", "hardware_source", "scan"):
        part = metadata.get(section)
        value = part.get("high_tension") if isinstance(part, dict) else None
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None
