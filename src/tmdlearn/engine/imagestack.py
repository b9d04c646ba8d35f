"""AFM and STEM image stacks in zarr (v3) stores, read an image at a time.

A height-stack store is a zarr group holding ``height``: (n, ny, nx) float64 heights in nm, one
image per chunk, and the group attributes ``kind`` (``height_stack``), ``names`` (the images'
file names), ``pixel_size_nm`` (one per image), ``unit`` (``nm``), ``channels``, ``metadata``
(the reader's, per image) and ``provenance`` (source paths with their sha256, tmdlearn
version). :func:`write_height_stack` writes one under a temporary name and renames it;
:func:`open_height_stack` gives a :class:`HeightStack` whose :meth:`~HeightStack.read` loads
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

import numpy as np

from tmdlearn.data.containers import HeightMap, StemImage
from tmdlearn.engine.zarrstore import is_zarr_store, staged_store
from tmdlearn.errors import InputError

KIND = "height_stack"
#: Bare arrays read as AFM images when a command or ``--modality afm`` says they are AFM.
ARRAY_SUFFIXES = (".npz", ".npy", ".tif", ".tiff")


@dataclass(frozen=True)
class StackKind:
    """What one kind of image stack stores, and as what its images are read.

    Attributes
    ----------
    kind : str
        The ``kind`` attribute of its stores.
    array : str
        The (n, ny, nx) array of the store.
    values : str
        The container's pixel values field.
    pixel_size : str
        The container's (and the store attribute's) pixel-size field.
    unit : str
        Unit of the values.
    label : str
        Its images, in messages ("AFM images").
    """

    kind: str
    array: str
    values: str
    pixel_size: str
    unit: str
    label: str


#: AFM height maps: heights (nm), pixel sizes in nm.
AFM = StackKind(KIND, "height", "height_nm", "pixel_size_nm", "nm", "AFM images")
#: HAADF-STEM frames: detector counts, pixel sizes in Å.
STEM = StackKind("stem_stack", "intensity", "intensity", "pixel_size_angstrom", "counts",
                 "STEM frames")
STACK_KINDS = {k.kind: k for k in (AFM, STEM)}


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


class _LazyImage:
    """The pixels of image ``index`` of the store ``path``, read on first use; the shape
    without reading them."""

    stack_kind: StackKind

    def _lazy(self, path: Path, index: int, shape: tuple[int, int], metadata: dict | None):
        self.path, self.index, self._shape = Path(path), int(index), tuple(shape)
        self.source, self.metadata, self._values = self.path, dict(metadata or {}), None

    def _read(self) -> np.ndarray:
        if self._values is None:
            self._values = np.asarray(_images(self.path, self.stack_kind)[self.index],
                                      dtype=float)
        return self._values

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (ny, nx), in pixels (without reading them)."""
        return self._shape


class StackImage(_LazyImage, HeightMap):
    """One image of a height-stack store: a :class:`HeightMap` whose ``height_nm`` is read from
    the store on first use, pickled as (store, index) without its pixels.

    Parameters
    ----------
    path : Path
        The store.
    index : int
        Position in the stack.
    pixel_size_nm : float
        Pixel size, nm.
    shape : tuple of int
        (ny, nx), pixels.
    channel : str
        The recorded signal.
    metadata : dict
        The reader's metadata of the source file.
    """

    stack_kind = AFM

    def __init__(self, path: Path, index: int, pixel_size_nm: float,
                 shape: tuple[int, int], channel: str = "height",
                 metadata: dict | None = None):
        self._lazy(path, index, shape, metadata)
        self.pixel_size_nm, self.channel = float(pixel_size_nm), channel

    @property
    def height_nm(self) -> np.ndarray:
        """Heights (ny, nx), nm, read from the store on first use."""
        return self._read()

    def load(self) -> HeightMap:
        """The image as a plain height map (pixels read now).

        Returns
        -------
        HeightMap
        """
        return HeightMap(self.height_nm, self.pixel_size_nm, self.channel, self.source,
                         dict(self.metadata))

    def with_values(self, height_nm: np.ndarray, **changes) -> HeightMap:
        """A plain height map with new values (e.g. after levelling), same axes and metadata.

        Parameters
        ----------
        height_nm : (ny, nx) array
            The new values, nm.
        **changes
            Other fields to replace (e.g. ``channel``).

        Returns
        -------
        HeightMap
        """
        return HeightMap(height_nm, self.pixel_size_nm, self.channel, self.source,
                         dict(self.metadata)).with_values(height_nm, **changes)

    def __reduce__(self):
        return StackImage, (self.path, self.index, self.pixel_size_nm, self._shape,
                            self.channel, self.metadata)


