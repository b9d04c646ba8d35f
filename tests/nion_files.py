"""Nion Swift files written as Swift writes them, for the reader's tests: ``.nhdf`` (HDF5,
``/data/<key>`` with a JSON ``properties`` attribute) and ``.ndata1`` (zip of ``data.npy`` and
``metadata.json``)."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np


def properties(shape, scales=(0.01062, 0.01062), units="nm", sequence=False, **extra):
    """Swift's properties of data of ``shape``: one calibration per axis."""
    calibrations = [{"offset": 0.0, "scale": 1.0, "units": ""}] * (len(shape) - len(scales))
    calibrations += [{"offset": -1.5, "scale": s, "units": units} for s in scales]
    return {"type": "data-item", "is_sequence": sequence, "collection_dimension_count": 0,
            "datum_dimension_count": 2, "dimensional_calibrations": calibrations,
            "intensity_calibration": {"offset": 0.0, "scale": 1.0, "units": "counts"},
            "title": "HAADF", "metadata": {"instrument": {"high_tension": 60000.0}}, **extra}


def write_nhdf(path, data, props, key="ad2a8c3f"):
    """``data`` with its properties ``props`` as an .nhdf (HDF5) file at ``path``."""
    with h5py.File(path, "w") as handle:
        dataset = handle.create_group("data").create_dataset(key, data=data)
        dataset.attrs["properties"] = json.dumps(props)
    return path


def write_ndata(path, data, props):
    """``data`` with its properties ``props`` as an .ndata1 (zip) file at ``path``."""
    buffer = io.BytesIO()
    np.save(buffer, data)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.npy", buffer.getvalue())
        archive.writestr("metadata.json", json.dumps(props))
    return path
