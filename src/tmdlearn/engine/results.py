"""Result stores: per-pixel results of chunked work in a zarr (v3) store, resumable.

Every result array has the work's spatial shape and is chunked by the work's blocks of rows,
so each task writes its own zarr chunks and no two tasks ever write the same one. After a
chunk's arrays, the task sets that chunk's ``done`` flag (its own zarr chunk too); a run that
was killed is started again with the same command and fits only the chunks not yet done.
The store's ``fingerprint`` attribute (inputs + settings) keeps a different command from
mixing its results in; the chunk log beside the store (``fits.zarr.log``: one line per chunk
written, with its index, the writer's pid and the time) shows that no chunk was done twice.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.engine.stores import is_zarr_store, replace_folder
from tmdlearn.engine.zarrstore import row_blocks
from tmdlearn.errors import InputError

DONE = "done"


@dataclass(frozen=True)
class ResultStore:
    """A result store: arrays of ``shape`` in chunks of ``chunk_rows`` rows.

    Attributes
    ----------
    path : Path
        The store folder.
    shape : tuple of int
        Spatial shape of every result array.
    chunk_rows : int
        Rows per chunk (per task).
    """

    path: Path
    shape: tuple[int, ...]
    chunk_rows: int

    @property
    def blocks(self) -> list[slice]:
        """The rows of every chunk, in chunk order."""
        return row_blocks(self.shape[0], self.chunk_rows)

    def done(self) -> np.ndarray:
        """Whether each chunk is complete.

        Returns
        -------
        (n_chunks,) bool ndarray
        """
        return self._array(DONE)[:].astype(bool)

    def read(self, name: str, rows: slice = slice(None)) -> np.ndarray:
        """Rows ``rows`` of the result array ``name``.

        Parameters
        ----------
        name : str
            Array name.
        rows : slice
            Rows to read (default all).

        Returns
        -------
        ndarray
        """
        return self._array(name)[rows]

    def attrs(self) -> dict[str, Any]:
        """The store's attributes.

        Returns
        -------
        dict
            ``fingerprint``, ``shape``, ``chunk_rows`` and the work's own entries.
        """
        import zarr

        return dict(zarr.open_group(self.path, mode="r").attrs)

    def write_chunk(self, index: int, values: dict[str, np.ndarray]) -> None:
        """Write chunk ``index`` of every array in ``values``, then its done flag.

        Parameters
        ----------
        index : int
            The chunk (rows ``blocks[index]``).
        values : dict of str to ndarray
            Array name -> the chunk's block (its rows x the rest of ``shape``).

        Raises
        ------
        InputError
            When the disk fills up: the chunks done so far are kept, the same command resumes.
        """
        rows = self.blocks[index]
        try:
            for name, block in values.items():
                _write_block(self._array(name, "r+"), rows, block)
            _write_block(self._array(DONE, "r+"), slice(index, index + 1), np.ones(1, np.uint8))
            with open(log_path(self.path), "a", encoding="utf-8") as log:
                log.write(f"{index} {os.getpid()} {time.time():.3f}\n")
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise InputError(f"the disk is full (writing chunk {index}); the chunks already "
                             "done are kept: free some space and run the same command again",
                             self.path) from None

    def _array(self, name: str, mode: str = "r"):
        import zarr

        return zarr.open_array(self.path / name, mode=mode)


def _write_block(array, rows: slice, block: np.ndarray) -> None:
    """Write ``block`` into rows ``rows`` of a zarr array (a single point to fail in tests)."""
    array[rows] = block


def log_path(path: str | Path) -> Path:
    """The chunk log of the result store ``path`` (``fits.zarr`` -> ``fits.zarr.log``).

    Parameters
    ----------
    path : str or Path
        The result store whose log is wanted.

    Returns
    -------
    Path
        Beside the store: its name + ``.log``.
    """
    path = Path(path)
    return path.with_name(path.name + ".log")


def chunk_log(path: str | Path) -> list[int]:
    """The chunk indices written into a result store, one per write, in order (its log).

    Parameters
    ----------
    path : str or Path
        The result store.

    Returns
    -------
    list of int
        A chunk fitted twice appears twice.
    """
    log = log_path(path)
    if not log.exists():
        return []
    return [int(line.split()[0]) for line in log.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def open_results(path: str | Path, shape: tuple[int, ...], chunk_rows: int,
                 arrays: dict[str, tuple[str, Any]], attrs: dict[str, Any],
                 overwrite: bool = False) -> ResultStore:
    """Open the result store at ``path`` to resume it, or create it.

    Parameters
    ----------
    path : str or Path
        The store folder.
    shape : tuple of int
        Spatial shape of every result array.
    chunk_rows : int
        Rows per chunk.
    arrays : dict
        Array name -> (dtype, fill value).
    attrs : dict
        Attributes; ``attrs["fingerprint"]`` identifies the inputs and settings.
    overwrite : bool
        Start over when the existing store holds another command's results or another
        chunking (a matching store is always resumed).

    Returns
    -------
    ResultStore

    Raises
    ------
    InputError
        An existing store from a different command, or chunked differently, without
        ``overwrite``; a folder there that is not a zarr store.
    """
    import zarr

    path = Path(path)
    if path.exists():
        if not is_zarr_store(path):
            raise InputError("exists and is not a result store: choose another output", path)
        found = dict(zarr.open_group(path, mode="r").attrs)
        problem = _mismatch(found, attrs["fingerprint"], shape, chunk_rows)
        if problem is None:
            return ResultStore(path, tuple(shape), chunk_rows)
        if not overwrite:
            raise InputError(f"{problem}: use another output, or --overwrite to start it over",
                             path)
        shutil.rmtree(path)
        log_path(path).unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        group = zarr.open_group(tmp, mode="w-")
        chunks = (chunk_rows,) + tuple(shape[1:])
        for name, (dtype, fill) in arrays.items():
            group.create_array(name, shape=tuple(shape), chunks=chunks, dtype=dtype,
                               fill_value=fill)
        n_chunks = len(row_blocks(shape[0], chunk_rows))
        group.create_array(DONE, shape=(n_chunks,), chunks=(1,), dtype="uint8", fill_value=0)
        group.attrs.update({**attrs, "shape": list(shape), "chunk_rows": chunk_rows})
        replace_folder(tmp, path)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise InputError("the disk is full: the result store could not be created", path) \
            from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ResultStore(path, tuple(shape), chunk_rows)


def _mismatch(found: dict, fingerprint: str, shape, chunk_rows: int) -> str | None:
    if found.get("fingerprint") != fingerprint:
        return "holds the results of a different command (other inputs or settings)"
    if list(found.get("shape", [])) != list(shape) or found.get("chunk_rows") != chunk_rows:
        return (f"mismatched chunk shapes: the store is chunked by {found.get('chunk_rows')} "
                f"rows of {found.get('shape')}, this run by {chunk_rows} rows of {list(shape)} "
                "(run.chunk_pixels)")
    return None
