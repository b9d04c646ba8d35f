"""``--out`` safety: a command writes only into a new or empty folder or a tmdlearn run folder.

A run folder is recognised by the ``run.json`` tmdlearn writes into it (a JSON object with a
``tmdlearn`` version key). Anything else that is not empty (a home folder, a data folder, a
run interrupted before its run.json) is refused unless the user passes ``--overwrite``; so is
the run folder of another command (its ``run.json``'s ``command_name``), whose files the new
run would mix with its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from tmdlearn.errors import InputError

#: The command being run (``tmdlearn stem predict``), set by :func:`tmdlearn.cli.main` for
#: the length of the command; None outside the command line.
running_command: list[str | None] = [None]


def command_name() -> str | None:
    """The command being run (``tmdlearn stem predict``); None outside the command line.

    Returns
    -------
    str or None
    """
    return running_command[0]


def run_record(folder: Path) -> dict | None:
    """The JSON object of ``folder``'s ``run.json`` when tmdlearn wrote it, else None.

    Parameters
    ----------
    folder : Path
        A folder.

    Returns
    -------
    dict or None
    """
    try:
        payload = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and "tmdlearn" in payload else None


def is_run_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a ``run.json`` written by tmdlearn.

    Parameters
    ----------
    folder : str or Path
        The folder.

    Returns
    -------
    bool
    """
    return run_record(Path(folder)) is not None


def holds_result_store(folder: str | Path) -> bool:
    """Whether ``folder`` holds a result store of tmdlearn's chunked work (a ``*.zarr`` folder
    whose attributes have a ``fingerprint``): a run that was interrupted, to be resumed.

    Parameters
    ----------
    folder : str or Path
        The run folder.

    Returns
    -------
    bool
    """
    for meta in Path(folder).glob("*.zarr/zarr.json"):
        try:
            attributes = json.loads(meta.read_text(encoding="utf-8")).get("attributes", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(attributes, dict) and "fingerprint" in attributes:
            return True
    return False


def prepare_out(out: str | Path, overwrite: bool = False) -> Path:
    """Check that a command may write into ``out``; returns it (creates nothing).

    Parameters
    ----------
    out : str or Path
        The ``--out`` folder. Accepted: a missing or empty folder, a tmdlearn run folder of
        the same command (:func:`command_name`; any, outside the command line or for a
        run.json without one), a folder holding a result store to resume
        (:func:`holds_result_store`), or any folder when ``overwrite`` is true.
    overwrite : bool
        Write into any folder (files of the same name are replaced, others are kept).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        For a file, for a non-empty folder that is not a run folder, or for another command's
        run folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out names a file, not a folder", out)
    record = run_record(out) if out.is_dir() and not overwrite else None
    wrote, running = (record or {}).get("command_name"), command_name()
    if wrote and running and wrote != running:
        raise InputError(f"--out is the run folder of `{wrote}`, not of `{running}`: choose "
                         "another folder, or pass --overwrite to write into it", out)
    if overwrite or not out.exists() or record is not None or not any(out.iterdir()) \
            or holds_result_store(out):
        return out
    raise InputError("--out is a non-empty folder that is not a tmdlearn run folder (no "
                     "run.json of tmdlearn's): choose a new or empty folder, or pass "
                     "--overwrite to write into it", out)
