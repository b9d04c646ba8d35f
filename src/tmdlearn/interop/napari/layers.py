"""napari layer data ``(data, kwargs, layer_type)`` of tmdlearn's containers and outputs.

Plain tuples, no napari import: the reader and the widgets hand them to napari, and the tests
check them without napari or a display. Scales and units are physical (napari ``units`` in
pint spelling): AFM in nm, STEM in angstrom, spectral maps and fit results in µm, the
spectral axis of a stack in 1/cm, eV or nm (its first axis; by channel index where the
instrument's axis is not evenly spaced, the values then in the metadata). Every layer's
``metadata["tmdlearn"]`` says what it holds (container, units, verdicts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.interop.hyperspy import SPECTRAL
from tmdlearn.spectra.fitmaps import NEXUS_UNITS, FitMaps
from tmdlearn.spectra.quality import VERDICTS

LayerData = tuple[Any, dict[str, Any], str]
#: Drawn diameter of an atom marker, Å (about half the graphene bond).
ATOM_MARKER_ANGSTROM = 0.7
#: Relative tolerance within which a spectral axis counts as evenly spaced.
UNIFORM_RTOL = 1e-6
#: Per-atom columns of ``atoms.csv`` shown as point features: the model's score and the
#: distance (Å) to the other layer's nearest column.
ATOM_FEATURES = ("score", "other_layer_angstrom")
#: Marker colours by species index (as the overlay figure: metal first).
SPECIES_COLOURS = ("#ff7f0e", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def container_layers(item: HeightMap | Spectra | SpectralMap | StemImage,
                     name: str) -> list[LayerData]:
    """One image layer of a container.

    Parameters
    ----------
    item : HeightMap, Spectra, SpectralMap or StemImage
        The container.
    name : str
        Layer name.

    Returns
    -------
    list of (data, kwargs, layer_type)
        Heights (nm scale), a HAADF image (Å scale), a spectral map as a stack (spectral axis,
        y, x; µm) or spectra as an (N, L) image.
    """
    if isinstance(item, HeightMap):
        unit = item.metadata.get("unit", "nm") if item.channel != "height" else "nm"
        info = {"container": "HeightMap", "channel": item.channel, "value_unit": unit,
                "metadata": item.metadata}
        return [(item.height_nm, _image(f"{name} {item.channel}", (item.pixel_size_nm,) * 2,
                                        ("nm", "nm"), ("y", "x"), info, colormap="afmhot"),
                 "image")]
    if isinstance(item, StemImage):
        info = {"container": "StemImage", "pixel_size_angstrom": item.pixel_size_angstrom,
                "value_unit": "counts", "metadata": item.metadata}
        return [(item.intensity, _image(name, (item.pixel_size_angstrom,) * 2,
                                        ("angstrom", "angstrom"), ("y", "x"), info,
                                        colormap="gray"), "image")]
    if isinstance(item, Spectra | SpectralMap):
        label, step, start, unit = _spectral(item.axis, item.unit)
        info = {"container": type(item).__name__, "axis": item.axis, "unit": item.unit,
                "excitation_nm": item.excitation_nm, "metadata": item.metadata}
        if isinstance(item, Spectra):
            kwargs = _image(name, (1.0, step), ("pixel", unit), ("spectrum", label), info,
                            colormap="viridis") | {"translate": (0.0, start)}
            return [(item.intensity, kwargs, "image")]
        info |= {"step_um": item.step_um, "origin_um": item.origin_um}
        x0, y0 = item.origin_um
        kwargs = _image(name, (step, item.step_um, item.step_um), (unit, "um", "um"),
                        (label, "y", "x"), info, colormap="viridis")
        return [(np.moveaxis(item.intensity, -1, 0), kwargs | {"translate": (start, y0, x0)},
                 "image")]
    raise InputError(f"napari: no layer for a {type(item).__name__}")


def _image(name: str, scale: tuple, units: tuple, labels: tuple, info: dict,
           **extra) -> dict[str, Any]:
    return {"name": name, "scale": scale, "units": units, "axis_labels": labels,
            "metadata": {"tmdlearn": info}, **extra}


def _spectral(axis: np.ndarray, unit: str) -> tuple[str, float, float, str]:
    """(axis label, step, start, pint unit) of a spectral axis: physical where evenly spaced
    (within :data:`UNIFORM_RTOL` of the mean step), else channel index."""
    name = SPECTRAL[unit][0]
    if axis.size > 1:
        step = (axis[-1] - axis[0]) / (axis.size - 1)
        if np.allclose(np.diff(axis), step, rtol=UNIFORM_RTOL, atol=0):
            return name, float(step), float(axis[0]), NEXUS_UNITS[unit]
    return f"{name} (channel)", 1.0, 0.0, "pixel"


def spectral_map(data: np.ndarray, metadata: dict) -> SpectralMap:
    """The :class:`SpectralMap` of a stack layer made by :func:`container_layers`.

    Parameters
    ----------
    data : (L, ny, nx) array
        The layer's data.
    metadata : dict
        The layer's metadata (its ``tmdlearn`` entry holds the axis, unit, step and origin).

    Returns
    -------
    SpectralMap
    """
    info = metadata.get("tmdlearn", {})
    if info.get("container") != "SpectralMap":
        raise InputError("the layer is not a spectral map opened with tmdlearn's reader "
                         "(it carries no spectral axis): open the map file with tmdlearn")
    return SpectralMap(np.moveaxis(np.asarray(data), 0, -1), info["axis"], info["unit"],
                       info["step_um"], info["excitation_nm"], tuple(info["origin_um"]),
                       metadata=dict(info["metadata"]))


def fit_maps_layers(maps: FitMaps, name: str) -> list[LayerData]:
    """One image per fitted parameter and the verdicts as a labels layer.

    Parameters
    ----------
    maps : FitMaps
        Map fit results.
    name : str
        Prefix of the layer names.

    Returns
    -------
    list of (data, kwargs, layer_type)
        The parameter images (µm scale; only the first shown; unit and standard error in the
        metadata), then the verdict labels (1 ok, 2 weak, 3 absent, 4 poor, 0 not fitted) whose
        ``features`` name them; the verdict counts in every layer's metadata.
    """
    codes = maps.values.get("verdict")
    counts = ({v: int(np.sum(codes == k)) for k, v in enumerate(VERDICTS)}
              if codes is not None else None)
    x0, y0 = maps.origin_um
    grid = {"scale": (maps.step_um,) * 2, "translate": (y0, x0), "units": ("um", "um"),
            "axis_labels": ("y", "x")}
    layers: list[LayerData] = []
    for parameter, values in maps.values.items():
        if parameter == "verdict":
            continue
        info = {"container": "FitMaps", "parameter": parameter,
                "unit": maps.units.get(parameter, ""), "stderr": maps.errors.get(parameter),
                "verdicts": counts, "metadata": maps.metadata}
        layers.append((values, grid | {"name": f"{name} {parameter}", "colormap": "viridis",
                                       "visible": not layers, "metadata": {"tmdlearn": info}},
                       "image"))
    if codes is not None:
        labels = np.where(np.isfinite(codes), np.nan_to_num(codes) + 1, 0).astype(np.int32)
        info = {"container": "FitMaps", "parameter": "verdict", "verdicts": counts,
                "labels": dict(enumerate(VERDICTS, start=1)), "metadata": maps.metadata}
        features = {"index": list(range(len(VERDICTS) + 1)),
                    "verdict": ["not fitted", *VERDICTS]}
        layers.append((labels, grid | {"name": f"{name} verdict", "features": features,
                                       "metadata": {"tmdlearn": info}}, "labels"))
    return layers


def _verdict_info(quality: dict | None, layer: int) -> dict[str, Any]:
    """The self-check verdict (trust, score, reasons) and this crystal layer's checks."""
    if not quality:
        return {}
    rows = [row for row in quality.get("layers", []) if row.get("layer") == layer]
    return {"quality": {key: quality.get(key) for key in ("trust", "score", "reasons")},
            "layer_checks": rows[0] if rows else {}}


