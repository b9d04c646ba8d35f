"""The tag tree of a Gatan DigitalMicrograph file (.dm3 version 3, .dm4 version 4), walked
with every count and size checked against the bytes left.

Layout (Gatan does not publish it; described by C. Boothroyd and G. Jefferis): a header
(version: 4 bytes; the root's length: 4 bytes, 8 in DM4; the byte order of the data: 4 bytes,
1 little-endian, 0 big-endian), then the root tag group. A group is ``sorted`` and ``open``
(a byte each) and a count of tags (4 bytes, 8 in DM4). A tag is its kind (a byte: 20 group,
21 data), its name's length (2 bytes) and name, in DM4 its length in bytes (8), then the
group or the data: ``%%%%``, a count of info words, the info words (4 bytes each, 8 in DM4)
and the data. The info words describe the data: a simple type, a struct (its field types) or
an array (element type, length). Header numbers, counts and info words are big-endian; the
data are in the header's byte order.

Every count and length comes from the file, and a struct declaring millions of fields kept
a reader busy past any time limit. :func:`read_dm_tags` computes each tag's size from its
info words and refuses (:class:`InputError`) a count or size that does not fit in the bytes
left, so a damaged file ends in one line, not a hang or a huge allocation. A data tag of a
type whose size it cannot compute (strings, arrays of arrays) is skipped by its length in a
DM4 file and refused in a DM3 file (which does not state it).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.errors import InputError

#: NumPy type of each simple DigitalMicrograph data type (short, long, ushort, ulong, float,
#: double, bool, char, octet, int64, uint64).
SIMPLE_TYPES = {2: "i2", 3: "i4", 4: "u2", 5: "u4", 6: "f4", 7: "f8", 8: "u1", 9: "i1",
                10: "u1", 11: "i8", 12: "u8"}
STRUCT, ARRAY = 15, 20
GROUP_TAG, DATA_TAG = 20, 21
MAX_DEPTH = 64
#: A tag group: (name, value) in file order; a value is a group, a number, a tuple (struct)
#: or a 1-D array (array of a simple type or of structs).
Group = list[tuple[str, Any]]


def read_dm_tags(path: Path) -> tuple[int, str, Group]:
    """The version, byte order and root tag group of a DigitalMicrograph file, every size
    checked.

    Parameters
    ----------
    path : Path
        The .dm3 or .dm4 file.

    Returns
    -------
    version : int
        3 or 4.
    order : str
        Byte order of the data, ``<`` (little-endian) or ``>``.
    root : Group
        The root tag group; arrays are views of the file's bytes in its byte order.

    Raises
    ------
    InputError
        When the file is not DM3/DM4 or a count or size does not fit in its bytes.
    """
    data = path.read_bytes()
    version = struct.unpack_from(">I", data)[0] if len(data) >= 4 else None
    if version not in (3, 4):
        raise InputError("not a DigitalMicrograph 3 or 4 file (no version 3 or 4 header)", path)
    walk = _Walk(data, version, path)
    try:
        order = struct.unpack_from(">I", data, 8 if version == 3 else 12)[0]
        if order not in (0, 1):
            raise InputError(f"DM{version} header states byte order {order} (0 or 1 expected)",
                             path)
        walk.order = "<" if order else ">"
        return version, walk.order, walk.group(16 if version == 4 else 12, 0)[0]
    except struct.error as err:
        raise InputError(f"the DM{version} tag tree runs past the end of the file: truncated "
                         "or damaged", path) from err


class _Unknown(Exception):
    """A data tag whose size the walk cannot compute from its info words."""


class _Walk:
    """A walk over one file's bytes: counts and info words are ``word`` (``>I``, DM4 ``>Q``),
    the data in ``order``."""

    def __init__(self, data: bytes, version: int, path: Path):
        self.data, self.version, self.path = data, version, path
        self.word = ">I" if version == 3 else ">Q"
        self.width = struct.calcsize(self.word)
        self.least_tag = 3 if version == 3 else 11  # kind, name length (DM4: and length)
        self.order = "<"

    def refuse(self, problem: str) -> InputError:
        """An InputError for the file: ``problem`` with ``DM`` replaced by DM3 or DM4."""
        return InputError(problem.replace("DM", f"DM{self.version}", 1), self.path)

    def group(self, at: int, depth: int) -> tuple[Group, int]:
        """The tag group at byte ``at`` and the byte after it."""
        if depth > MAX_DEPTH:
            raise self.refuse(f"DM tag groups nested deeper than {MAX_DEPTH}")
        (count,) = struct.unpack_from(self.word, self.data, at + 2)
        left = len(self.data) - at - 2 - self.width
        if count > left // self.least_tag:
            raise self.refuse(f"a DM tag group at byte {at} declares {count} tags; {left} "
                              "bytes are left")
        at += 2 + self.width
        items: Group = []
        for _ in range(count):
            start = at
            kind, name_length = struct.unpack_from(">BH", self.data, at)
            name = self.data[at + 3: at + 3 + name_length].decode("latin-1")
            at += 3 + name_length
            if kind == 0:
                break
            end = None
            if self.version == 4:
                end = at + 8 + struct.unpack_from(">Q", self.data, at)[0]
                at += 8
            if kind == GROUP_TAG:
                value, at = self.group(at, depth + 1)
            elif kind == DATA_TAG:
                value, at = self.tag(at, end)
            else:
                raise self.refuse(f"unknown DM tag type {kind} at byte {start}")
            items.append((name, value))
        return items, at

    def tag(self, at: int, end: int | None) -> tuple[Any, int]:
        """The value of the data tag at byte ``at`` (DM4: ending at ``end``) and the byte
        after it; None for a tag of a type whose size is unknown."""
        start, data = at, self.data
        if data[at: at + 4] != b"%%%%":
            raise self.refuse(f"a DM data tag at byte {at} lacks its %%%% mark")
        (words,) = struct.unpack_from(self.word, data, at + 4)
        at += 4 + self.width
        if words * self.width > len(data) - at:
            raise self.refuse(f"a DM data tag at byte {start} declares {words} info words")
        info = struct.unpack_from(f">{words}{self.word[1]}", data, at)
        at += words * self.width
        try:
            dtype, count = self.layout(info, start)
        except _Unknown:
            if end is None or not at <= end <= len(data):
                raise self.refuse(f"a DM data tag at byte {start} has info words "
                                  f"{list(info[:4])}: a type of unknown size") from None
            return None, end
        size = count * dtype.itemsize
        if size > len(data) - at:
            raise self.refuse(f"a DM data tag at byte {start} declares {size} bytes of data; "
                              f"{len(data) - at} are left")
        values = np.frombuffer(data, dtype, count, at)
        return (values if info[0] == ARRAY else values[0].item()), at + size

    def layout(self, info: tuple[int, ...], start: int) -> tuple[np.dtype, int]:
        """The NumPy type of one element and the element count of a data tag."""
        if not info:
            raise self.refuse(f"a DM data tag at byte {start} has no info words")
        kind = info[0]
        if kind in SIMPLE_TYPES and len(info) == 1:
            return self.simple(kind), 1
        if kind == STRUCT:
            return self.struct(info[1:], start), 1
        if kind == ARRAY and len(info) == 3 and info[1] in SIMPLE_TYPES:
            return self.simple(info[1]), info[2]
        if kind == ARRAY and len(info) >= 3 and info[1] == STRUCT:
            return self.struct(info[2:-1], start), info[-1]
        raise _Unknown

    def simple(self, kind: int) -> np.dtype:
        """The NumPy type of a simple DM type, in the data's byte order."""
        return np.dtype(self.order + SIMPLE_TYPES[kind])

    def struct(self, words: tuple[int, ...], start: int) -> np.dtype:
        """One struct from ``name length, field count, (name length, type) × count``."""
        if len(words) < 2 or len(words) != 2 + 2 * words[1] or words[1] == 0:
            raise self.refuse(f"a DM struct at byte {start} declares "
                              f"{words[1] if len(words) > 1 else '?'} fields in {len(words)} "
                              "info words")
        types = words[3::2]
        if not all(kind in SIMPLE_TYPES for kind in types):
            raise _Unknown
        return np.dtype([(f"f{k}", self.simple(kind)) for k, kind in enumerate(types)])


def find(group: Group, *names: str) -> Any:
    """The value at the path ``names`` below ``group`` (None where a name is missing).

    Parameters
    ----------
    group : Group
        A tag group of :func:`read_dm_tags`.
    *names : str
        Tag names, outermost first.

    Returns
    -------
    object or None
        The first tag of that name at each level.
    """
    value: Any = group
    for name in names:
        if not isinstance(value, list):
            return None
        value = next((v for n, v in value if n == name), None)
    return value
