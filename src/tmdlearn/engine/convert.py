"""``tmdlearn convert INPUT OUT.zarr``: a map, a stack of spectra or a map store as a map store.

Any spectral map or spectrum file tmdlearn reads, a folder of spectrum files on one common axis
(a stack of spectra, in file-name order) or another map store (copied a chunk at a time) is
written by :func:`~tmdlearn.engine.zarrstore.write_map_store` with its provenance: the source
paths and their sha256, and the tmdlearn version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra, SpectralMap
from tmdlearn.engine.zarrstore import (
    CHUNK_PIXELS,
    MapStore,
    is_zarr_store,
    open_map_store,
    write_map_store,
)
from tmdlearn.errors import InputError


def convert_to_store(source: str | Path, out: str | Path, chunk_pixels: int = CHUNK_PIXELS,
                     **options) -> MapStore:
    """Write ``source`` as the map store ``out``.

    Parameters
    ----------
    source : str or Path
        A spectral map or spectra file, a folder of spectrum files sharing one axis, or a map
        store.
    out : str or Path
        The store folder (``.zarr``).
    chunk_pixels : int
        Spectra per chunk (whole rows of a map).
    **options
        Read options of :func:`tmdlearn.io.read` (``unit``, ``excitation_nm``).

    Returns
    -------
    MapStore
        The written store, opened.
    """
    from tmdlearn.io.digest import sha256

    source = Path(source)
    if is_zarr_store(source):
        item = open_map_store(source)
        sources = list(item.attrs.get("provenance", {}).get("sources", []))
        sources.append({"path": str(source.resolve())})
    else:
        files = _files(source)
        item = _read_stack(files, options) if source.is_dir() else _read_one(source, options)
        sources = [{"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
    write_map_store(out, item, chunk_pixels, {"sources": sources})
    return open_map_store(out)


def _files(source: Path) -> list[Path]:
    if not source.exists():
        raise InputError("no such file or folder", source)
    if not source.is_dir():
        return [source]
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError("the folder holds no files", source)
    return files


def _read_one(path: Path, options: dict) -> SpectralMap | Spectra:
    from tmdlearn.io import read

    item = read(path, **options)
    if not isinstance(item, SpectralMap | Spectra):
        raise InputError(f"a zarr map store holds spectra or a spectral map, not a "
                         f"{type(item).__name__}", path)
    return item


def _read_stack(files: list[Path], options: dict) -> Spectra:
    """The spectra of every file, stacked (N, L); every file on the first one's axis."""
    first, rows = None, []
    for path in files:
        item = _read_one(path, options)
        if isinstance(item, SpectralMap):
            item = item.spectra()
        if first is None:
            first = item
        elif item.unit != first.unit or item.axis.shape != first.axis.shape \
                or not np.allclose(item.axis, first.axis, rtol=1e-9, atol=0):
            raise InputError(f"its axis ({item.axis.size} points in {item.unit}) differs from "
                             f"{files[0].name}'s: a stack needs one common axis", path)
        rows.append(item.intensity)
    return Spectra(np.vstack(rows), first.axis, first.unit, first.excitation_nm,
                   metadata={"files": [f.name for f in files]})
