"""``tmdlearn convert INPUT OUT.zarr``: a map, a stack of spectra, AFM images or a store as a
zarr store.

Any spectral map or spectrum file tmdlearn reads, a folder of spectrum files on one common axis
(a stack of spectra, in file-name order) or another map store (copied a chunk at a time) is
written by :func:`~tmdlearn.engine.zarrstore.write_map_store`; an AFM file, a folder of AFM
images of one shape (the files ``tmdlearn afm`` reads from a folder) or a height-stack store by
:func:`~tmdlearn.engine.imagestack.write_height_stack`. Both record their provenance: the
source paths and their sha256, and the tmdlearn version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap
from tmdlearn.engine.imagestack import (
    HeightStack,
    afm_files,
    is_afm_file,
    is_height_stack,
    open_height_stack,
    write_height_stack,
)
from tmdlearn.engine.zarrstore import (
    CHUNK_PIXELS,
    MapStore,
    is_zarr_store,
    open_map_store,
    write_map_store,
)
from tmdlearn.errors import InputError


def convert_to_store(source: str | Path, out: str | Path, chunk_pixels: int = CHUNK_PIXELS,
                     **options) -> MapStore | HeightStack:
    """Write ``source`` as the map store or height-stack store ``out``.

    Parameters
    ----------
    source : str or Path
        A spectral map or spectra file, a folder of spectrum files sharing one axis, or a map
        store; or an AFM file, a folder of AFM images of one shape (instrument files, or any
        of ``.npz``, ``.npy``, ``.tif`` with ``modality="afm"``; subfolders included, in
        name order) or a height-stack store.
    out : str or Path
        The store folder (``.zarr``).
    chunk_pixels : int
        Spectra per chunk (whole rows of a map); an image stack has one image per chunk.
    **options
        Read options of :func:`tmdlearn.io.read` (``unit``, ``excitation_nm``, ``modality``,
        ``pixel_size_nm``).

    Returns
    -------
    MapStore or HeightStack
        The written store, opened.

    Raises
    ------
    InputError
        Unreadable input, spectra off the first file's axis, or AFM images of different
        shapes (naming the first odd file and both shapes).
    """
    from tmdlearn.io.digest import sha256

    source = Path(source)
    if is_height_stack(source):
        stack = open_height_stack(source)
        sources = list(stack.attrs.get("provenance", {}).get("sources", []))
        sources.append({"path": str(source.resolve())})
        images = [stack.image(i) for i in range(len(stack))]
        write_height_stack(out, images, stack.names, {"sources": sources})
        return open_height_stack(out)
    if is_zarr_store(source):
        item = open_map_store(source)
        sources = list(item.attrs.get("provenance", {}).get("sources", []))
        sources.append({"path": str(source.resolve())})
    elif _is_afm(source, options):
        files = afm_files(source) if source.is_dir() else [source]
        if not files:
            raise InputError("no AFM files in this folder", source)
        names = [str(f.relative_to(source)) for f in files] if source.is_dir() else [source.name]
        sources = [{"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
        write_height_stack(out, _AfmReads(files, options), names, {"sources": sources})
        return open_height_stack(out)
    else:
        files = _files(source)
        item = _read_stack(files, options) if source.is_dir() \
            else _read_one(source, options, images=True)
        sources = [{"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
        if isinstance(item, HeightMap):
            write_height_stack(out, [item], [source.name], {"sources": sources})
            return open_height_stack(out)
    write_map_store(out, item, chunk_pixels, {"sources": sources})
    return open_map_store(out)


def _is_afm(source: Path, options: dict) -> bool:
    """AFM with ``modality="afm"``, or a folder whose files all have AFM instrument suffixes
    (a single file is AFM when it reads as a height map)."""
    if str(options.get("modality") or "").lower() == "afm":
        return True
    if not source.is_dir():
        return False
    files = [f for f in source.rglob("*") if f.is_file() and not f.name.startswith(".")]
    return bool(files) and all(is_afm_file(f, arrays=False) for f in files)


class _AfmReads:
    """The height maps of ``files``, each read when asked for (one in memory at a time)."""

    def __init__(self, files: list[Path], options: dict):
        self.files, self.options = files, {**options, "modality": "afm"}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> HeightMap:
        from tmdlearn.io import read

        image = read(self.files[index], **self.options)
        if not isinstance(image, HeightMap):
            raise InputError("not an AFM height map", self.files[index])
        return image


def _files(source: Path) -> list[Path]:
    if not source.exists():
        raise InputError("no such file or folder", source)
    if not source.is_dir():
        return [source]
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError("the folder holds no files", source)
    return files


def _read_one(path: Path, options: dict, images: bool = False) -> SpectralMap | Spectra:
    """The spectra or map of ``path`` (or, with ``images``, an AFM height map)."""
    from tmdlearn.io import read

    item = read(path, **options)
    if not isinstance(item, SpectralMap | Spectra) and not (images and
                                                          isinstance(item, HeightMap)):
        held = "spectra, a spectral map or AFM images" if images else "spectra or a spectral map"
        raise InputError(f"a zarr store holds {held}, not a {type(item).__name__}", path)
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
