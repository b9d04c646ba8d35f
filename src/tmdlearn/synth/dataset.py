"""Write a generated dataset folder: manifest.csv (read by tmdlearn.data.Dataset) and
truth.csv (the ground truth of every measurement, keyed by the manifest's ``file``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path

MANIFEST_COLUMNS = ("sample_id", "material", "location", "modality", "file", "scan_size_um",
                    "laser_power_mw", "excitation_nm", "grating")


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """A user-given count or size: an integer of at least ``minimum``.

    Parameters
    ----------
    name : str
        Its name, for the error.
    value : int
        The value.
    minimum : int
        Smallest allowed value.

    Returns
    -------
    int

    Raises
    ------
    InputError
        When it is not an integer of at least ``minimum``.
    """
    if int(value) != value or value < minimum:
        raise InputError(f"{name} must be an integer of at least {minimum}, got {value}")
    return int(value)


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def write_tables(out: str | Path, manifest: list[dict], truth: list[dict]) -> Path:
    """Write ``out/manifest.csv`` (fixed columns first) and ``out/truth.csv``.

    Parameters
    ----------
    out : str or Path
        The dataset folder.
    manifest : list of dict
        One manifest row per measurement.
    truth : list of dict
        One ground-truth row per measurement.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    table = pd.DataFrame(manifest)
    first = [c for c in MANIFEST_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    _write_csv(table, out / "manifest.csv")
    _write_csv(pd.DataFrame(truth), out / "truth.csv")
    return out
