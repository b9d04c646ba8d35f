"""Spectrum inputs: files from paths, folders and manifests (``data.inputs`` of the spectra
workflow)."""

from __future__ import annotations

import csv
from pathlib import Path

from tmdlearn.data.paths import DOCUMENT_NAME, contained
from tmdlearn.errors import InputError

#: File suffixes taken from a folder given as an input.
SPECTRA_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".asc", ".wdf", ".spc", ".sif", ".spe",
                    ".nxs", ".jdx", ".dx", ".jcamp")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files from paths, folders (their spectrum files, sorted; README, LICENSE and the like
    left out) and manifests ('path' column, relative to the manifest's folder and inside it).

    Parameters
    ----------
    inputs : list of Path

    Returns
    -------
    list of Path
    """
    files: list[Path] = []
    from tmdlearn.engine.stores import is_zarr_store

    for item in inputs:
        if is_zarr_store(item):
            files.append(item)
        elif item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in SPECTRA_SUFFIXES
                           and not DOCUMENT_NAME.fullmatch(p.stem))
            if not found:
                raise InputError(f"no spectrum files ({', '.join(SPECTRA_SUFFIXES)})", item)
            files += found
        elif item.is_file() and _is_manifest(item):
            with open(item, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            files += [contained(item.parent, row["path"], item).resolve()
                      for row in rows if row["path"]]
        elif item.exists():
            files.append(item)
        else:
            raise InputError("no such file or folder", item)
    return files


def _is_manifest(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "path" in [h.strip().lower() for h in header.split(",")]
