"""Gatan DigitalMicrograph files for the tests, written byte by byte to the layout C. Boothroyd
and G. Jefferis describe: a header (version, root length, byte order of the data), then tag
groups (sorted, open, tag count) of tags (kind 20 group / 21 data, name length, name; DM4 then
the tag's length in bytes); a data tag is ``%%%%``, its info-word count, the info words and
the data. DM3 counts and info words take 4 bytes, DM4's 8; they are big-endian, the data in
the header's byte order."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

#: DM tag types of NumPy element types.
TAG_TYPES = {"i1": 9, "u1": 10, "i2": 2, "u2": 4, "i4": 3, "u4": 5, "f4": 6, "f8": 7, "i8": 11,
             "u8": 12}
#: DM image data types (``ImageData/DataType``) of NumPy element types.
IMAGE_TYPES = {"i1": 9, "u1": 6, "i2": 1, "u2": 10, "i4": 7, "u4": 11, "f4": 2, "f8": 12,
               "i8": 39, "u8": 40}


class DmWriter:
    """Tags of a DM ``version`` (3 or 4) file whose data are in byte ``order`` (``<``, ``>``)."""

    def __init__(self, version: int = 3, order: str = "<"):
        self.version, self.order = version, order
        self.word = ">I" if version == 3 else ">Q"

    def _words(self, *values: int) -> bytes:
        return b"".join(struct.pack(self.word, v) for v in values)

    def _entry(self, kind: int, name: str, body: bytes) -> bytes:
        label = name.encode("latin-1")
        size = struct.pack(">Q", len(body)) if self.version == 4 else b""
        return struct.pack(">BH", kind, len(label)) + label + size + body

    def group(self, *entries: bytes, count: int | None = None) -> bytes:
        """A tag group's body: sorted, open, the tag count (default: the entries') and tags."""
        return b"\0\0" + self._words(len(entries) if count is None else count) + b"".join(entries)

    def sub(self, name: str, *entries: bytes, count: int | None = None) -> bytes:
        """A named group tag (its tag count: default the entries')."""
        return self._entry(20, name, self.group(*entries, count=count))

    def tag(self, name: str, info: list[int], payload: bytes, words: int | None = None
            ) -> bytes:
        """A data tag of ``info`` words (their count: default their number) and raw
        ``payload``."""
        count = len(info) if words is None else words
        return self._entry(21, name, b"%%%%" + self._words(count, *info) + payload)

    def number(self, name: str, value, dtype: str) -> bytes:
        """A simple data tag of NumPy type ``dtype``."""
        return self.tag(name, [TAG_TYPES[dtype]],
                        np.array(value, self.order + dtype).tobytes())

    def array(self, name: str, values: np.ndarray) -> bytes:
        """An array data tag of ``values``' element type."""
        values = np.ascontiguousarray(values).ravel()
        code = values.dtype.str[1:]
        return self.tag(name, [20, TAG_TYPES[code], values.size],
                        values.astype(self.order + code).tobytes())

    def text(self, name: str, value: str) -> bytes:
        """A string as DM stores one: an array of UTF-16 code units (ushort)."""
        return self.array(name, np.frombuffer(value.encode("utf-16-le"), "<u2"))

    def image(self, data: np.ndarray, scale: float | None = 0.01, units: str = "nm",
              name: str = "HAADF", voltage: float | None = 200e3,
              data_type: int | None = None, axes: list[tuple[float, str]] | None = None,
              meta: dict[str, str] | None = None) -> bytes:
        """One ``ImageList`` entry: ``data`` ([frames,] y, x), every axis calibrated with
        ``scale`` ``units`` (none when ``scale`` is None) or each with its own of ``axes``
        ((scale, units), x first), its title, beam voltage (V) and ``ImageTags/Meta Data``
        texts."""
        dims = data.shape[::-1]
        code = IMAGE_TYPES.get(data.dtype.str[1:]) if data_type is None else data_type
        axes = axes or ([(scale, units)] * len(dims) if scale is not None else [])
        calibration = [self.sub("", self.number("Origin", 0.0, "f4"),
                                self.number("Scale", value, "f4"), self.text("Units", unit))
                       for value, unit in axes]
        image_data = self.sub("ImageData",
                              self.sub("Calibrations", self.sub("Dimension", *calibration)),
                              self.array("Data", data),
                              self.number("DataType", code, "i4"),
                              self.sub("Dimensions", *(self.number("", d, "u4") for d in dims)),
                              self.number("PixelDepth", data.dtype.itemsize, "u4"))
        tags = [] if voltage is None else [self.number("Voltage", voltage, "f8")]
        image_tags = [self.sub("Microscope Info", *tags)]
        if meta:
            image_tags.insert(0, self.sub("Meta Data", *(self.text(k, v)
                                                         for k, v in sorted(meta.items()))))
        return self.sub("", image_data, self.sub("ImageTags", *image_tags),
                        self.text("Name", name))

    def file(self, *images: bytes, thumbnail: bool = True, extra: tuple[bytes, ...] = ()
             ) -> bytes:
        """A whole file: an RGB thumbnail (``ImageList`` entry 0, listed in ``Thumbnails``)
        when ``thumbnail``, then ``images``, then the ``extra`` root tags."""
        entries = list(images)
        root_tags = list(extra)
        if thumbnail:
            rgb = np.full((8, 8), 0x00FF8040, np.uint32)
            entries.insert(0, self.image(rgb, None, name="", voltage=None, data_type=23))
            root_tags.append(self.sub("Thumbnails", self.sub("", self.number("ImageIndex", 0,
                                                                             "u4"))))
        root = self.group(self.sub("ImageList", *entries), *root_tags)
        length = struct.pack(self.word, len(root))
        header = struct.pack(">I", self.version) + length + struct.pack(">I", self.order == "<")
        return header + root + bytes(2 * struct.calcsize(self.word))


def write_dm(path: Path, *images: bytes, writer: DmWriter, **options) -> Path:
    """``writer.file(*images, **options)`` written to ``path``."""
    path.write_bytes(writer.file(*images, **options))
    return path
