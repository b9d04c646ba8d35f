"""Spectra readers: column text/CSV, LabSpec 6 exports, row-per-pixel map tables, long tables
(WiRE text exports), Renishaw .wdf.

The unit of the spectral axis is resolved by :mod:`tmdlearn.io.spectral_units`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra, SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.io import long_table
from tmdlearn.io.spectral_units import laser_nm, normalise_unit, resolve_unit
from tmdlearn.io.wdf_layout import check_wdf_layout

#: A stitched multi-window acquisition has at most this many windows of at least this length.
MAX_WINDOWS = 32
MIN_WINDOW_POINTS = 8
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".xy", ".asc", ".prn")

_DECIMAL_COMMA = re.compile(r"^([-+]?\d*),(\d*([eE][-+]?\d+)?)$")
#: A header line "Key: value" (Ocean Optics, WITec): a short key without '=' or a digit first.
_COLON_PAIR = re.compile(r"^\s*([^\d\s=:][^=:]{0,59}?)\s*:\s*(\S.*?)\s*$")
#: The line that ends the data of an Ocean Optics SpectraSuite export.
_END_MARKER = ">>>>>End"
_XY_UNITS = {"mm": 1000.0, "\u00b5m": 1.0, "nm": 1e-3}
_XY_LABEL = re.compile(
    r"(?:pos(?:ition)?[\s_]*)?([xy])(?:[\s_]*(?:pos(?:ition)?)?)?"
    r"\s*(?:[(\[_]?\s*(mm|um|\u00b5m|\u03bcm|micron|nm)\s*[)\]]?)?", re.I)



def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError("the file is empty", path)
    if b"\0" in raw[:4096]:
        raise InputError("binary content where a text spectrum was expected", path)
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark is not part of the first line
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # LabSpec writes Latin-1


def _split(line: str) -> list[str]:
    """The fields of a line: tab, semicolon, comma or whitespace separated; a decimal comma
    (a European locale's export) is read as a point where commas do not separate the fields,
    and empty trailing fields (a spreadsheet's trailing separators) are dropped."""
    line = line.rstrip("\r\n")
    sep = _separator(line)
    if sep == ",":
        fields = [f.strip() for f in line.split(",")]
    else:
        fields = [_DECIMAL_COMMA.sub(r"\1.\2", f.strip()) for f in line.split(sep)]
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


def _separator(line: str) -> str | None:
    """The field separator of a line: a tab, a semicolon, a comma, or None for whitespace
    (also for whitespace-separated numbers with decimal commas)."""
    if "\t" in line:
        return "\t"
    if ";" in line:
        return ";"
    return "," if "," in line and not _comma_decimals(line.split()) else None


def _comma_decimals(words: list[str]) -> bool:
    """Whether whitespace-separated ``words`` are two or more numbers with decimal commas."""
    return len(words) >= 2 and all(_DECIMAL_COMMA.fullmatch(w) for w in words)


def _colon_pair(line: str) -> tuple[str, str] | None:
    """``Key: value`` -> (key, value) for a header line such as ``XAxis mode: Wavelengths`` or
    ``Excitation Wavelength [nm]:<TAB>532.067``; None otherwise."""
    match = _COLON_PAIR.match(line.rstrip("\r\n"))
    return (match.group(1), match.group(2)) if match else None


def _xy_scale(fields: list[str]) -> tuple[float, str] | None:
    """(factor to µm, unit) when the first two fields name X and Y position columns."""
    if len(fields) < 4:
        return None
    match = [_XY_LABEL.fullmatch(f) for f in fields[:2]]
    if not (match[0] and match[1] and match[0].group(1).lower() == "x"
            and match[1].group(1).lower() == "y"):
        return None
    named = match[0].group(2) or match[1].group(2)
    if named is None:
        return 1.0, "µm (assumed)"
    unit = named.lower().replace("\u03bc", "\u00b5").replace("um", "\u00b5m")
    unit = "\u00b5m" if unit == "micron" else unit
    return _XY_UNITS[unit], f"{unit} (from the column name {fields[0]!r})"


def _floats(fields: list[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def parse_header_line(line: str) -> tuple[str, str] | None:
    """``#Key=<TAB>Value`` -> (key, value); the value may itself contain '='.

    Parameters
    ----------
    line : str
        A header line, with or without its leading ``#``.

    Returns
    -------
    tuple of str or None
        (key, value) stripped, or None when the line has no '='.
    """
    body = line.lstrip("#").strip()
    if "=" not in body:
        return None
    key, value = body.split("=", 1)
    return key.strip(), value.strip()


def read_text_spectra(path: Path, unit: str | None = None,
                      excitation_nm: float | None = None) -> Spectra | SpectralMap:
    """Read column text / CSV spectra, a LabSpec 6 export, a row-per-pixel map table or a long
    table.

    Layouts: two or more columns (axis, then one column per spectrum); a LabSpec series
    (``<TAB>axis…`` then one spectrum per line); a map (``<TAB><TAB>axis…`` or
    ``X (mm);Y (mm);axis…``, then ``X;Y;intensities…`` per pixel); a long table (column names
    ``#X #Y #Wave #Intensity`` or another position column such as ``#Time``, then one row per
    position and axis point: Renishaw WiRE's text export, :mod:`tmdlearn.io.long_table`; its X
    and Y in µm). Map positions are
    converted to µm (mm, µm or nm from the column names, µm when unnamed); a ``;``-separated
    file may use decimal commas.

    Parameters
    ----------
    path : Path
        The text file.
    unit : str, optional
        Axis unit ("cm-1", "eV", "nm"); default: from the header, else from the value range
        (see the module docstring).
    excitation_nm : float, optional
        Laser wavelength (nm); default: a ``Laser`` / ``Excitation`` header key.

    Returns
    -------
    Spectra or SpectralMap
        A map for a grid of X/Y positions (step in µm), otherwise Spectra (N, L); rows whose
        positions do not fill a grid keep them in ``metadata["x_um"]``, ``metadata["y_um"]``.
    """
    table = _parse_lines(_decode(path), path)
    if not len(table.rows):
        raise InputError("no numeric data found", path)
    data = np.asarray(table.rows, dtype=float)
    axis_line = table.axis_line
    if not np.all(np.isfinite(data)) or (axis_line and not np.all(np.isfinite(axis_line))):
        bad = int(np.argwhere(~np.isfinite(data))[0][0]) if not np.all(np.isfinite(data)) else 0
        raise InputError(f"NaN or infinite values (data row {bad + 1})", path)
    if any(t.startswith(">>>>>Begin") for t in table.header_text) and not any(
            k.lower().startswith("xaxis") for k in table.header):
        table.header["XAxis mode"] = "Wavelengths (an Ocean Optics export: nm unless it says)"
    metadata: dict = {"header": table.header} if table.header else {}
    if table.header_text:
        metadata["column_names"] = table.header_text[-1]
    if excitation_nm is None:
        excitation_nm = laser_nm(table.header)
    if axis_line is not None:
        return _with_axis_line(path, table, data, unit, excitation_nm, metadata)
    names = long_table.column_names(metadata.get("column_names"), _split)
    if names is not None and long_table.repeats(data, len(names) - 2):
        return _long_spectra(path, table, data, names, unit, excitation_nm, metadata)
    if data.shape[1] < 2:
        raise InputError("need at least two columns (axis and intensity)", path)
    data = data[_monotonic_order(data[:, 0], path, metadata)]
    axis = data[:, 0]
    unit, axis = resolve_unit(axis, unit, table.header, table.header_text, excitation_nm,
                              metadata, path)
    return Spectra(data[:, 1:].T, axis, unit, excitation_nm, source=path, metadata=metadata)


@dataclass
class _Lines:
    """What the lines of a spectra text file hold (:func:`_parse_lines`)."""

    header: dict[str, str] = field(default_factory=dict)       # ``#Key=Value`` lines
    header_text: list[str] = field(default_factory=list)       # other lines before the data
    rows: list[list[float]] = field(default_factory=list)      # the numeric rows
    axis_line: list[float] | None = None                       # axis values of an axis row
    leading: int = 0  # fields before the axis values on the axis row: series (1) or map (2)
    xy_scale: tuple[float, str] | None = None  # (factor to µm, unit) of named X/Y columns
    first_row_line: int = 0
    axis_line_number: int = 0


def _parse_lines(text: str, path: Path) -> _Lines:
    """Header, axis row and numeric rows of a text file; InputError at the first line that is
    not numeric, or not as wide as the first data line, after the data began."""
    out = _Lines()
    stream = io.StringIO(text, newline=None)  # lines read lazily, \r and \r\n as \n
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        if not out.rows and out.axis_line is None:
            if line.lstrip().startswith("#"):
                pair = parse_header_line(line)
                if pair:
                    out.header[pair[0]] = pair[1]
                else:
                    out.header_text.append(line.lstrip("#").strip())
                continue
            fields = _split(line)
            axis_row = _axis_row(fields, number, path)
            if axis_row is not None:
                out.axis_line, out.leading, out.xy_scale = axis_row
                out.axis_line_number = number
                continue
            values = _floats(fields)
            if values is None or len(values) < 2:
                pair = _colon_pair(line)
                if pair:  # "Integration Time (sec): 0.1", "XAxis mode: Wavelengths"
                    out.header[pair[0]] = pair[1]
                else:
                    out.header_text.append(line.strip())
                continue
            out.rows.append(values)
            out.first_row_line = number
            if _read_rest(stream, line, out):
                return out
            continue
        values = _floats(_split(line))
        if values is None and line.startswith(_END_MARKER):
            break  # ">>>>>End Processed Spectral Data<<<<<" (Ocean Optics SpectraSuite)
        if values is None:
            raise InputError(f"line {number} is not numeric: {line.strip()[:40]!r}", path)
        out.rows.append(values)
        if not out.first_row_line:
            out.first_row_line = number
            if _read_rest(stream, line, out):
                return out
        width = len(out.rows[0])
        if len(values) != width:
            raise InputError(
                f"line {number} has {len(values)} columns, the first data line has {width}", path
            )
    return out


def _read_rest(stream: io.StringIO, first: str, out: _Lines) -> bool:
    """Read the rows after the first data line ``first`` into ``out`` with pandas' C reader
    (a map exported as text has millions of lines) when they are a clean table of finite
    numbers as wide as ``first``, with its delimiter; else rewind ``stream`` and return False,
    and the line-by-line parse names the bad line."""
    import pandas as pd

    start, width = stream.tell(), len(out.rows[0])
    sep = _separator(first) or r"\s+"
    try:
        rows = pd.read_csv(stream, sep=sep, header=None, skipinitialspace=True, dtype=float,
                           decimal="," if sep != "," and "," in first else ".",
                           quoting=csv.QUOTE_NONE, engine="c").to_numpy()
    except pd.errors.EmptyDataError:
        rows = np.empty((0, width))
    except (ValueError, pd.errors.ParserError):
        rows = None
    if rows is not None and rows.shape[1] > width and np.all(np.isnan(rows[:, width:])):
        rows = rows[:, :width]  # trailing delimiters
    if rows is None or rows.shape[1] != width or not np.all(np.isfinite(rows)):
        stream.seek(start)
        return False
    out.rows = np.vstack([out.rows[0], rows])
    return True


def _with_axis_line(path: Path, table: _Lines, data: np.ndarray, unit: str | None,
                    excitation_nm: float | None, metadata: dict) -> Spectra | SpectralMap:
    """A LabSpec series (one spectrum per row after one leading field) or a position map (two
    leading fields: X, Y) whose axis is the file's axis row."""
    leading = table.leading
    axis = np.asarray(table.axis_line, dtype=float)
    if data.shape[1] != leading + axis.size:
        raise InputError(
            f"line {table.first_row_line} has {data.shape[1] - leading} intensities but the "
            f"axis line (line {table.axis_line_number}) has {axis.size} values", path,
        )
    order = _monotonic_order(axis, path, metadata)
    axis, data = axis[order], data[:, np.r_[:leading, order + leading]]
    unit, axis = resolve_unit(axis, unit, table.header, table.header_text, excitation_nm,
                              metadata, path)
    if leading == 2:
        factor, metadata["xy_unit"] = table.xy_scale or (1.0, "\u00b5m (assumed)")
        return _position_map(path, data, factor, axis, unit, excitation_nm, metadata)
    metadata["series"] = data[:, 0].tolist()
    return Spectra(data[:, 1:], axis, unit, excitation_nm, source=path, metadata=metadata)


def _long_spectra(path: Path, table: _Lines, data: np.ndarray, names: list[str],
                  unit: str | None, excitation_nm: float | None,
                  metadata: dict) -> Spectra | SpectralMap:
    """A long table (``names``: its columns): a map when its positions are X and Y (µm, WiRE's
    unit) on a grid, else Spectra with each spectrum's position in ``metadata["positions"]``
    (by column name); the axis column's name gives the unit."""
    names, axis_name = names[:-2], names[-2]
    where, axis, values = long_table.split_spectra(data, len(names), path)
    order = _monotonic_order(axis, path, metadata)
    axis, values = axis[order], values[:, order]
    unit, axis = resolve_unit(axis, unit, table.header, [*table.header_text[:-1], axis_name],
                              excitation_nm, metadata, path)
    if names == ["x", "y"]:
        metadata["xy_unit"] = "\u00b5m (WiRE's unit)"
        return _position_map(path, np.column_stack([where, values]), 1.0, axis, unit,
                             excitation_nm, metadata)
    metadata["positions"] = {name: where[:, k].tolist() for k, name in enumerate(names)}
    return Spectra(values, axis, unit, excitation_nm, source=path, metadata=metadata)


def _monotonic_order(axis: np.ndarray, path: Path, metadata: dict) -> np.ndarray:
    """Indices putting the axis in monotonic order, or InputError if it is not.

    A sorted axis (either direction) is kept. An axis made of a few long sorted runs that
    overlap, each starting and ending beyond the previous one, is a multi-window acquisition
    stitched by the instrument: each overlap is cut at its middle (recorded in metadata).
    Anything else (shuffled, zig-zag, repeated points) is an error.
    """
    if axis.size < 2:
        raise InputError("a spectrum needs at least two points", path)
    steps = np.diff(axis)
    if np.all(steps > 0) or np.all(steps < 0):
        return np.arange(axis.size)
    direction = 1.0 if np.sum(steps > 0) >= np.sum(steps < 0) else -1.0
    values = axis * direction
    bounds = [0, *(np.flatnonzero(np.diff(values) <= 0) + 1).tolist(), axis.size]
    runs = list(zip(bounds[:-1], bounds[1:], strict=True))
    stitched = len(runs) <= MAX_WINDOWS and all(b - a >= MIN_WINDOW_POINTS for a, b in runs)
    stitched = stitched and all(
        values[b0] > values[a0] and values[b1 - 1] > values[a1 - 1]
        for (a0, a1), (b0, b1) in zip(runs[:-1], runs[1:], strict=True)
    )
    if not stitched:
        where = bounds[1]
        raise InputError(f"the spectral axis is not monotonic (point {where + 1})", path)
    cuts = [-np.inf]
    for (_, a1), (b0, _) in zip(runs[:-1], runs[1:], strict=True):
        cuts.append(0.5 * (values[a1 - 1] + values[b0]))
    cuts.append(np.inf)
    keep = [np.arange(a, b)[(values[a:b] >= lo) & (values[a:b] < hi)]
            for (a, b), lo, hi in zip(runs, cuts[:-1], cuts[1:], strict=True)]
    metadata["stitched_windows"] = len(runs)
    return np.concatenate(keep)


def _axis_row(fields: list[str], number: int, path: Path):
    """(axis values, leading fields, X/Y scale) when a line is the axis row of a map or a
    series, else None: ``<TAB><TAB>axis…`` (LabSpec map), ``<TAB>axis…`` (series) or
    ``X (mm);Y (mm);axis…`` (row-per-pixel CSV). An axis row with a minority of non-numbers
    is an InputError naming the line and field."""
    lead = 0
    while lead < len(fields) and fields[lead] == "":
        lead += 1
    xy = _xy_scale(fields)
    if xy is not None:
        lead = 2
    rest = fields[lead:]
    if not lead or len(rest) < 2:
        return None
    values = _floats(rest)
    if values is None:
        bad = [i for i, field in enumerate(rest) if _floats([field]) is None]
        if 2 * len(bad) > len(rest):
            return None  # a line of column names
        raise InputError(f"line {number}: the spectral axis holds {rest[bad[0]]!r} "
                         f"(field {lead + bad[0] + 1}), not a number", path)
    return values, min(lead, 2), xy


def _position_map(path, data, factor, axis, unit, excitation_nm, metadata):
    """A SpectralMap from rows of X, Y (× ``factor`` to µm) and intensities; rows whose
    positions do not fill a grid (wafer sites) give Spectra with ``metadata["x_um"/"y_um"]``."""
    x, y = data[:, 0] * factor, data[:, 1] * factor
    xs, ys = np.unique(x), np.unique(y)
    if xs.size * ys.size != len(data):
        metadata.update(x_um=x.tolist(), y_um=y.tolist())
        return Spectra(data[:, 2:], axis, unit, excitation_nm, source=path, metadata=metadata)
    steps = [float(np.median(np.diff(v))) for v in (xs, ys) if v.size > 1]
    step = steps[0] if steps else 1.0
    if len(steps) == 2 and not np.isclose(steps[0], steps[1], rtol=1e-3):
        metadata["step_y_um"] = steps[1]
    cube = np.empty((ys.size, xs.size, axis.size))
    cube[np.searchsorted(ys, y), np.searchsorted(xs, x)] = data[:, 2:]
    return SpectralMap(cube, axis, unit, abs(step), excitation_nm,
                       origin_um=(float(xs[0]), float(ys[0])), source=path, metadata=metadata)


def read_wdf(path: Path, unit: str | None = None,
             excitation_nm: float | None = None) -> Spectra | SpectralMap:
    """Read a Renishaw .wdf file with ``renishaw-wdf`` (rosettasciio as a fallback), after
    checking its block layout against the file's size (:func:`check_wdf_layout`).

    Parameters
    ----------
    path : Path
        The .wdf file.
    unit : str, optional
        Axis unit ("cm-1", "eV", "nm") overriding the file's.
    excitation_nm : float, optional
        Laser wavelength (nm); default: the file's laser wavenumber.

    Returns
    -------
    Spectra or SpectralMap
        A map (step and origin in µm) when the file's map area holds every spectrum,
        otherwise Spectra (N, L).
    """
    check_wdf_layout(path)
    try:
        from wdf import Wdf, WdfDataUnit
    except ImportError:
        return _read_wdf_rsciio(path, unit, excitation_nm)
    units = {WdfDataUnit.RamanShift: "cm-1", WdfDataUnit.Nanometre: "nm",
             WdfDataUnit.ElectronVolt: "eV"}
    try:
        with Wdf(str(path)) as wdf:
            xlist = wdf.xlist()
            axis = np.asarray(xlist, dtype=float)
            count = len(wdf)
            intensity = np.asarray([wdf.spectrum(i) for i in range(count)], dtype=float)
            laser_cm1 = float(wdf.hdr.laser_wavenumber)
            file_unit = units.get(xlist.units)
            title = wdf.hdr.title
            try:
                area = wdf.map_area
                grid = (int(area.count.y), int(area.count.x))
                step_um = float(area.step.x)
                origin = (float(area.start.x), float(area.start.y))
            except Exception:  # noqa: BLE001 - no map area: a single spectrum or a series
                grid = None
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a Renishaw WDF file: {err}", path) from err
    if intensity.ndim != 2 or intensity.shape[1] != axis.size or axis.size < 2:
        raise InputError("spectra and axis sizes disagree", path)
    order = _monotonic_order(axis, path, metadata := {"format": "wdf", "title": title})
    axis, intensity = axis[order], intensity[:, order]
    if not np.all(np.isfinite(intensity)):
        raise InputError("NaN or infinite intensities", path)
    if excitation_nm is None and laser_cm1 > 0:
        excitation_nm = 1e7 / laser_cm1
    chosen = normalise_unit(unit, path) if unit else file_unit
    if chosen is None:
        raise InputError("the file's axis unit is not cm-1, nm or eV: pass unit=", path)
    if grid and grid[0] * grid[1] == count and step_um > 0:
        return SpectralMap(intensity.reshape(grid + (-1,)), axis, chosen, step_um,
                           excitation_nm, origin_um=origin, source=path, metadata=metadata)
    return Spectra(intensity, axis, chosen, excitation_nm, source=path, metadata=metadata)


def _read_wdf_rsciio(path: Path, unit: str | None, excitation_nm: float | None) -> Spectra:
    try:
        from rsciio.renishaw import file_reader
    except ImportError as err:
        raise InputError("reading .wdf needs renishaw-wdf: pip install renishaw-wdf",
                         path) from err
    try:
        signal = file_reader(str(path))[0]
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a Renishaw WDF file: {err}", path) from err
    spectral = signal["axes"][-1]
    axis = spectral["offset"] + spectral["scale"] * np.arange(spectral["size"])
    chosen = normalise_unit(unit or spectral.get("units", "cm-1"), path)
    data = np.asarray(signal["data"], dtype=float).reshape(-1, axis.size)
    return Spectra(data, axis, chosen, excitation_nm, source=path, metadata={"format": "wdf"})
