"""A walk of a Gatan DigitalMicrograph 3 (.dm3) file's tag tree before rosettasciio reads it.

A .dm3 file is a 12-byte header (version 3, the root length, the byte order) and a tree of
tag groups (``sorted, open, count``) whose entries are groups or data tags (``%%%%``, a
count of info words, the info words, then the data). The info words describe the data:
a simple type, a string, a struct (its field types) or an array (element type, length).
Every count and length comes from the file; rosettasciio trusts them, and a struct
declaring millions of fields keeps it busy past any time limit. :func:`check_dm3_layout`
walks the tree, computing each tag's size from its info words, and refuses a count or size
that does not fit in the bytes left. Tags whose size it cannot compute (types it does not
know) end the walk without a verdict; .dm4 files are not walked (no real file to check the
walk against).
"""

from __future__ import annotations

import struct
from pathlib import Path

from tmdlearn.errors import InputError

#: Bytes of each simple DigitalMicrograph data type (short, long, ushort, ulong, float,
#: double, bool, char, octet, int64, uint64).
SIMPLE_BYTES = {2: 2, 3: 4, 4: 2, 5: 4, 6: 4, 7: 8, 8: 1, 9: 1, 10: 1, 11: 8, 12: 8}
STRING, STRUCT, ARRAY = 18, 15, 20
GROUP_TAG, DATA_TAG = 20, 21
MAX_DEPTH = 64


class _Unknown(Exception):
    """A tag whose size the walk cannot compute: stop without a verdict."""


def check_dm3_layout(path: Path) -> None:
    """InputError when a .dm3 file's tag tree declares counts or sizes beyond its bytes.

    Parameters
    ----------
    path : Path
        The file; one that is not DM3 (DM4, or not DigitalMicrograph) passes unchecked.
    """
    data = path.read_bytes()
    if len(data) < 12 or struct.unpack_from(">I", data)[0] != 3:
        return  # not DM3 (DM4 or not DigitalMicrograph): rosettasciio decides
    try:
        _group(data, 12, path, 0)
    except _Unknown:
        return
    except struct.error as err:
        raise InputError(f"the DM3 tag tree runs past the end of the file ({err})",
                         path) from err


def _group(data: bytes, at: int, path: Path, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise InputError(f"DM3 tag groups nested deeper than {MAX_DEPTH}", path)
    (count,) = struct.unpack_from(">I", data, at + 2)
    at += 6
    if count > (len(data) - at) // 3:  # a tag takes at least 3 bytes
        raise InputError(f"a DM3 tag group at byte {at - 6} declares {count} tags; "
                         f"{len(data) - at} bytes are left", path)
    for _ in range(count):
        kind, name_length = struct.unpack_from(">BH", data, at)
        at += 3 + name_length
        if kind == GROUP_TAG:
            at = _group(data, at, path, depth + 1)
        elif kind == DATA_TAG:
            at = _data(data, at, path)
        elif kind == 0:
            return at
        else:
            raise InputError(f"unknown DM3 tag type {kind} at byte {at - 3 - name_length}",
                             path)
    return at


def _data(data: bytes, at: int, path: Path) -> int:
    start = at
    if data[at: at + 4] != b"%%%%":
        raise InputError(f"a DM3 data tag at byte {at} lacks its %%%% mark", path)
    (words,) = struct.unpack_from(">I", data, at + 4)
    if 4 * words > len(data) - at - 8:
        raise InputError(f"a DM3 data tag at byte {start} declares {words} info words", path)
    info = struct.unpack_from(f">{words}I", data, at + 8)
    at += 8 + 4 * words
    size = _size(info, start, path)
    if size > len(data) - at:
        raise InputError(f"a DM3 data tag at byte {start} declares {size} bytes of data; "
                         f"{len(data) - at} are left", path)
    return at + size


def _size(info: tuple[int, ...], start: int, path: Path) -> int:
    """Bytes of a data tag's data from its info words."""
    if not info:
        raise InputError(f"a DM3 data tag at byte {start} has no info words", path)
    kind = info[0]
    if kind in SIMPLE_BYTES and len(info) == 1:
        return SIMPLE_BYTES[kind]
    if kind == STRUCT:
        return _struct_bytes(info[1:], start, path)
    if kind == ARRAY and len(info) >= 3:
        if info[1] in SIMPLE_BYTES and len(info) == 3:
            return info[2] * SIMPLE_BYTES[info[1]]
        if info[1] == STRUCT:
            return info[-1] * _struct_bytes(info[2:-1], start, path)
    raise _Unknown


def _struct_bytes(words: tuple[int, ...], start: int, path: Path) -> int:
    """Bytes of one struct from ``name length, field count, (name length, type) × count``."""
    if len(words) < 2 or len(words) != 2 + 2 * words[1]:
        raise InputError(f"a DM3 struct at byte {start} declares "
                         f"{words[1] if len(words) > 1 else '?'} fields in {len(words)} "
                         "info words", path)
    types = words[3::2]
    if not all(kind in SIMPLE_BYTES for kind in types):
        raise _Unknown
    return sum(SIMPLE_BYTES[kind] for kind in types)
