"""File names taken from a manifest or a run folder stay inside that folder.

A name may be relative (``afm/S1.spm``, also ``afm/../afm/S1.spm``) or absolute, but once
``..`` and symbolic links are resolved it must lie inside the folder: ``../secret``,
``/etc/passwd`` and a link pointing out of the folder are refused. A folder's documentation
files (:data:`DOCUMENT_NAME`) are not data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tmdlearn.errors import InputError

#: A folder's files named so (any case; e.g. LICENSE.txt, README-data.txt) are its
#: documentation, not data: folder inputs leave them out.
DOCUMENT_NAME = re.compile(r"(readme|licen[cs]e|copying|notice|changelog|authors|citation)"
                           r"([^a-z].*)?", re.IGNORECASE)


def escape_reason(folder: str | Path, name: str | Path) -> str | None:
    """Why ``folder / name`` lies outside ``folder`` (after ``..`` and symbolic links).

    Parameters
    ----------
    folder : str or Path
        The folder names must stay in.
    name : str or Path
        A relative or absolute file name.

    Returns
    -------
    str or None
        The reason, or None when the name stays inside.
    """
    base = Path(folder).resolve()
    candidate = Path(folder) / name
    if candidate.resolve().is_relative_to(base):
        return None
    if Path(name).is_absolute():
        return "is an absolute path outside the folder"
    if not Path(os.path.normpath(base / name)).is_relative_to(base):
        return "climbs out of the folder with '..'"
    return "leads out of the folder through a symbolic link"


def contained(folder: str | Path, name: str | Path, source: str | Path) -> Path:
    """``folder / name``, checked to stay inside ``folder``.

    Parameters
    ----------
    folder : str or Path
        The folder the name must stay in; a relative name is read from it.
    name : str or Path
        The file name ``source`` gives.
    source : str or Path
        The manifest or run folder that gave the name, for the error.

    Returns
    -------
    Path
        ``folder / name``.

    Raises
    ------
    InputError
        When the name reaches outside ``folder``.
    """
    reason = escape_reason(folder, name)
    if reason is not None:
        raise InputError(f"entry {str(name)!r} {reason} ({Path(folder)})", source)
    return Path(folder) / name