class StackFrame(_LazyImage, StemImage):
    """One frame of a STEM frame store: a :class:`StemImage` whose ``intensity`` is read from
    the store on first use, pickled as (store, index) without its pixels.

    Parameters
    ----------
    path : Path
        The store.
    index : int
        Position in the stack.
    pixel_size_angstrom : float
        Pixel size, Å.
    shape : tuple of int
        (ny, nx), pixels.
    metadata : dict
        The reader's metadata of the source file.
    name : str, optional
        The frame's name (its source file name): its ``source`` is ``path / name``, so
        that results and messages name the frame.
    """

    stack_kind = STEM

    def __init__(self, path: Path, index: int, pixel_size_angstrom: float,
                 shape: tuple[int, int], metadata: dict | None = None,
                 name: str | None = None):
        self._lazy(path, index, shape, metadata)
        self.pixel_size_angstrom, self.name = float(pixel_size_angstrom), name or str(index)
        self.source = self.path / self.name

    @property
    def intensity(self) -> np.ndarray:
        """Detector counts (ny, nx), read from the store on first use."""
        return self._read()

    def load(self, pixel_size_angstrom: float | None = None) -> StemImage:
        """The frame as a plain STEM image (pixels read now).

        Parameters
        ----------
        pixel_size_angstrom : float, optional
            Pixel size in Å instead of the store's.

        Returns
        -------
        StemImage
        """
        return StemImage(self.intensity, pixel_size_angstrom or self.pixel_size_angstrom,
                         self.source, dict(self.metadata))

    def __reduce__(self):
        return StackFrame, (self.path, self.index, self.pixel_size_angstrom, self._shape,
                            self.metadata, self.name)


def write_height_stack(out: str | Path, images: Sequence[HeightMap], names: Sequence[str],
                       provenance: dict | None = None) -> Path:
    """Write height maps of one shape as a height-stack store, an image at a time, under a
    temporary name renamed onto ``out`` when complete.

    Parameters
    ----------
    out : str or Path
        The store folder (``.zarr``); an existing store there is replaced.
    images : sequence of HeightMap
        Heights in nm, all of one shape; read one after another (a lazy sequence keeps one
        image in memory at a time).
    names : sequence of str
        One name per image (file names).
    provenance : dict, optional
        Where the images came from (source paths, sha256); the tmdlearn version is added.

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
    return write_image_stack(out, images, names, provenance, AFM)


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


def is_height_stack(path: str | Path) -> bool:
    """Whether ``path`` is a zarr store whose ``kind`` attribute is ``height_stack``.

    Parameters
    ----------
    path : str or Path
        A file or folder.

    Returns
    -------
    bool
    """
    return stack_kind(path) is AFM


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


def open_height_stack(path: str | Path) -> HeightStack:
    """Open a height-stack store lazily (only its metadata are read).

    Parameters
    ----------
    path : str or Path
        The ``.zarr`` folder of :func:`write_height_stack` (``tmdlearn convert``).

    Returns
    -------
    HeightStack
        Names, shape and pixel sizes now; the heights image by image on demand.

    Raises
    ------
    InputError
        Not a zarr store, no 3-D ``height`` array, or no pixel size per image (the
        ``pixel_size_nm`` attribute), naming the store.
    """
    return open_image_stack(path, AFM)


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
    import zarr

    path = Path(path)
    if not is_zarr_store(path):
        raise InputError("not a zarr store (no zarr.json)", path)
    try:
        group = zarr.open_group(path, mode="r")
        attrs = dict(group.attrs)
        other = STACK_KINDS.get(attrs.get("kind"))
        if other is not None and other is not kind:
            raise InputError(f"a store of {other.label}, not of {kind.label}", path)
        shape = tuple(int(n) for n in group[kind.array].shape)
    except InputError:
        raise
    except KeyError:
        raise InputError(f"the image stack store has no '{kind.array}' array", path) from None
    except Exception as err:  # noqa: BLE001 - a damaged store's metadata
        raise InputError(f"cannot open the zarr store: {err}", path) from err
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


def afm_files(folder: Path, arrays: bool = True) -> list[Path]:
    """The AFM files of ``folder`` and its subfolders, sorted.

    Parameters
    ----------
    folder : Path
        A folder.
    arrays : bool
        Whether bare arrays (``.npz``, ``.npy``, ``.tif``) count, besides the AFM instrument
        formats.

    Returns
    -------
    list of Path
    """
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_afm_file(p, arrays))


def is_afm_file(path: Path, arrays: bool = True) -> bool:
    """Whether the suffix of ``path`` is an AFM format's (or, with ``arrays``, a bare array's).

    Parameters
    ----------
    path : Path
        A file name.
    arrays : bool
        Whether ``.npz``, ``.npy`` and ``.tif`` count.

    Returns
    -------
    bool
    """
    from tmdlearn.io.afm import AFM_FORMATS, NANOSCOPE_NUMBERED

    suffix = path.suffix.lower()
    return suffix in AFM_FORMATS or bool(NANOSCOPE_NUMBERED.match(suffix)) \
        or arrays and suffix in ARRAY_SUFFIXES


def _images(path: Path, kind: StackKind):
    import zarr

    return zarr.open_array(path / kind.array, mode="r")
