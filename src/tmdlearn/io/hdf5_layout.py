"""A check of an HDF5 file's superblock before the HDF5 library walks it.

The superblock (at byte 0, or 512, 1024, 2048... after a user block) records the end-of-file
address: where the HDF5 data end. A file cut short or with bytes inserted or removed no longer
ends there, and every address after the change points at the wrong bytes; the HDF5 library
can then stay busy in its metadata decoding (a NeXus file with one ASCII number lengthened
by a byte was still being opened after 20 s). :func:`check_hdf5_layout` refuses such a
file with an InputError.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tmdlearn.errors import InputError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Offset of the base address after the signature, per superblock version.
BASE_ADDRESS_AT = {0: 24, 1: 28, 2: 12, 3: 12}


def check_hdf5_layout(path: Path) -> None:
    """InputError unless ``path`` has an HDF5 superblock whose end-of-file address (plus the
    base address) is the file's size in bytes.

    Parameters
    ----------
    path : Path
        The HDF5 (NeXus) file.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        start = 0
        while True:
            handle.seek(start)
            block = handle.read(64)
            if block.startswith(SIGNATURE) or start > size:
                break
            start = 512 if start == 0 else 2 * start
        if not block.startswith(SIGNATURE):
            raise InputError("cannot read as HDF5: no superblock signature", path)
    if len(block) < 14:
        raise InputError("truncated HDF5 superblock", path)
    version = block[8]
    if version not in BASE_ADDRESS_AT:
        raise InputError(f"unknown HDF5 superblock version {version}", path)
    offsets = block[13] if version < 2 else block[9]
    if offsets not in (4, 8):
        raise InputError(f"HDF5 superblock with {offsets}-byte addresses", path)
    fmt = "<3I" if offsets == 4 else "<3Q"
    at = BASE_ADDRESS_AT[version]
    if len(block) < at + 3 * offsets:
        raise InputError("truncated HDF5 superblock", path)
    base, _, end = struct.unpack_from(fmt, block, at)
    if base + end != size:
        raise InputError(f"the HDF5 superblock says the data end at byte {base + end} but the "
                         f"file has {size} bytes (truncated, or bytes inserted or removed)",
                         path)