def atom_layers(atoms: pd.DataFrame, pixel_size_angstrom: float | None,
                quality: dict | None, name: str) -> list[LayerData]:
    """One points layer per crystal layer and species of an ``atoms.csv`` table.

    Parameters
    ----------
    atoms : DataFrame
        Columns x_px, y_px (px), layer, species and optionally the :data:`ATOM_FEATURES`.
    pixel_size_angstrom : float, optional
        Pixel size (Å): Å scale when given, else pixels.
    quality : dict, optional
        The self-check verdict (``quality.json``), put in each layer's metadata.
    name : str
        Prefix of the layer names.

    Returns
    -------
    list of (data, kwargs, "points")
        Points (y_px, x_px).
    """
    missing = {"x_px", "y_px", "layer", "species"} - set(atoms.columns)
    if missing:
        raise InputError(f"an atoms table needs columns {sorted(missing)}")
    scale, units = _pixel_grid(pixel_size_angstrom)
    species_order = list(dict.fromkeys(atoms["species"].astype(str)))
    layers: list[LayerData] = []
    for (layer, species), group in atoms.groupby(["layer", atoms["species"].astype(str)],
                                                 sort=True):
        info = {"container": "atoms", "layer": int(layer), "species": species,
                "pixel_size_angstrom": pixel_size_angstrom, **_verdict_info(quality, layer)}
        colour = SPECIES_COLOURS[species_order.index(species) % len(SPECIES_COLOURS)]
        kwargs = {"name": f"{name} layer {layer} {species}", "scale": scale, "units": units,
                  "axis_labels": ("y", "x"), "face_color": colour, "border_width": 0,
                  "size": ATOM_MARKER_ANGSTROM / scale[0] if pixel_size_angstrom else 3.0,
                  "metadata": {"tmdlearn": info}}
        features = {key: group[key].to_numpy(float) for key in ATOM_FEATURES
                    if key in group.columns}
        if features:
            kwargs["features"] = features
        layers.append((group[["y_px", "x_px"]].to_numpy(float), kwargs, "points"))
    return layers


