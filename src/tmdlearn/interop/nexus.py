"""NeXus / HDF5 files (h5py): tmdlearn's containers and map fit results, read back losslessly.

One NXentry ``entry`` per file (``@tmdlearn_container`` names what it holds)::

    entry (NXentry) @default
      experiment_type            "Raman spectroscopy" | "photoluminescence spectroscopy"
      instrument/beam_incident   (NXinstrument/NXbeam) incident_wavelength @units nm
      data (NXdata)              @signal, @axes, @<axis>_indices; every axis and signal @units
        intensity | height       the values: (ny, nx, L) map, (N, L) spectra, (ny, nx) image
        y, x, raman_shift | photon_energy | wavelength   axes in um / nm / angstrom, 1/cm | eV | nm
      <parameter> (NXdata)       fit results: one group per fitted parameter, ``errors`` with
                                 its standard errors where known
      notes (NXnote)             the container's metadata as JSON
      process (NXprocess)        program, version, date, configuration (JSON), input_files,
                                 input_sha256

The excitation is modelled on the NXraman / NXoptical_spectroscopy definitions (an NXbeam
``beam_incident`` with NXbeam's ``incident_wavelength``, ``experiment_type``); the files do
not claim NXraman conformance (they lack its instrument description). Exact grid steps and
origins are kept as ``@tmdlearn_step`` and ``@tmdlearn_origin`` on the NXdata groups so that
reading back is lossless; files from other programs are read from their axes.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.io.digest import sha256
from tmdlearn.io.hdf5_layout import check_hdf5_layout
from tmdlearn.io.write import metadata_json
from tmdlearn.spectra.fitmaps import NEXUS_UNITS, FitMaps

Item = HeightMap | Spectra | SpectralMap | StemImage | FitMaps

#: Spectral axis name of each container unit (NeXus field names).
SPECTRAL_AXES = {"cm-1": "raman_shift", "eV": "photon_energy", "nm": "wavelength"}
#: Spatial units a reader accepts, as factors to µm.
LENGTH_IN_UM = {"um": 1.0, "µm": 1.0, "micrometer": 1.0, "micrometre": 1.0, "mm": 1000.0,
                "nm": 1e-3, "angstrom": 1e-4, "Å": 1e-4, "A": 1e-4}
_CONTAINER_UNITS = {v: k for k, v in NEXUS_UNITS.items()} | {"cm-1": "cm-1", "cm^-1": "cm-1"}


def write_nexus(path: str | Path, item: Item, *, config: dict | None = None,
                inputs: Iterable[str | Path] | None = None) -> Path:
    """Write ``item`` as a NeXus file (atomically) and return its path.

    Parameters
    ----------
    path : str or Path
        Output file (``.nxs``).
    item : HeightMap, Spectra, SpectralMap, StemImage or FitMaps
        What to write.
    config : dict, optional
        Configuration (JSON-serialisable) for the NXprocess group.
    inputs : iterable of str or Path, optional
        Input files whose names and sha256 go into the NXprocess group; default the
        container's ``source`` where it is a file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if inputs is None:
        source = getattr(item, "source", None)
        inputs = [source] if source is not None and Path(source).is_file() else []
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as handle:
            handle.attrs.update(default="entry", creator="tmdlearn",
                                file_time=_dt.datetime.now(_dt.UTC).isoformat())
            entry = _group(handle, "entry", "NXentry")
            entry.attrs["tmdlearn_container"] = type(item).__name__
            default = _write_item(entry, item)
            entry.attrs["default"] = default
            _write_process(entry, config or {}, [Path(p) for p in inputs])
            metadata = getattr(item, "metadata", {})
            if metadata:
                notes = _group(entry, "notes", "NXnote")
                notes["type"] = "application/json"
                notes["data"] = metadata_json(metadata)
    return path


