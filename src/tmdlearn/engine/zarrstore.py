"""Spectral maps and stacks of spectra in chunked zarr (v3) stores, read lazily.

A map store is a zarr group holding ``intensity``: (ny, nx, L) for a map or (n, L) for a
stack of spectra, chunked by blocks of whole rows (whole spectra in every chunk), and the
group attributes ``kind`` (``spectral_map`` or ``spectra``), ``axis`` (L values, ascending),
``unit`` (``cm-1``, ``eV`` or ``nm``), ``excitation_nm``, ``step_um`` and ``origin_um``
(maps), ``metadata`` and ``provenance`` (source paths with their sha256, tmdlearn version).
:func:`open_map_store` gives a :class:`MapStore` handle that reads rows on demand, so a map
larger than memory is fitted a chunk at a time; :func:`read_map_store` loads a small one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import Spectra, SpectralMap
from tmdlearn.engine.stores import open_store, staged_store, store_array
from tmdlearn.errors import InputError

#: Pixels per chunk of a converted store, and per task of a chunked fit.
CHUNK_PIXELS = 16384
KINDS = {"spectral_map": 3, "spectra": 2}  # kind -> dimensions of ``intensity``


@dataclass
class MapStore:
    """A lazy handle on a map store: its layout and metadata; the data stay on disk.

    Attributes
    ----------
    path : Path
        The store (a folder).
    kind : str
        ``spectral_map`` (``shape`` is (ny, nx)) or ``spectra`` (``shape`` is (n,)).
    shape : tuple of int
        Spatial shape: pixels per row are ``shape[1:]``.
    axis : (L,) ndarray
        Raman shift (cm⁻¹), photon energy (eV) or wavelength (nm), ascending.
    unit : str
        Unit of ``axis``.
    chunk_rows : int
        Rows per stored chunk.
    excitation_nm : float or None
        Laser line, nm.
    step_um : float or None
        Pixel step of a map, µm.
    origin_um : tuple of float
        Stage (x, y) of pixel (0, 0), µm.
    attrs : dict
        Every attribute of the store (provenance, metadata).
    """

    path: Path
    kind: str
    shape: tuple[int, ...]
    axis: np.ndarray
    unit: str
    chunk_rows: int
    excitation_nm: float | None = None
    step_um: float | None = None
    origin_um: tuple[float, float] = (0.0, 0.0)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_pixels(self) -> int:
        """Spectra in the store."""
        return int(np.prod(self.shape))

    @property
    def row_pixels(self) -> int:
        """Spectra per row (``nx`` for a map, 1 for a stack)."""
        return int(np.prod(self.shape[1:]))

    def read(self, rows: slice) -> np.ndarray:
        """The intensities of rows ``rows``: (r, nx, L) for a map, (r, L) for a stack (float64).

        Parameters
        ----------
        rows : slice
            Rows (map rows, or spectra of a stack) to read.

        Returns
        -------
        ndarray
            Intensities in the store's units (counts).
        """
        return np.asarray(_intensity(self.path)[rows], dtype=float)

    def load(self) -> SpectralMap | Spectra:
        """The whole store in memory, as a :class:`SpectralMap` or :class:`Spectra`.

        Returns
        -------
        SpectralMap or Spectra
            With the store's axis, unit, excitation and (maps) step and origin.
        """
        values = self.read(slice(None))
        metadata = dict(self.attrs.get("metadata") or {})
        if self.kind == "spectra":
            return Spectra(values, self.axis, self.unit, self.excitation_nm, self.path, metadata)
        return SpectralMap(values, self.axis, self.unit, self.step_um, self.excitation_nm,
                           self.origin_um, self.path, metadata)








def open_map_store(path: str | Path) -> MapStore:
    """Open a map store lazily (only its metadata are read).

    Parameters
    ----------
    path : str or Path
        The store folder.

    Returns
    -------
    MapStore

    Raises
    ------
    InputError
        Not a zarr store, no ``intensity`` array, no axis metadata (``axis`` and ``unit``
        attributes), or an intensity whose last axis length differs from the axis.
    """
    path = Path(path)
    group, attrs = open_store(path)
    if attrs.get("kind") == "height_stack":
        raise InputError("this is an AFM image stack, not a spectral map: give it to "
                         "`tmdlearn afm level|features|embed`, or open it with "
                         "tmdlearn.engine.imagestack.open_image_stack", path)
    if attrs.get("kind") == "stem_stack":
        raise InputError("this is a STEM frame stack, not a spectral map: give it to "
                         "`tmdlearn stem predict`, or open it with "
                         "tmdlearn.engine.imagestack.open_image_stack", path)
    array = store_array(group, "intensity", path)
    if "axis" not in attrs or "unit" not in attrs:
        raise InputError("the zarr store has no axis metadata (attributes 'axis' and 'unit')",
                         path)
    axis = np.asarray(attrs["axis"], dtype=float)
    kind = attrs.get("kind") or ("spectral_map" if array.ndim == 3 else "spectra")
    if KINDS.get(kind) != array.ndim:
        raise InputError(f"a {kind} store needs a {KINDS.get(kind, '2- or 3-')}-dimensional "
                         f"intensity, got shape {array.shape}", path)
    if axis.ndim != 1 or array.shape[-1] != axis.size:
        raise InputError(f"mismatched shapes: the intensity's last axis has {array.shape[-1]} "
                         f"points but the axis {axis.size}", path)
    if axis.size > 1 and not np.all(np.diff(axis) > 0):
        raise InputError("the store's axis is not strictly ascending", path)
    if kind == "spectral_map" and not attrs.get("step_um"):
        raise InputError("a spectral_map store needs a 'step_um' attribute (µm)", path)
    return MapStore(path, kind, tuple(int(n) for n in array.shape[:-1]), axis, str(attrs["unit"]),
                    int(array.chunks[0]), attrs.get("excitation_nm"), attrs.get("step_um"),
                    tuple(attrs.get("origin_um") or (0.0, 0.0)), attrs)


def read_map_store(path: str | Path) -> SpectralMap | Spectra:
    """A whole map store in memory (:func:`tmdlearn.io.read` of a ``.zarr`` folder).

    Parameters
    ----------
    path : str or Path
        A small store (it is read whole).

    Returns
    -------
    SpectralMap or Spectra
        With the store's axis (its unit), excitation (nm) and, for a map, step and origin (µm).
    """
    return open_map_store(path).load()


def row_blocks(n_rows: int, chunk_rows: int) -> list[slice]:
    """Consecutive blocks of ``chunk_rows`` rows covering ``n_rows`` (the last may be short).

    Parameters
    ----------
    n_rows : int
        Rows in all.
    chunk_rows : int
        Rows per block.

    Returns
    -------
    list of slice
    """
    return [slice(i, min(i + chunk_rows, n_rows)) for i in range(0, n_rows, chunk_rows)]


def chunk_rows_for(shape: tuple[int, ...], chunk_pixels: int) -> int:
    """Whole rows per chunk for about ``chunk_pixels`` spectra per chunk (at least one row).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape ((ny, nx) or (n,)).
    chunk_pixels : int
        Spectra wanted per chunk.

    Returns
    -------
    int
    """
    if not isinstance(chunk_pixels, int) or chunk_pixels < 1:
        raise InputError(f"chunk_pixels must be a positive integer, got {chunk_pixels!r}")
    return max(1, min(shape[0], chunk_pixels // int(np.prod(shape[1:]))))


def write_map_store(out: str | Path, item: SpectralMap | Spectra | MapStore,
                    chunk_pixels: int = CHUNK_PIXELS, provenance: dict | None = None) -> Path:
    """Write a map or stack of spectra as a map store, chunk by chunk, under a temporary name
    renamed onto ``out`` when complete.

    Parameters
    ----------
    out : str or Path
        The store folder to write (``.zarr``); an existing store there is replaced.
    item : SpectralMap, Spectra or MapStore
        The data; a :class:`MapStore` is copied a chunk at a time (never whole in memory).
    chunk_pixels : int
        Spectra per chunk (whole rows of a map).
    provenance : dict, optional
        Stored as the ``provenance`` attribute (sources and their sha256).

    Returns
    -------
    Path
        ``out``.
    """
    from tmdlearn import __version__

    out = Path(out)
    layout, read = _layout(item)
    rows = chunk_rows_for(layout["shape"], chunk_pixels)
    shape = tuple(layout.pop("shape")) + (len(layout["axis"]),)
    attrs = {**layout, "provenance": {**(provenance or {}), "tmdlearn": __version__}}
    with staged_store(out) as group:
        array = group.create_array("intensity", shape=shape, dtype="float64",
                                   chunks=(rows,) + shape[1:])
        for block in row_blocks(shape[0], rows):
            array[block] = read(block)
        group.attrs.update(json.loads(json.dumps(attrs, default=str)))
    return out




def _layout(item) -> tuple[dict, Callable[[slice], np.ndarray]]:
    """The attributes and spatial shape of ``item``, and a reader of its rows."""
    if isinstance(item, MapStore):
        keep = ("kind", "unit", "excitation_nm", "step_um", "origin_um", "metadata")
        layout = {k: item.attrs[k] for k in keep if k in item.attrs}
        return {**layout, "kind": item.kind, "axis": item.axis.tolist(),
                "shape": item.shape}, item.read
    layout = {"axis": item.axis.tolist(), "unit": item.unit, "excitation_nm": item.excitation_nm,
              "metadata": item.metadata, "shape": item.intensity.shape[:-1]}
    if isinstance(item, SpectralMap):
        layout.update(kind="spectral_map", step_um=item.step_um, origin_um=list(item.origin_um))
    else:
        layout.update(kind="spectra")
    return layout, lambda rows: item.intensity[rows]




def _intensity(path: Path):
    import zarr

    return zarr.open_array(path / "intensity", mode="r")
