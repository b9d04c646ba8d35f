"""Images of a stack store that read their pixels on first use and travel to a worker as
(store, index), never as pixels: :class:`StackImage` (an AFM height map) and
:class:`StackFrame` (a STEM frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap, StemImage
from tmdlearn.engine.stackkinds import AFM, STEM, StackKind, stack_array


class _LazyImage:
    """The pixels of image ``index`` of the store ``path``, read on first use; the shape
    without reading them."""

    stack_kind: StackKind

    def _lazy(self, path: Path, index: int, shape: tuple[int, int], metadata: dict | None):
        self.path, self.index, self._shape = Path(path), int(index), tuple(shape)
        self.source, self.metadata, self._values = self.path, dict(metadata or {}), None

    def _read(self) -> np.ndarray:
        if self._values is None:
            self._values = np.asarray(stack_array(self.path, self.stack_kind)[self.index],
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
        The frame store (``tmdlearn convert FOLDER OUT.zarr --modality stem``).
    index : int
        The frame's position in it (0-based).
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

