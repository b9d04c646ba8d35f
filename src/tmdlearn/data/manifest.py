"""The dataset manifest: ``manifest.csv``, one row per measurement, and modality pairing.

Columns: ``sample_id, material, location, modality, file`` (required; ``file`` relative to
the manifest's folder and inside it: ``..``, absolute paths and symbolic links that lead
out of the folder are refused), then measurement conditions whose names end in their unit
(``scan_size_um, laser_power_mw, excitation_nm``, ...), ``grating`` and optional
``growth_*`` columns. Read options for :func:`tmdlearn.io.read` may also be columns:
``channel``, ``pixel_size_nm``, ``pixel_size_angstrom``, ``unit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.data.paths import contained, escape_reason
from tmdlearn.errors import InputError

MODALITIES = ("afm", "raman", "pl", "raman_map", "pl_map", "stem")
REQUIRED = ("sample_id", "material", "location", "modality", "file")
#: Column-name endings that state a unit: such columns must hold plain numbers.
UNIT_SUFFIXES = ("_um", "_nm", "_mw", "_w", "_s", "_ms", "_min", "_h", "_c", "_k", "_sccm",
                 "_torr", "_mbar", "_pa", "_ev", "_cm1", "_angstrom", "_deg", "_pct")
#: Columns passed to tmdlearn.io.read as options, by name.
READ_OPTIONS = ("channel", "pixel_size_nm", "pixel_size_angstrom", "unit", "excitation_nm")
_OPTION_MODALITIES = {
    "channel": ("afm",), "pixel_size_nm": ("afm",), "pixel_size_angstrom": ("stem",),
    "unit": ("raman", "pl", "raman_map", "pl_map"),
    "excitation_nm": ("raman", "pl", "raman_map", "pl_map"),
}


def _is_numeric_column(name: str) -> bool:
    return name.lower().endswith(UNIT_SUFFIXES) and name not in REQUIRED


@dataclass
class Pairs:
    """Measurements aligned by (sample_id, location): one entry per modality and key.

    :attr:`groups` holds the sample id of each key (use it for grouped splits).

    Attributes
    ----------
    keys : list of (sample_id, location)
        The aligned keys.
    data : dict
        By modality, the containers in the order of ``keys``.
    rows : dict
        By modality, the manifest rows (DataFrame) in the order of ``keys``.
    inputs : list of str
        Input modalities.
    target : str or None
        Target modality.
    dropped : list of (sample_id, location)
        Keys lacking one of the modalities.
    """

    keys: list[tuple[str, str]]
    data: dict[str, list[Any]]
    rows: dict[str, pd.DataFrame]
    inputs: list[str]
    target: str | None
    dropped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def groups(self) -> np.ndarray:
        """Sample id of each aligned key."""
        return np.asarray([sample for sample, _ in self.keys])

    def array(self, modality: str) -> np.ndarray:
        """The values of ``modality`` stacked: (n, ny, nx) images or (n, L) spectra.

        Spectra must share one axis (resample first otherwise); a file holding several
        spectra contributes their mean.

        Parameters
        ----------
        modality : str
            One of the paired modalities (:data:`MODALITIES`).

        Returns
        -------
        array
            (n, ny, nx) heights (nm) or STEM counts, (n, L) spectra or (n, ny, nx, L) maps, in the
            order of ``keys``.
        """
        items = self.data[modality]
        values = [_values(item) for item in items]
        shapes = {v.shape for v in values}
        if len(shapes) > 1:
            raise InputError(f"{modality} files differ in shape {sorted(shapes)}: "
                             "crop or resample them to one shape first")
        axes = [item.axis for item in items if hasattr(item, "axis")]
        if axes and not all(np.allclose(a, axes[0]) for a in axes):
            raise InputError(f"{modality} spectra have different axes: resample them first")
        return np.stack(values)


def _values(item) -> np.ndarray:
    for name in ("height_nm", "intensity"):
        if hasattr(item, name):
            values = getattr(item, name)
            if name == "intensity" and hasattr(item, "axis") and values.ndim == 2:
                return values.mean(axis=0)  # Spectra: (N, L) -> mean spectrum
            return values
    raise TypeError(f"unexpected container {type(item).__name__}")


class Dataset:
    """The measurements listed by a folder's ``manifest.csv``, validated at opening.

    ``reader(path, **options)`` reads one measurement into a container (the io layer's
    :func:`tmdlearn.io.read`; :func:`tmdlearn.io.open_dataset` opens a Dataset with it). It is
    injected: the data layer never imports the readers. Without one, the manifest can be
    filtered and paired by key, but not loaded.
    """

    def __init__(self, folder: Path, table: pd.DataFrame,
                 reader: Callable[..., Any] | None = None):
        self.folder = Path(folder)
        self.table = table.reset_index(drop=True)
        self.reader = reader

    @classmethod
    def open(cls, folder: str | Path, reader: Callable[..., Any] | None = None) -> Dataset:
        """Read and validate a manifest.

        Every problem (missing columns or files, duplicate rows, unknown modality,
        non-numeric conditions) is reported at once in one InputError.

        Parameters
        ----------
        folder : str or Path
            The folder holding ``manifest.csv``, or the manifest's path.
        reader : callable, optional
            ``reader(path, **options)`` -> container, used by :meth:`load`
            (:func:`tmdlearn.io.read`).

        Returns
        -------
        Dataset
            The validated manifest, numeric condition columns as numbers.
        """
        path = Path(folder)
        if path.is_dir():
            path = path / "manifest.csv"
        if not path.is_file():
            raise InputError("no manifest.csv here", path)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read the manifest: {err}", path) from err
        table.columns = [str(c).strip() for c in table.columns]
        table = table.apply(lambda column: column.str.strip())
        problems = _validate(path.parent, table)
        if problems:
            count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
            raise InputError(f"{count}: " + "; ".join(problems), path)
        for column in table.columns:
            if _is_numeric_column(column):
                table[column] = pd.to_numeric(table[column].replace("", np.nan))
        return cls(path.parent, table, reader)

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self) -> Iterator[tuple[pd.Series, Any]]:
        """(row, container) for every measurement, read by the Dataset's reader."""
        for _, row in self.table.iterrows():
            yield row, self.load(row)

    def filter(self, **conditions) -> Dataset:
        """The rows whose columns equal the given values (a list/tuple means any of them).

        Parameters
        ----------
        **conditions
            Wanted value(s) by column name, e.g.
            ``filter(scan_size_um=1, laser_power_mw=4, modality=["raman", "pl"])``; numbers compare
            with a relative tolerance of 1e-9.

        Returns
        -------
        Dataset
            The matching rows, same folder and reader.
        """
        keep = np.ones(len(self.table), dtype=bool)
        for column, wanted in conditions.items():
            if column not in self.table.columns:
                raise InputError(f"no column {column!r} in the manifest: "
                                 f"{list(self.table.columns)}", self.folder / "manifest.csv")
            values = self.table[column]
            options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
            match = np.zeros(len(values), dtype=bool)
            for option in options:
                if isinstance(option, int | float) and _is_numeric_column(column):
                    match |= np.isclose(values.to_numpy(dtype=float), option, rtol=1e-9,
                                        atol=0)
                else:
                    match |= (values.astype(str) == str(option)).to_numpy()
            keep &= match
        return Dataset(self.folder, self.table[keep], self.reader)

    def load(self, row: int | pd.Series | dict) -> Any:
        """Read one measurement with the options its columns give.

        Parameters
        ----------
        row : int, Series or dict
            A row index of ``table``, or a row.

        Returns
        -------
        object
            The container the reader returns (HeightMap, Spectra, SpectralMap, StemImage).
        """
        if self.reader is None:
            raise TypeError("this Dataset has no reader: open it with "
                            "tmdlearn.io.open_dataset(folder) or Dataset.open(folder, reader=...)")
        if isinstance(row, int | np.integer):
            row = self.table.iloc[int(row)]
        options = {}
        for name in READ_OPTIONS:
            value = row.get(name, "")
            if row["modality"] in _OPTION_MODALITIES[name] and not _blank(value):
                options[name] = value if name in ("channel", "unit") else float(value)
        return self.reader(contained(self.folder, row["file"], self.folder / "manifest.csv"),
                           **options)

    def pairs(self, inputs: list[str], target: str | None = None) -> Pairs:
        """Measurements of ``inputs`` (and ``target``) aligned by sample and location.

        Keys lacking any of the modalities are dropped (listed in ``Pairs.dropped``); a key
        with two files of one modality is an error (filter by conditions first).

        Parameters
        ----------
        inputs : list of str
            Input modalities (:data:`MODALITIES`).
        target : str, optional
            Target modality.

        Returns
        -------
        Pairs
            The aligned measurements, each read with :meth:`load`.
        """
        wanted = list(inputs) + ([target] if target else [])
        unknown = [m for m in wanted if m not in MODALITIES]
        if unknown:
            raise InputError(f"unknown modality {unknown}: use {list(MODALITIES)}")
        table = self.table[self.table["modality"].isin(wanted)]
        counts = table.groupby(["sample_id", "location", "modality"]).size()
        repeated = counts[counts > 1]
        if len(repeated):
            listed = ", ".join(f"{s}/{loc} {m} x{n}" for (s, loc, m), n in repeated.items())
            raise InputError(f"several files for one sample, location and modality ({listed}): "
                             "filter by conditions first", self.folder / "manifest.csv")
        by_key = table.groupby(["sample_id", "location"])["modality"].apply(set)
        keys = [key for key, present in by_key.items() if set(wanted) <= present]
        dropped = [key for key, present in by_key.items() if not set(wanted) <= present]
        indexed = table.set_index(["sample_id", "location", "modality"])
        rows, data = {}, {}
        for modality in wanted:
            selected = indexed.xs(modality, level="modality").loc[keys].reset_index()
            selected["modality"] = modality
            rows[modality] = selected
            data[modality] = [self.load(row) for _, row in selected.iterrows()]
        return Pairs([tuple(k) for k in keys], data, rows, list(inputs), target, dropped)


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def _validate(folder: Path, table: pd.DataFrame) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        problems.append(f"missing column(s) {missing}")
    if len(table) == 0:
        problems.append("no rows")
    line = {i: i + 2 for i in range(len(table))}  # the header is line 1
    for i, row in table.iterrows():
        where = f"line {line[i]}"
        for column in REQUIRED:
            if column in table.columns and row[column] == "":
                problems.append(f"{where}: empty {column}")
        if "modality" in table.columns and row["modality"] not in MODALITIES + ("",):
            problems.append(f"{where}: unknown modality {row['modality']!r} "
                            f"(use {', '.join(MODALITIES)})")
        escape = escape_reason(folder, row["file"]) if "file" in table.columns else None
        if escape:
            problems.append(f"{where}: file {row['file']!r} {escape}")
        elif "file" in table.columns and row["file"] and not (folder / row["file"]).is_file():
            problems.append(f"{where}: file {row['file']!r} not found")
        for column in table.columns:
            value = row[column]
            if _is_numeric_column(column) and value != "" and not _is_number(value):
                problems.append(f"{where}: {column} = {value!r} is not a number "
                                "(the unit belongs in the column name)")
    if "file" in table.columns:
        files = table["file"][table["file"] != ""]
        for name in sorted(set(files[files.duplicated()])):
            lines = [str(line[i]) for i in files.index[files == name]]
            problems.append(f"duplicate rows for file {name!r} (lines {', '.join(lines)})")
    bad_names = [c for c in table.columns if re.search(r"\(|\[|\s", c)]
    if bad_names:
        problems.append(f"column names with units in brackets or spaces {bad_names}: "
                        "write e.g. scan_size_um")
    return problems


def _is_number(value: str) -> bool:
    try:
        return np.isfinite(float(value))
    except ValueError:
        return False
