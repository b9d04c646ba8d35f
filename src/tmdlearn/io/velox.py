"""Thermo Fisher Velox and Berkeley (NCEM) EMD files (.emd, HDF5), read with h5py without GPL
packages; the HDF5 superblock is checked first (:func:`check_hdf5_layout`).

**Velox**: each image is a group ``/Data/Image/<id>`` holding ``Data`` (y, x, frames) and
``Metadata``, uint8 (bytes, frames): one NUL-padded JSON text per frame. Its
``BinaryResult`` gives the pixel size (``PixelSize/width`` in ``PixelUnitX``, m) and the
detector (``Detector``, else ``DetectorIndex`` into ``Detectors/Detector-<n>/DetectorName``);
``Optics/AccelerationVoltage`` gives the beam energy (V). Of several images (HAADF, DF and BF
segments) the HAADF one is read (:func:`tmdlearn.io.stem.haadf_choice`), of a series its
first frame.

**Berkeley EMD** (NCEM's EMD 0.2 layout): a group with the attribute ``emd_group_type`` = 1
holds ``data`` and one dataset ``dim<k>`` per axis of it (the axis' coordinates, attributes
``name`` and ``units`` such as ``[n_m]``). A 2-D ``data`` is read as (y, x), its pixel size the
step of ``dim2``; groups of other ranks are skipped. Prismatic's simulation output is read
too: its 2-D ``realslice`` arrays are (x, y) (``dim1`` named ``R_x``), and of its
``annular_detector_depth<k>`` images the last (the full thickness) is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.arrays import check_declared_size
from tmdlearn.io.frames import check_frames, combine_frames
from tmdlearn.io.hdf5_layout import check_hdf5_layout
from tmdlearn.io.stem import axis_pixel_size, haadf_choice, stem_from_array


def read_emd(path: Path, pixel_size_angstrom: float | None = None,
             frames: str = "first") -> StemImage:
    """Read a Velox or Berkeley .emd image (module doc).

    Parameters
    ----------
    path : Path
        The .emd file.
    pixel_size_angstrom : float, optional
        Pixel size (Å/px); default the calibrated x axis in its unit (m, µm, nm, Å, pm).
    frames : str, optional
        Of a Velox series, ``"first"`` frame or the registered ``"mean"``
        (:func:`tmdlearn.io.frames.combine_frames`).

    Returns
    -------
    StemImage
        ``metadata``: ``format`` (emd), ``axis_unit``, ``pixel_size_source``, ``frames``, the
        ``title`` (detector or dataset name) and, Velox, the beam energy (``high_tension_v``,
        V) when stated; of several images ``detector`` and ``images_in_file``.
    """
    import h5py

    check_hdf5_layout(path)
    try:
        with h5py.File(path, "r") as handle:
            images = handle.get("Data/Image")
            data, scale, unit, metadata = (_velox(path, images, frames)
                                           if isinstance(images, h5py.Group)
                                           else _berkeley(path, handle))
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any h5py or JSON failure on a user's file
        raise InputError("cannot read as an EMD file: its HDF5 structure is damaged "
                         f"({type(err).__name__})", path) from err
    pixel_size_angstrom, calibration = axis_pixel_size(path, scale, unit, pixel_size_angstrom)
    metadata = {"format": "emd", **calibration, **metadata}
    return stem_from_array(path, data, pixel_size_angstrom, metadata)


def _velox(path: Path, images, frames: str) -> tuple[np.ndarray, Any, str, dict]:
    """The HAADF image of a Velox ``/Data/Image`` group (its ``frames`` made one image by
    :func:`tmdlearn.io.frames.combine_frames`), x scale and unit, metadata."""
    import h5py

    groups = [images[key] for key in sorted(images)]
    groups = [g for g in groups if isinstance(g, h5py.Group)
              and isinstance(g.get("Data"), h5py.Dataset) and g["Data"].ndim in (2, 3)]
    if not groups:
        raise InputError("no image in the Velox file's /Data/Image", path)
    infos = [_frame_json(path, group) for group in groups]
    titles = [_detector(info) for info in infos]
    pick, metadata = haadf_choice(titles)
    dataset, info = groups[pick]["Data"], infos[pick]
    mean = dataset.ndim == 3 and check_frames(frames) == "mean"
    check_declared_size(path, dataset.shape if mean else dataset.shape[:2], dataset.dtype,
                        None, f"dataset '{dataset.name}'")
    if mean:
        data, combined = combine_frames(path, np.moveaxis(dataset[()], 2, 0), frames)
        metadata.update(combined)
    else:
        data = dataset[:, :, 0] if dataset.ndim == 3 else dataset[()]
        metadata["frames"] = dataset.shape[2] if dataset.ndim == 3 else 1
    if titles[pick]:
        metadata["title"] = titles[pick]
    volts = _number(_field(info, "Optics", "AccelerationVoltage"))
    if volts is not None and volts > 0:
        metadata["high_tension_v"] = volts
    return (data, _field(info, "BinaryResult", "PixelSize", "width"),
            str(_field(info, "BinaryResult", "PixelUnitX") or ""), metadata)


def _frame_json(path: Path, group) -> dict:
    """The first frame's metadata of a Velox image group: a NUL-padded JSON text in the
    first column of ``Metadata`` (uint8, bytes x frames)."""
    dataset = group.get("Metadata")
    if dataset is None or dataset.dtype != np.uint8 or dataset.ndim not in (1, 2):
        raise InputError(f"Velox image '{group.name}' has no uint8 Metadata", path)
    check_declared_size(path, dataset.shape[:1], dataset.dtype, None,
                        f"dataset '{dataset.name}'")
    raw = dataset[:, 0] if dataset.ndim == 2 else dataset[()]
    text = raw.tobytes().split(b"\0", 1)[0].decode("utf-8", "replace")
    try:
        info = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"Velox image '{group.name}' metadata is not JSON ({err})",
                         path) from err
    return info if isinstance(info, dict) else {}


def _detector(info: dict) -> str:
    """The detector of a Velox image: ``BinaryResult/Detector``, else the name of the
    ``Detectors`` entry its ``DetectorIndex`` points at ("" when neither is stated)."""
    name = _field(info, "BinaryResult", "Detector")
    if not name:
        index = _field(info, "BinaryResult", "DetectorIndex")
        name = _field(info, "Detectors", f"Detector-{index}", "DetectorName")
    return str(name or "")


def _berkeley(path: Path, handle) -> tuple[np.ndarray, Any, str, dict]:
    """The HAADF 2-D image of a Berkeley EMD file's ``emd_group_type`` 1 groups: data, x
    step and unit, metadata."""
    import h5py

    groups: list = []

    def collect(_name: str, item) -> None:
        if isinstance(item, h5py.Group) and _attribute(item, "emd_group_type") == "1" \
                and _values(item) is not None and _values(item).ndim == 2 \
                and all(isinstance(item.get(d), h5py.Dataset) for d in ("dim1", "dim2")):
            groups.append(item)

    handle.visititems(collect)
    if not groups:
        raise InputError("no Velox /Data/Image and no 2-D Berkeley EMD data group (attribute "
                         "emd_group_type = 1 holding data, dim1, dim2)", path)
    titles = [g.name.rsplit("/", 1)[-1] for g in groups]
    detectors = [k for k, title in enumerate(titles) if title.startswith(PRISMATIC_HAADF)]
    pick, metadata = haadf_choice(titles)
    if detectors and len(titles) > 1:
        pick, metadata = detectors[-1], {"detector": titles[detectors[-1]],
                                         "images_in_file": titles}
    group = groups[pick]
    dataset = _values(group)
    check_declared_size(path, dataset.shape, dataset.dtype, None, f"dataset '{dataset.name}'")
    dims = [group[d] for d in ("dim1", "dim2")]
    for dim in dims:
        check_declared_size(path, dim.shape, dim.dtype, None, f"dataset '{dim.name}'")
    x_first = _attribute(dims[0], "name").lower().endswith("x")
    x = dims[0] if x_first else dims[1]
    steps = np.diff(np.asarray(x[()], dtype=float).ravel()[:2])
    unit = _attribute(x, "units").strip("[]").replace("_", "")
    metadata.update(frames=1, title=titles[pick])
    data = dataset[()]
    return (data.T if x_first else data), (abs(steps[0]) if steps.size else 0.0), unit, metadata


#: Prismatic's HAADF output groups (``annular_detector_depth<k>``; the last is the full
#: thickness).
PRISMATIC_HAADF = "annular_detector"


def _values(group):
    """A Berkeley EMD group's array: ``data`` (NCEM), or ``realslice`` (Prismatic's
    ``realslices``, whose ``dim1`` is x); None when it has neither."""
    import h5py

    for name in ("data", "realslice"):
        if isinstance(group.get(name), h5py.Dataset):
            return group[name]
    return None


def _field(info: Any, *keys: str) -> Any:
    """The value at ``keys`` in nested JSON objects (None where one is missing)."""
    for key in keys:
        if not isinstance(info, dict):
            return None
        info = info.get(key)
    return info


def _number(value: Any) -> float | None:
    """A JSON number or numeric string as a float (None otherwise)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _attribute(item, name: str) -> str:
    """An HDF5 attribute as text ("" when missing)."""
    value = item.attrs.get(name, "")
    value = value.item() if isinstance(value, np.ndarray) and value.size == 1 else value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
