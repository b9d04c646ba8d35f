"""AFM image stacks in zarr (v3) stores, read an image at a time.

A height-stack store is a zarr group holding ``height``: (n, ny, nx) float64 heights in nm, one
image per chunk, and the group attributes ``kind`` (``height_stack``), ``names`` (the images'
file names), ``pixel_size_nm`` (one per image), ``unit`` (``nm``), ``channels``, ``metadata``
(the reader's, per image) and ``provenance`` (source paths with their sha256, tmdlearn
version). :func:`write_height_stack` writes one under a temporary name and renames it;
:func:`open_height_stack` gives a :class:`HeightStack` whose :meth:`~HeightStack.read` loads
one image, and whose :meth:`~HeightStack.image` is a :class:`StackImage`: a height map that
reads its pixels on first use and travels to a worker as (store, index), never as pixels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import HeightMap
from tmdlearn.engine.zarrstore import is_zarr_store, staged_store
from tmdlearn.errors import InputError

KIND = "height_stack"
#: Bare arrays read as AFM images when a command or ``--modality afm`` says they are AFM.
ARRAY_SUFFIXES = (".npz", ".npy", ".tif", ".tiff")


@dataclass
class HeightStack:
    """A lazy handle on a height-stack store: names and pixel sizes; the pixels stay on disk.

    Attributes
    ----------
    path : Path
        The store (a folder).
    names : list of str
        One name per image (the source file names).
    shape : tuple of int
        (n, ny, nx): images, rows and columns.
    pixel_size_nm : list of float
        Pixel size of each image, nm.
    attrs : dict
        Every attribute of the store (provenance, channels, metadata).
    """

    path: Path
    names: list[str]
    shape: tuple[int, int, int]
    pixel_size_nm: list[float]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """Images in the store."""
        return self.shape[0]

    def image(self, index: int) -> StackImage:
        """Image ``index`` as a height map that reads its pixels on first use.

        Parameters
        ----------
        index : int
            Position in the stack (0-based).

        Returns
        -------
        StackImage
        """
        channels = self.attrs.get("channels") or ["height"] * len(self)
        metadata = self.attrs.get("metadata") or [{}] * len(self)
        return StackImage(self.path, index, self.pixel_size_nm[index], self.shape[1:],
                          channels[index], metadata[index])

    def read(self, index: int) -> HeightMap:
        """The heights (nm) and pixel size (nm) of image ``index`` (0-based), read now.

        Parameters
        ----------
        index : int

        Returns
        -------
        HeightMap
        """
        return self.image(index).load()


class StackImage(HeightMap):
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

    def __init__(self, path: Path, index: int, pixel_size_nm: float,
                 shape: tuple[int, int], channel: str = "height",
                 metadata: dict | None = None):
        self.path, self.index, self._shape = Path(path), int(index), tuple(shape)
        self.pixel_size_nm, self.channel = float(pixel_size_nm), channel
        self.source, self.metadata, self._height = self.path, dict(metadata or {}), None

    @property
    def height_nm(self) -> np.ndarray:
        """Heights (ny, nx), nm, read from the store on first use."""
        if self._height is None:
            self._height = np.asarray(_heights(self.path)[self.index], dtype=float)
        return self._height

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (ny, nx), in pixels (without reading them)."""
        return self._shape

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
    from tmdlearn import __version__

    out = Path(out)
    if not len(images):
        raise InputError("no AFM images to write", out)
    first = images[0]
    attrs = {"kind": KIND, "unit": "nm", "names": list(map(str, names)), "pixel_size_nm": [],
             "channels": [], "metadata": [],
             "provenance": {**(provenance or {}), "tmdlearn": __version__}}
    with staged_store(out) as group:
        height = group.create_array("height", shape=(len(images),) + first.shape,
                                    dtype="float64", chunks=(1,) + first.shape)
        for i, (name, image) in enumerate(zip(attrs["names"], images, strict=True)):
            if image.shape != first.shape:
                raise InputError(f"{name} is {image.shape[0]} x {image.shape[1]} px but "
                                 f"{attrs['names'][0]} is {first.shape[0]} x {first.shape[1]}: "
                                 "a stack needs images of one shape",
                                 getattr(image, "source", None) or name)
            height[i] = image.height_nm
            attrs["pixel_size_nm"].append(float(image.pixel_size_nm))
            attrs["channels"].append(image.channel)
            attrs["metadata"].append(image.metadata)
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
    path = Path(path)
    if not is_zarr_store(path):
        return False
    try:
        return json.loads((path / "zarr.json").read_text()).get("attributes", {}).get(
            "kind") == KIND
    except (OSError, ValueError):
        return False


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
    import zarr

    path = Path(path)
    if not is_zarr_store(path):
        raise InputError("not a zarr store (no zarr.json)", path)
    try:
        group = zarr.open_group(path, mode="r")
        attrs = dict(group.attrs)
        shape = tuple(int(n) for n in group["height"].shape)
    except KeyError:
        raise InputError("the image stack store has no 'height' array", path) from None
    except Exception as err:  # noqa: BLE001 - a damaged store's metadata
        raise InputError(f"cannot open the zarr store: {err}", path) from err
    if attrs.get("kind") in ("spectral_map", "spectra"):
        raise InputError(f"a {attrs['kind']} store, not an AFM image stack", path)
    if len(shape) != 3:
        raise InputError(f"an image stack needs a 3-dimensional height (n, ny, nx), got shape "
                         f"{shape}", path)
    sizes = attrs.get("pixel_size_nm")
    if not isinstance(sizes, list) or len(sizes) != shape[0] \
            or not all(isinstance(s, int | float) and s > 0 for s in sizes):
        raise InputError(f"the image stack store needs a positive 'pixel_size_nm' attribute "
                         f"per image ({shape[0]} of them, nm)", path)
    names = attrs.get("names") or [f"{i}" for i in range(shape[0])]
    return HeightStack(path, [str(n) for n in names], shape, [float(s) for s in sizes], attrs)


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


def _heights(path: Path):
    import zarr

    return zarr.open_array(path / "height", mode="r")
