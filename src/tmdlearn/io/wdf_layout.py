"""Checks of a Renishaw .wdf file's block layout before a parser walks it.

A .wdf file is a 512-byte header block (``WDF1``) followed by blocks, each starting with a
16-byte header: a 4-character name, a uint32 id and a uint64 size that counts the header.
Parsers find a block by hopping from size to size; a size of 0 (a zeroed region) makes them
hop in place for ever, and a spectrum count or point count taken from a damaged header makes
them read or allocate far beyond the file. :func:`check_wdf_layout` refuses both with an
InputError before ``renishaw-wdf`` or rosettasciio sees the file.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tmdlearn.errors import InputError

HEADER_BYTES = 512
BLOCK_HEADER = struct.Struct("<4sIQ")  # name, uid, size (bytes, header included)
#: Header fields after the 52 bytes of signature, version, size, flags, uuid and padding.
COUNTS = struct.Struct("<IIIQQIII")  # ntracks, status, npoints, nspectra, ncollected,
#                                      naccum, ylistcount, xlistcount
COUNTS_OFFSET = 52
MAP_AREA_BYTES = 48  # flags, reserved, start xyz, step xyz, count xyz, line-focus count
MAX_BLOCKS = 1_000_000
#: The blocks a reader takes values from; any other block may be cut short at the file's end.
NEEDED = (b"DATA", b"XLST", b"YLST", b"ORGN", b"WMAP")


def check_wdf_layout(path: Path) -> dict[bytes, tuple[int, int]]:
    """Check a .wdf file's block chain and header counts against its real size.

    Every block must declare at least its own 16-byte header and end inside the file, except a
    last block that no reader needs (an analysis or image block cut short, as WiRE leaves
    some files: the walk stops there); the DATA block must hold ``nspectra × npoints``
    float32 values and the XLST block ``xlistcount`` of them.

    Parameters
    ----------
    path : Path
        The .wdf file.

    Returns
    -------
    dict
        ``{name: (offset, size)}`` (bytes, block header included) of the first block of each
        name (bytes keys such as ``b"DATA"``).

    Raises
    ------
    InputError
        Naming the file and the first inconsistency.
    """
    total = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or not header.startswith(b"WDF1"):
            raise InputError("not a Renishaw WDF file (no 512-byte WDF1 header)", path)
        blocks = _walk(handle, total, path)
    _, _, npoints, nspectra, _, _, _, xcount = COUNTS.unpack_from(header, COUNTS_OFFSET)
    for name in (b"DATA", b"XLST"):
        if name not in blocks:
            raise InputError(f"the file has no {name.decode()} block", path)
    if npoints < 2 or nspectra < 1:
        raise InputError(f"the header declares {nspectra} spectra of {npoints} points", path)
    _fits(path, blocks, b"DATA", 4 * npoints * nspectra,
          f"{nspectra} spectra of {npoints} points")
    _fits(path, blocks, b"XLST", 8 + 4 * xcount, f"an axis of {xcount} points")
    if b"WMAP" in blocks:
        _fits(path, blocks, b"WMAP", MAP_AREA_BYTES, "a map area")
    return blocks


def _walk(handle, total: int, path: Path) -> dict[bytes, tuple[int, int]]:
    blocks: dict[bytes, tuple[int, int]] = {}
    position = 0
    for _ in range(MAX_BLOCKS):
        if position == total:
            return blocks
        handle.seek(position)
        raw = handle.read(BLOCK_HEADER.size)
        if len(raw) < BLOCK_HEADER.size:
            raise InputError(f"truncated: a block header at byte {position} is cut off", path)
        name, _, size = BLOCK_HEADER.unpack(raw)
        if BLOCK_HEADER.size <= size and size > total - position and name not in NEEDED:
            return blocks  # a trailing block cut short, which no reader needs
        if size < BLOCK_HEADER.size or size > total - position:
            label = name.decode("latin-1").strip("\0 ") or "(blank)"
            raise InputError(
                f"block {label!r} at byte {position} declares {size} bytes; the file has "
                f"{total - position} bytes from there (damaged or truncated)", path,
            )
        blocks.setdefault(name, (position, size))
        position += size
    raise InputError(f"more than {MAX_BLOCKS} blocks", path)


def _fits(path: Path, blocks: dict, name: bytes, payload: int, what: str) -> None:
    offset, size = blocks[name]
    if payload > size - BLOCK_HEADER.size:
        raise InputError(
            f"the header declares {what} ({payload} bytes) but the {name.decode()} block at "
            f"byte {offset} holds {size - BLOCK_HEADER.size}", path,
        )
