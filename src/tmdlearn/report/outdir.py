"""``--out`` safety: a command writes only into a new or empty folder or a tmdlearn run folder.

A run folder is recognised by the ``run.json`` tmdlearn writes into it (a JSON object with a
``tmdlearn`` version key). Anything else that is not empty (a home folder, a data folder, a
run interrupted before its run.json) is refused unless the user passes ``--overwrite``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tmdlearn.errors import InputError


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
    try:
        payload = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and "tmdlearn" in payload


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
        The ``--out`` folder. Accepted: a missing or empty folder, a tmdlearn run folder, a
        folder holding a result store to resume (:func:`holds_result_store`), or any folder
        when ``overwrite`` is true.
    overwrite : bool
        Write into any folder (files of the same name are replaced, others are kept).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        For a file, or for a non-empty folder that is not a run folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out names a file, not a folder", out)
    if overwrite or not out.exists() or is_run_folder(out) or not any(out.iterdir()) \
            or holds_result_store(out):
        return out
    raise InputError("--out is a non-empty folder that is not a tmdlearn run folder (no "
                     "run.json of tmdlearn's): choose a new or empty folder, or pass "
                     "--overwrite to write into it", out)