def read_nexus(path: str | Path) -> Item:
    """Read a NeXus file back into the container it holds.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`write_nexus`, or a plain NXdata map, spectra or image of
        another program (spatial axes in um, mm, nm or angstrom).

    Returns
    -------
    HeightMap, Spectra, SpectralMap, StemImage or FitMaps
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    check_hdf5_layout(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"cannot read as HDF5 / NeXus: {err}", path) from err
    with handle:
        try:
            entry = _default(handle, "NXentry", path, "no NXentry group: not a NeXus file")
            kind = _text(entry.attrs.get("tmdlearn_container", ""))
            metadata = {}
            if "notes" in entry and "data" in entry["notes"]:
                metadata = json.loads(_text(entry["notes"]["data"]))
            if kind == "FitMaps":
                return _read_fit_maps(entry, metadata, path)
            group = _default(entry, "NXdata", path, f"no NXdata group in {entry.name}")
            return _read_data(group, kind, metadata, _excitation(entry), path)
        except InputError:
            raise
        except (ValueError, TypeError) as err:  # containers refuse bad shapes and values
            raise InputError(f"the NeXus data do not form a tmdlearn container: {err}",
                             path) from err
        except Exception as err:  # noqa: BLE001 - HDF5 metadata damaged past the superblock
            raise InputError(f"cannot read as HDF5 / NeXus: {err}", path) from err



# --- writing -----------------------------------------------------------------------------

def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name, track_order=True)
    group.attrs["NX_class"] = nx_class
    return group


def _dataset(group: h5py.Group, name: str, values, units: str | None) -> None:
    dataset = group.create_dataset(name, data=values)
    if units is not None:
        dataset.attrs["units"] = units


def _nxdata(entry: h5py.Group, name: str, signal: str, values: np.ndarray, units: str,
            axes: list[tuple[str, np.ndarray | None, str]]) -> h5py.Group:
    """An NXdata group: ``axes`` lists (name, values, units) per dimension, None for '.'."""
    group = _group(entry, name, "NXdata")
    group.attrs["signal"] = signal
    group.attrs["axes"] = [axis if values_ is not None else "." for axis, values_, _ in axes]
    _dataset(group, signal, values, units)
    for index, (axis, axis_values, axis_units) in enumerate(axes):
        if axis_values is not None:
            group.attrs[f"{axis}_indices"] = index
            _dataset(group, axis, axis_values, axis_units)
    return group


def _grid(group: h5py.Group, step: float, origin: tuple[float, float]) -> None:
    group.attrs["tmdlearn_step"] = step
    group.attrs["tmdlearn_origin"] = np.asarray(origin, dtype=float)


def _xy(shape: tuple[int, int], step: float, origin=(0.0, 0.0), units="um"):
    ny, nx = shape
    return [("y", origin[1] + step * np.arange(ny), units),
            ("x", origin[0] + step * np.arange(nx), units)]


def _write_item(entry: h5py.Group, item: Item) -> str:
    """Write the item's NXdata group(s) and return the default group's name."""
    if isinstance(item, Spectra | SpectralMap):
        spectral = (SPECTRAL_AXES[item.unit], item.axis, NEXUS_UNITS[item.unit])
        entry["experiment_type"] = ("Raman spectroscopy" if item.unit == "cm-1"
                                    else "photoluminescence spectroscopy")
        if item.excitation_nm is not None:
            beam = _group(_group(entry, "instrument", "NXinstrument"), "beam_incident", "NXbeam")
            _dataset(beam, "incident_wavelength", float(item.excitation_nm), "nm")
    if isinstance(item, SpectralMap):
        group = _nxdata(entry, "data", "intensity", item.intensity, "counts",
                        _xy(item.shape, item.step_um, item.origin_um) + [spectral])
        _grid(group, item.step_um, item.origin_um)
    elif isinstance(item, Spectra):
        _nxdata(entry, "data", "intensity", item.intensity, "counts",
                [("spectrum", None, ""), spectral])
    elif isinstance(item, HeightMap):
        unit = item.metadata.get("unit", "nm") if item.channel != "height" else "nm"
        group = _nxdata(entry, "data", "height", item.height_nm, unit,
                        _xy(item.shape, item.pixel_size_nm, units="nm"))
        group.attrs["tmdlearn_channel"] = item.channel
        _grid(group, item.pixel_size_nm, (0.0, 0.0))
    elif isinstance(item, StemImage):
        group = _nxdata(entry, "data", "intensity", item.intensity, "counts",
                        _xy(item.shape, item.pixel_size_angstrom, units="angstrom"))
        _grid(group, item.pixel_size_angstrom, (0.0, 0.0))
    elif isinstance(item, FitMaps):
        for name, values in item.values.items():
            group = _nxdata(entry, name, name, values, item.units.get(name, ""),
                            _xy(item.shape, item.step_um, item.origin_um))
            if name in item.errors:
                _dataset(group, "errors", item.errors[name], item.units.get(name, ""))
            _grid(group, item.step_um, item.origin_um)
        return next(iter(item.values))
    else:
        raise InputError(f"cannot write a {type(item).__name__} as NeXus")
    return "data"


def _write_process(entry: h5py.Group, config: dict, inputs: list[Path]) -> None:
    from tmdlearn import __version__

    process = _group(entry, "process", "NXprocess")
    process["program"] = "tmdlearn"
    process["version"] = __version__
    process["date"] = _dt.datetime.now(_dt.UTC).isoformat()
    process["sequence_index"] = 1
    process["configuration"] = metadata_json(config)
    if inputs:  # no empty datasets: RosettaSciIO (hs.load) cannot read them
        strings = h5py.string_dtype()
        process.create_dataset("input_files",
                               data=np.array([str(p) for p in inputs], dtype=strings))
        process.create_dataset("input_sha256",
                               data=np.array([sha256(p) for p in inputs], dtype=strings))


# --- reading -----------------------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, h5py.Dataset):
        value = value[()]
    return value.decode() if isinstance(value, bytes) else str(value)


def _nx_class(item) -> str:
    return _text(item.attrs.get("NX_class", ""))


def _default(parent: h5py.Group, nx_class: str, path: Path, missing: str) -> h5py.Group:
    """The child named by ``@default`` if it is of ``nx_class``, else the first such child."""
    default = _text(parent.attrs.get("default", ""))
    if default in parent and _nx_class(parent[default]) == nx_class:
        return parent[default]
    groups = [g for g in parent.values() if isinstance(g, h5py.Group)
              and _nx_class(g) == nx_class]
    if not groups:
        raise InputError(missing, path)
    return groups[0]


def _signal(group: h5py.Group, path: Path) -> tuple[str, np.ndarray, str]:
    name = _text(group.attrs.get("signal", ""))
    if not name:
        raise InputError(f"the NXdata group {group.name} names no signal (@signal missing)",
                         path)
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise InputError(f"the signal {name!r} of {group.name} is missing", path)
    return name, group[name][()], _text(group[name].attrs.get("units", ""))


def _axes(group: h5py.Group, ndim: int, path: Path) -> list[tuple[str, np.ndarray, str] | None]:
    names = group.attrs.get("axes", [])
    names = [names] if isinstance(names, str | bytes) else list(names)
    names = [_text(n) for n in names] + ["."] * (ndim - len(names))
    axes = []
    for name in names[:ndim]:
        if name == ".":
            axes.append(None)
        elif name not in group or not isinstance(group[name], h5py.Dataset):
            raise InputError(f"the axis {name!r} of {group.name} is missing", path)
        else:
            axes.append((name, group[name][()], _text(group[name].attrs.get("units", ""))))
    return axes


def _excitation(entry: h5py.Group) -> float | None:
    key = "instrument/beam_incident/incident_wavelength"
    return float(entry[key][()]) if key in entry else None


def _grid_of(group: h5py.Group, axes, path: Path, scale: float) -> tuple[float, tuple]:
    """(step, (x0, y0)) of a 2-D grid in the target unit: exact attributes or the axes."""
    if "tmdlearn_step" in group.attrs:
        origin = group.attrs["tmdlearn_origin"]
        return float(group.attrs["tmdlearn_step"]), (float(origin[0]), float(origin[1]))
    y_axis, x_axis = axes[0], axes[1]
    if y_axis is None or x_axis is None:
        return 1.0, (0.0, 0.0)
    factors = [LENGTH_IN_UM.get(a[2]) for a in (y_axis, x_axis)]
    if None in factors:
        raise InputError(f"spatial axes of {group.name} in {y_axis[2]!r}, {x_axis[2]!r}: "
                         "need um, mm, nm or angstrom", path)
    x, y = x_axis[1] * factors[1] / scale, y_axis[1] * factors[0] / scale
    step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    return abs(step), (float(x[0]), float(y[0]))


def _spectral(axis, group: h5py.Group, path: Path) -> tuple[np.ndarray, str]:
    if axis is None or axis[2] not in _CONTAINER_UNITS:
        unit = None if axis is None else axis[2]
        raise InputError(f"the last axis of {group.name} has units {unit!r}, not a spectral "
                         "unit (1/cm, eV, nm)", path)
    return axis[1], _CONTAINER_UNITS[axis[2]]


def _read_data(group, kind, metadata, excitation, path) -> Item:
    _, values, units = _signal(group, path)
    axes = _axes(group, values.ndim, path)
    last = axes[-1] if axes else None
    spectral = last is not None and last[2] in _CONTAINER_UNITS and kind not in (
        "HeightMap", "StemImage")
    if values.ndim == 3 or (values.ndim == 2 and spectral):
        axis, unit = _spectral(last, group, path)
        if values.ndim == 2:
            return Spectra(values, axis, unit, excitation, source=path, metadata=metadata)
        step, origin = _grid_of(group, axes, path, 1.0)
        return SpectralMap(values, axis, unit, step, excitation, origin, path, metadata)
    if values.ndim != 2:
        raise InputError(f"signal of {group.name} is {values.ndim}-D: expected a 2-D image, "
                         "(N, L) spectra or an (ny, nx, L) map", path)
    is_stem = kind == "StemImage" or (not kind and axes[1] is not None
                                      and axes[1][2] in ("angstrom", "Å", "A"))
    if is_stem:
        step, _ = _grid_of(group, axes, path, 1e-4)
        return StemImage(values, step, path, metadata)
    step, _ = _grid_of(group, axes, path, 1e-3)
    channel = _text(group.attrs.get("tmdlearn_channel", "height"))
    if channel != "height" or units not in ("nm", ""):
        metadata = {**metadata, "unit": units}
    return HeightMap(values, step, channel, path, metadata)


def _read_fit_maps(entry, metadata, path) -> FitMaps:
    values, errors, units = {}, {}, {}
    step, origin = 1.0, (0.0, 0.0)
    for group in entry.values():
        if not isinstance(group, h5py.Group) or _nx_class(group) != "NXdata":
            continue
        signal, image, unit = _signal(group, path)
        values[signal], units[signal] = image, unit
        if "errors" in group:
            errors[signal] = group["errors"][()]
        step, origin = _grid_of(group, _axes(group, image.ndim, path), path, 1.0)
    if not values:
        raise InputError(f"no NXdata group in {entry.name}", path)
    return FitMaps(values, errors, units, step, origin, metadata)
