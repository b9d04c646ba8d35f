"""The plumbing of every zarr store (map stores, image stacks, result stores): is a folder a
store, open its group and an array with one-line errors, and write a new store under a
temporary name renamed onto its final one."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tmdlearn.errors import InputError


def is_zarr_store(path: str | Path) -> bool:
    """Whether ``path`` is a zarr (v3) store folder (it holds ``zarr.json``).

    Parameters
    ----------
    path : str or Path
        A file or folder, which need not exist.

    Returns
    -------
    bool
        False for a file, a missing path or a folder without ``zarr.json``.
    """
    path = Path(path)
    return path.is_dir() and (path / "zarr.json").is_file()


def open_store(path: Path):
    """The zarr group of a store, read-only, and its attributes.

    Parameters
    ----------
    path : Path
        The store folder.

    Returns
    -------
    group : zarr.Group
    attrs : dict

    Raises
    ------
    InputError
        Not a zarr store, or its metadata cannot be read (naming the store).
    """
    import zarr

    if not is_zarr_store(path):
        raise InputError("not a zarr store (no zarr.json)", path)
    try:
        group = zarr.open_group(path, mode="r")
        return group, dict(group.attrs)
    except Exception as err:  # noqa: BLE001 - a damaged store's metadata
        raise InputError(f"cannot open the zarr store: {err}", path) from err


def store_array(group, name: str, path: Path, what: str = "zarr store"):
    """The array ``name`` of a store's group (opened, not read).

    Parameters
    ----------
    group : zarr.Group
        From :func:`open_store`.
    name : str
        The array ("intensity", "height").
    path : Path
        The store, named in errors.
    what : str
        The store, in the message of a missing array ("zarr store", "image stack store").

    Returns
    -------
    zarr.Array

    Raises
    ------
    InputError
        No such array, or its metadata cannot be read.
    """
    try:
        return group[name]
    except KeyError:
        raise InputError(f"the {what} has no '{name}' array", path) from None
    except Exception as err:  # noqa: BLE001 - a damaged store's metadata
        raise InputError(f"cannot open the zarr store: {err}", path) from err


@contextmanager
def staged_store(out: Path) -> Iterator[Any]:
    """A new zarr group under a temporary name beside ``out``, renamed onto ``out`` (replacing
    a store there) when the block completes; removed if it fails.

    Parameters
    ----------
    out : Path
        The store's final name.

    Yields
    ------
    zarr.Group
        The group to fill (``.OUT.tmp-PID``).

    Raises
    ------
    InputError
        ``out`` exists and is not a zarr store, or the disk filled up (nothing written).
    """
    import zarr

    if out.exists() and not is_zarr_store(out):
        raise InputError("exists and is not a zarr store: choose another output", out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield zarr.open_group(tmp, mode="w-")
        replace_folder(tmp, out)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise InputError("the disk is full: nothing was written", out) from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_folder(new: Path, out: Path) -> None:
    """Rename the folder ``new`` onto ``out``, replacing (then deleting) a folder there.

    Parameters
    ----------
    new : Path
        The complete folder, under a temporary name beside ``out``.
    out : Path
        Its final name.
    """
    if not out.exists():
        os.replace(new, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)