def mask_layers(masks: np.ndarray, species: list[str], pixel_size_angstrom: float | None,
                quality: dict | None, name: str) -> list[LayerData]:
    """One labels layer per crystal layer of ``masks``.

    Parameters
    ----------
    masks : (layers, species, ny, nx) array
        Per-species masks of every crystal layer.
    species : list of str
        Species names, in the order of ``masks``.
    pixel_size_angstrom, quality, name
        As :func:`atom_layers`.

    Returns
    -------
    list of (data, kwargs, "labels")
        Label k + 1 where species k was found (0 elsewhere; ``features`` name the species).
    """
    masks = np.asarray(masks)
    if masks.ndim != 4 or masks.shape[1] != len(species):
        raise InputError(f"masks of shape {masks.shape} do not match {len(species)} species: "
                         "expected (layers, species, ny, nx)")
    scale, units = _pixel_grid(pixel_size_angstrom)
    features = {"index": list(range(len(species) + 1)), "species": ["none", *species]}
    layers: list[LayerData] = []
    for layer, per_species in enumerate(masks):
        labels = np.zeros(per_species.shape[1:], dtype=np.int32)
        for k, mask in enumerate(per_species):
            labels[mask > 0] = k + 1
        info = {"container": "masks", "layer": layer, "species": list(species),
                "pixel_size_angstrom": pixel_size_angstrom, **_verdict_info(quality, layer)}
        layers.append((labels, {"name": f"{name} layer {layer} masks", "scale": scale,
                                "units": units, "axis_labels": ("y", "x"),
                                "features": features, "opacity": 0.4,
                                "metadata": {"tmdlearn": info}}, "labels"))
    return layers


def _pixel_grid(pixel_size_angstrom: float | None) -> tuple[tuple[float, float], tuple]:
    if pixel_size_angstrom:
        return (float(pixel_size_angstrom),) * 2, ("angstrom", "angstrom")
    return (1.0, 1.0), ("pixel", "pixel")
