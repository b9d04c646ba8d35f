"""Long spectra tables: one row per position and axis point, as Renishaw WiRE exports maps,
line scans and series to text (``#X  #Y  #Wave  #Intensity``; ``#Time  #Wave  #Intensity``).

The column-name row names the position columns first, then the spectral axis and the
intensity. The rows of one spectrum follow each other (the position columns are constant over
them); every spectrum has the same axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError

#: Names of the last two columns of a long table: the spectral axis, then the intensity.
AXIS_NAMES = ("wave", "wavenumber", "raman shift", "wavelength", "energy")
VALUE_NAMES = ("intensity", "counts")


def column_names(column_names: str | None, split) -> list[str] | None:
    """The names (lower case, no ``#``) of a long table's columns: positions, then the axis and
    the intensity; None when the column-name row is not one (fewer than three names, or the
    last two not an axis and an intensity).

    Parameters
    ----------
    column_names : str or None
        The line of column names before the data.
    split : callable
        Splits a line into fields (the text reader's delimiter rules).
    """
    if not column_names:
        return None
    names = [f.strip().lstrip("#").strip().lower() for f in split(column_names) if f.strip()]
    if len(names) < 3 or names[-2] not in AXIS_NAMES or names[-1] not in VALUE_NAMES:
        return None
    return names


def repeats(data: np.ndarray, n_positions: int) -> bool:
    """Whether the position columns stay the same over consecutive rows somewhere (a long
    table's spectra have several points; ``Energy  Wavelength  Intensity`` columns, whose
    first column changes on every row, are not one).

    Parameters
    ----------
    data : (rows, columns) array
        The table.
    n_positions : int
        Number of position columns.
    """
    steps = np.diff(data[:, :n_positions], axis=0)
    return bool(np.any(np.all(steps == 0, axis=1)))


def split_spectra(data: np.ndarray, n_positions: int, path: Path
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, axis and intensities of a long table's rows.

    Parameters
    ----------
    data : (rows, n_positions + 2) array
        Position columns, axis, intensity.
    n_positions : int
        Number of position columns.
    path : Path
        The file, named in errors.

    Returns
    -------
    positions : (N, n_positions) array
        Each spectrum's position (the file's unit).
    axis : (L,) array
        The spectral axis, as in the file.
    values : (N, L) array
        The spectra.

    Raises
    ------
    InputError
        For a row of the wrong width, spectra of unequal length, or spectra whose axes differ.
    """
    if data.shape[1] != n_positions + 2:
        raise InputError(f"a long table with {n_positions} position columns needs "
                         f"{n_positions + 2} columns, the rows have {data.shape[1]}", path)
    positions = data[:, :n_positions]
    starts = np.r_[0, np.flatnonzero(np.any(np.diff(positions, axis=0) != 0, axis=1)) + 1]
    lengths = np.diff(np.r_[starts, len(data)])
    if np.any(lengths != lengths[0]):
        k = int(np.argmax(lengths != lengths[0]))
        raise InputError(f"spectrum {k + 1} (data row {starts[k] + 1}) has {lengths[k]} "
                         f"points, the first has {lengths[0]}: truncated, or one position "
                         f"recorded twice in a row", path)
    axes = data[:, n_positions].reshape(len(starts), lengths[0])
    tolerance = 1e-6 * max(float(np.ptp(axes[0])), 1e-12)
    differs = np.any(np.abs(axes - axes[0]) > tolerance, axis=1)
    if np.any(differs):
        k = int(np.argmax(differs))
        raise InputError(f"spectrum {k + 1} (data row {starts[k] + 1}) has another spectral "
                         f"axis than the first", path)
    values = data[:, n_positions + 1].reshape(len(starts), lengths[0])
    return positions[starts], axes[0], values
