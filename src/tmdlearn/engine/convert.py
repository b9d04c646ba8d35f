"""``tmdlearn convert INPUT OUT.zarr``: a map, a stack of spectra, AFM or STEM images or a
store as a zarr store.

Any spectral map or spectrum file tmdlearn reads, a folder of spectrum files on one common axis
(a stack of spectra, in file-name order) or another map store (copied a chunk at a time) is
written by :func:`~tmdlearn.engine.zarrstore.write_map_store`; an AFM file, a folder of AFM
images of one shape (the files ``tmdlearn afm`` reads from a folder) or a height-stack store,
and a STEM file or folder of STEM frames of one shape (``modality="stem"``) or a frame store by
:func:`~tmdlearn.engine.imagestack.write_image_stack`. Both record their provenance: the
source paths and their sha256, and the tmdlearn version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.data.paths import DOCUMENT_NAME
from tmdlearn.engine.imagestack import (
    AFM,
    STEM,
    HeightStack,
    StackKind,
    afm_files,
    is_afm_file,
    open_image_stack,
    stack_kind,
    write_image_stack,
)
from tmdlearn.engine.stores import is_zarr_store
from tmdlearn.engine.zarrstore import CHUNK_PIXELS, MapStore, open_map_store, write_map_store
from tmdlearn.errors import InputError


def convert_to_store(source: str | Path, out: str | Path, chunk_pixels: int = CHUNK_PIXELS,
                     **options) -> MapStore | HeightStack:
    """Write ``source`` as the map store or image-stack store ``out``.

    Parameters
    ----------
    source : str or Path
        A spectral map or spectra file, a folder of spectrum files sharing one axis, or a map
        store; or an AFM file, a folder of AFM images of one shape (instrument files, or any
        of ``.npz``, ``.npy``, ``.tif`` with ``modality="afm"``; subfolders included, in
        name order) or a height-stack store; or, with ``modality="stem"``, a STEM file or a
        folder of STEM frames of one shape (the files ``tmdlearn stem predict`` reads from a
        folder), or a STEM frame store.
    out : str or Path
        The store folder (``.zarr``).
    chunk_pixels : int
        Spectra per chunk (whole rows of a map); an image stack has one image per chunk.
    **options
        Read options of :func:`tmdlearn.io.read` (``unit``, ``excitation_nm``, ``modality``,
        ``pixel_size_nm``, ``pixel_size_angstrom``).

    Returns
    -------
    MapStore or HeightStack
        The written store, opened.

    Raises
    ------
    InputError
        Unreadable input, spectra off the first file's axis, or AFM or STEM images of
        different shapes (naming the first odd file and both shapes).
    """
    from tmdlearn.io.digest import sha256

    source = Path(source)
    kind = stack_kind(source)
    if kind is not None:
        stack = open_image_stack(source, kind)
        sources = list(stack.attrs.get("provenance", {}).get("sources", []))
        sources.append({"path": str(source.resolve())})
        images = [stack.image(i) for i in range(len(stack))]
        write_image_stack(out, images, stack.names, {"sources": sources}, kind)
        return open_image_stack(out, kind)
    if is_zarr_store(source):
        item = open_map_store(source)
        sources = list(item.attrs.get("provenance", {}).get("sources", []))
        sources.append({"path": str(source.resolve())})
    elif (kind := _image_kind(source, options)) is not None:
        files = _image_files(source, kind)
        names = [str(f.relative_to(source)) for f in files] if source.is_dir() else [source.name]
        sources = [{"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
        write_image_stack(out, _ImageReads(files, options, kind), names, {"sources": sources},
                          kind)
        return open_image_stack(out, kind)
    else:
        files = _files(source)
        item = _read_stack(files, options) if source.is_dir() \
            else _read_one(source, options, images=True)
        sources = [{"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
        if isinstance(item, HeightMap | StemImage):
            kind = AFM if isinstance(item, HeightMap) else STEM
            write_image_stack(out, [item], [source.name], {"sources": sources}, kind)
            return open_image_stack(out, kind)
    write_map_store(out, item, chunk_pixels, {"sources": sources})
    return open_map_store(out)


def _image_kind(source: Path, options: dict) -> StackKind | None:
    """AFM with ``modality="afm"`` or a folder whose files all have AFM instrument suffixes,
    STEM with ``modality="stem"`` (a single file is AFM or STEM when it reads as one)."""
    modality = str(options.get("modality") or "").lower()
    if modality in ("afm", "stem"):
        return AFM if modality == "afm" else STEM
    if not source.is_dir():
        return None
    files = [f for f in source.rglob("*") if f.is_file() and not f.name.startswith(".")]
    return AFM if files and all(is_afm_file(f, arrays=False) for f in files) else None


def _image_files(source: Path, kind: StackKind) -> list[Path]:
    """The AFM files of a folder (subfolders included) or its STEM files (as ``stem
    predict`` finds them); a file alone."""
    from tmdlearn.io.stem import STEM_FORMATS

    if not source.is_dir():
        return [source]
    files = afm_files(source) if kind is AFM else sorted(
        p for p in source.iterdir() if p.is_file() and p.suffix.lower() in STEM_FORMATS)
    if not files:
        raise InputError(f"no {'AFM files' if kind is AFM else 'STEM images'} in this folder",
                         source)
    return files


class _ImageReads:
    """The images of ``files``, each read when asked for (one in memory at a time)."""

    def __init__(self, files: list[Path], options: dict, kind: StackKind):
        self.files, self.kind = files, kind
        self.options = {**options, "modality": "afm" if kind is AFM else "stem"}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> HeightMap | StemImage:
        from tmdlearn.io import read

        image = read(self.files[index], **self.options)
        if not isinstance(image, HeightMap if self.kind is AFM else StemImage):
            raise InputError(f"not {'an AFM height map' if self.kind is AFM else 'a STEM image'}",
                             self.files[index])
        return image


def _files(source: Path) -> list[Path]:
    if not source.exists():
        raise InputError("no such file or folder", source)
    if not source.is_dir():
        return [source]
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")
                   and not DOCUMENT_NAME.fullmatch(p.stem))  # README, LICENSE: not data
    if not files:
        raise InputError("the folder holds no files", source)
    return files


def _read_one(path: Path, options: dict, images: bool = False) -> SpectralMap | Spectra:
    """The spectra or map of ``path`` (or, with ``images``, an AFM or STEM image)."""
    from tmdlearn.io import read

    item = read(path, **options)
    if not isinstance(item, SpectralMap | Spectra) and not (
            images and isinstance(item, HeightMap | StemImage)):
        held = "spectra, a spectral map or AFM or STEM images" if images \
            else "spectra or a spectral map"
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
