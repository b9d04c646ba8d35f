"""A dataset folder opened with the readers: :class:`tmdlearn.data.Dataset` composed with
:func:`tmdlearn.io.read` (the data layer takes its reader by injection)."""

from __future__ import annotations

from pathlib import Path

from tmdlearn.data.manifest import Dataset
from tmdlearn.io.read import read


def open_dataset(folder: str | Path) -> Dataset:
    """Open and validate a dataset whose measurements load with :func:`tmdlearn.io.read`.

    Parameters
    ----------
    folder : str or Path
        The folder holding ``manifest.csv``, or the manifest's path.

    Returns
    -------
    Dataset
        The validated manifest; :meth:`~tmdlearn.data.Dataset.load`, iteration and
        :meth:`~tmdlearn.data.Dataset.pairs` read the files.
    """
    return Dataset.open(folder, reader=read)
