"""AFM and STEM image stacks in zarr (v3) stores, read an image at a time.

A height-stack store is a zarr group holding ``height``: (n, ny, nx) float64 heights in nm, one
image per chunk, and the group attributes ``kind`` (``height_stack``), ``names`` (the images'
file names), ``pixel_size_nm`` (one per image), ``unit`` (``nm``), ``channels``, ``metadata``
(the reader's, per image) and ``provenance`` (source paths with their sha256, tmdlearn
version). :func:`write_image_stack` writes one under a temporary name and renames it;
:func:`open_image_stack` gives a :class:`HeightStack` whose :meth:`~HeightStack.read` loads
one image, and whose :meth:`~HeightStack.image` is a :class:`StackImage`: a height map that
reads its pixels on first use and travels to a worker as (store, index), never as pixels.

A STEM frame store is the same with the :data:`STEM` kind: ``intensity`` (n, ny, nx) detector
counts, ``kind`` ``stem_stack``, ``pixel_size_angstrom`` (one per frame), ``unit`` ``counts``;
:func:`write_image_stack` and :func:`open_image_stack` take the kind, and its frames are
:class:`StackFrame`: STEM images read on first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdlearn.data.containers import HeightMap, StemImage
from tmdlearn.engine.lazyimages import StackFrame, StackImage
from tmdlearn.engine.stackkinds import (
    AFM,
    ARRAY_SUFFIXES,
    KIND,
    STACK_KINDS,
    STEM,
    StackKind,
    afm_files,
    is_afm_file,
)
from tmdlearn.engine.stores import is_zarr_store, open_store, staged_store, store_array
from tmdlearn.errors import InputError

#: Re-exported: the stack kinds and lazy images lived here first.
__all__ = ["AFM", "ARRAY_SUFFIXES", "KIND", "STACK_KINDS", "STEM", "HeightStack", "ImageStack",
           "StackFrame", "StackImage", "StackKind", "afm_files", "is_afm_file",
           "open_image_stack", "stack_kind", "write_image_stack"]


@dataclass
class HeightStack:
    """A lazy handle on an image-stack store: names and pixel sizes; the pixels stay on disk.

    Attributes
    ----------
    path : Path
        The store (a folder).
    names : list of str
        One name per image (the source file names).
    shape : tuple of int
        (n, ny, nx): images, rows and columns.
    pixel_sizes : list of float
        Pixel size of each image: nm for AFM (also as :attr:`pixel_size_nm`), Å for STEM
        (:attr:`pixel_size_angstrom`).
    attrs : dict
        Every attribute of the store (provenance, channels, metadata).
    kind : StackKind
        :data:`AFM` (height maps) or :data:`STEM` (frames).
    """

    path: Path
    names: list[str]
    shape: tuple[int, int, int]
    pixel_sizes: list[float]
    attrs: dict[str, Any] = field(default_factory=dict)
    kind: StackKind = AFM

    def __len__(self) -> int:
        """Images in the store."""
        return self.shape[0]

    @property
    def pixel_size_nm(self) -> list[float]:
        """Pixel size of each AFM image, nm."""
        return self._sizes(AFM)

    @property
    def pixel_size_angstrom(self) -> list[float]:
        """Pixel size of each STEM frame, Å."""
        return self._sizes(STEM)

    def _sizes(self, kind: StackKind) -> list[float]:
        if self.kind is not kind:
            raise AttributeError(f"a store of {self.kind.label} has no {kind.pixel_size}")
        return self.pixel_sizes

    def image(self, index: int) -> StackImage | StackFrame:
        """Image ``index`` as a height map (or STEM image) that reads its pixels on first use.

        Parameters
        ----------
        index : int
            Position in the stack (0-based).

        Returns
        -------
        StackImage or StackFrame
        """
        metadata = (self.attrs.get("metadata") or [{}] * len(self))[index]
        if self.kind is STEM:
            return StackFrame(self.path, index, self.pixel_sizes[index], self.shape[1:],
                              metadata, self.names[index])
        channels = self.attrs.get("channels") or ["height"] * len(self)
        return StackImage(self.path, index, self.pixel_sizes[index], self.shape[1:],
                          channels[index], metadata)

    def read(self, index: int) -> HeightMap | StemImage:
        """The values and pixel size of image ``index`` (0-based), read now.

        Parameters
        ----------
        index : int

        Returns
        -------
        HeightMap or StemImage
        """
        return self.image(index).load()


#: The handle of any image-stack store.
ImageStack = HeightStack





def write_image_stack(out: str | Path, images: Sequence[HeightMap | StemImage],
                      names: Sequence[str], provenance: dict | None = None,
                      kind: StackKind = AFM) -> Path:
    """Write images of one shape and one kind as an image-stack store, an image at a time,
    under a temporary name renamed onto ``out`` when complete.

    Parameters
    ----------
    out : str or Path
        The store folder (``.zarr``); an existing store there is replaced.
    images : sequence of HeightMap or StemImage
        All of one shape, the container of ``kind``; read one after another (a lazy sequence
        keeps one image in memory at a time).
    names : sequence of str
        One name per image (file names).
    provenance : dict, optional
        Where the images came from (source paths, sha256); the tmdlearn version is added.
    kind : StackKind
        :data:`AFM` (heights in nm, ``pixel_size_nm``) or :data:`STEM` (counts,
        ``pixel_size_angstrom``).

    Returns
    -------
    Path
        The complete store, ``out``.

    Raises
    ------
    InputError
        No images, or an image whose shape differs from the first's (naming it and both
        shapes).
    """
    from tmdlearn import __version__

    out = Path(out)
    if not len(images):
        raise InputError(f"no {kind.label} to write", out)
    first = images[0]
    attrs = {"kind": kind.kind, "unit": kind.unit, "names": list(map(str, names)),
             kind.pixel_size: [], "metadata": [],
             "provenance": {**(provenance or {}), "tmdlearn": __version__}}
    if kind is AFM:
        attrs["channels"] = []
    with staged_store(out) as group:
        values = group.create_array(kind.array, shape=(len(images),) + first.shape,
                                    dtype="float64", chunks=(1,) + first.shape)
        for i, (name, image) in enumerate(zip(attrs["names"], images, strict=True)):
            if image.shape != first.shape:
                raise InputError(f"{name} is {image.shape[0]} x {image.shape[1]} px but "
                                 f"{attrs['names'][0]} is {first.shape[0]} x {first.shape[1]}: "
                                 "a stack needs images of one shape",
                                 getattr(image, "source", None) or name)
            values[i] = getattr(image, kind.values)
            attrs[kind.pixel_size].append(float(getattr(image, kind.pixel_size)))
            attrs["metadata"].append(image.metadata)
            if kind is AFM:
                attrs["channels"].append(image.channel)
        group.attrs.update(json.loads(json.dumps(attrs, default=str)))
    return out




def stack_kind(path: str | Path) -> StackKind | None:
    """The kind of the image-stack store ``path`` (its ``kind`` attribute); None for anything
    else.

    Parameters
    ----------
    path : str or Path
        A file or folder.

    Returns
    -------
    StackKind or None
    """
    path = Path(path)
    if not is_zarr_store(path):
        return None
    try:
        return STACK_KINDS.get(json.loads((path / "zarr.json").read_text()).get(
            "attributes", {}).get("kind"))
    except (OSError, ValueError):
        return None




def open_image_stack(path: str | Path, kind: StackKind = AFM) -> HeightStack:
    """Open an image-stack store of ``kind`` lazily (only its metadata are read).

    Parameters
    ----------
    path : str or Path
        The ``.zarr`` folder of :func:`write_image_stack` (``tmdlearn convert``).
    kind : StackKind
        :data:`AFM` or :data:`STEM`: the array and pixel-size attribute looked for.

    Returns
    -------
    HeightStack
        Names, shape and pixel sizes now; the pixels image by image on demand.

    Raises
    ------
    InputError
        Not a zarr store, a store of another kind, no 3-D array of the kind (``height`` or
        ``intensity``), or no pixel size per image (``pixel_size_nm`` or
        ``pixel_size_angstrom``), naming the store.
    """
    path = Path(path)
    group, attrs = open_store(path)
    other = STACK_KINDS.get(attrs.get("kind"))
    if other is not None and other is not kind:
        raise InputError(f"a store of {other.label}, not of {kind.label}", path)
    shape = tuple(int(n) for n in store_array(group, kind.array, path,
                                              "image stack store").shape)
    if attrs.get("kind") in ("spectral_map", "spectra"):
        raise InputError(f"a {attrs['kind']} store, not "
                         f"{'an AFM image' if kind is AFM else 'a STEM frame'} stack", path)
    if len(shape) != 3:
        raise InputError(f"an image stack needs a 3-dimensional {kind.array} (n, ny, nx), got "
                         f"shape {shape}", path)
    sizes = attrs.get(kind.pixel_size)
    if not isinstance(sizes, list) or len(sizes) != shape[0] \
            or not all(isinstance(s, int | float) and s > 0 for s in sizes):
        raise InputError(f"the image stack store needs a positive '{kind.pixel_size}' "
                         f"attribute per image ({shape[0]} of them, "
                         f"{'nm' if kind is AFM else 'Å'})", path)
    names = attrs.get("names") or [f"{i}" for i in range(shape[0])]
    return HeightStack(path, [str(n) for n in names], shape, [float(s) for s in sizes], attrs,
                       kind)
