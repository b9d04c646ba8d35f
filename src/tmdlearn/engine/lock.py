"""One writer per output: a lock file created with ``O_EXCL`` that names its host and pid.

A second run on the same output is refused with the holder's host and pid. A lock left by a
run that died (its pid no longer exists on this host; SIGKILL leaves the file behind) is taken
over, so the same command resumes.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tmdlearn.errors import InputError


def lock_path(target: str | Path) -> Path:
    """The lock file of ``target`` (``fits.zarr`` -> ``fits.zarr.lock`` beside it).

    Parameters
    ----------
    target : str or Path
        The output written under the lock.

    Returns
    -------
    Path
    """
    target = Path(target)
    return target.with_name(target.name + ".lock")


@contextmanager
def output_lock(target: str | Path) -> Iterator[Path]:
    """Hold the lock of ``target`` for the block; remove it on leaving.

    Parameters
    ----------
    target : str or Path
        The output written under the lock (a store or a file); the lock is beside it.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    InputError
        When a live process (on this host, or any process on another host) holds it.
    """
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _create(path):
        holder = _holder(path)
        if holder is None or not _stale(holder):
            where = f"pid {holder['pid']} on {holder['host']}" if holder else "another run"
            raise InputError(f"another run ({where}) is writing this output; wait for it, or "
                             f"remove {path.name} if that run is gone", target)
        path.unlink(missing_ok=True)  # a dead run's lock: take it over
        if not _create(path):
            raise InputError("another run took over this output's stale lock", target)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"host": socket.gethostname(), "pid": os.getpid()}, handle)
    return True


def _holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return {"host": str(holder["host"]), "pid": int(holder["pid"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # being written, or not ours: treated as held


def _stale(holder: dict) -> bool:
    """Whether the holder is a process of this host that no longer runs."""
    if holder["host"] != socket.gethostname():
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
