"""Galactic / Thermo GRAMS SPC files (``.spc``): single and multi-spectrum, new and old format.

Written from the published layout of the format (Galactic's SPC SDK, ``SPC.H``):

* new format (``fversn`` 0x4B, little-endian): a 512-byte main header, then an optional
  common X array (``fnpts`` float32, flag TXVALS), then for each subfile a 32-byte subheader,
  its own X array when the flag TXYXYS is set (``subnpts`` float32), and its Y values;
* old format (``fversn`` 0x4D): a 224-byte header whose 32-byte first subheader follows at
  byte 224; Y integers are stored with their two 16-bit words swapped.

Y values are float32 when the exponent is 0x80 (-128), otherwise fixed-point integers:
``y = n * 2**(exp - 32)`` (int32) or ``n * 2**(exp - 16)`` (int16, flag TSPREC). The exponent
is the subfile's own in a multi-spectrum file and the main header's otherwise.

An evenly spaced axis runs from ``ffirst`` to ``flast`` in ``fnpts`` points. Its unit comes
from ``fxtype`` (``X_TYPES``); the intensity unit from ``fytype`` (``Y_TYPES``) is kept in
``metadata["y_unit"]``; when ``fxtype`` names no unit, the x label of ``fcatxt`` (flag
TALABS, e.g. ``Wavenumber (cm-1)``) does, else the values. A laser line in the log text
(``Laser=633``) sets ``excitation_nm``. Big-endian files (0x4C) and Shimadzu's SPC (an OLE2
compound document) are refused with an InputError.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io.spectra import parse_header_line
from tmdlearn.io.spectral_units import laser_nm, resolve_unit

NEW_FORMAT, MSB_FORMAT, OLD_FORMAT = 0x4B, 0x4C, 0x4D
NEW_HEADER_BYTES, OLD_HEADER_BYTES, SUBHEADER_BYTES = 512, 224, 32
FLOAT_EXPONENT = -128

# ftflgs bits
TSPREC, TMULTI, TALABS, TXYXYS, TXVALS = 0x01, 0x04, 0x20, 0x40, 0x80
#: Shimadzu's SPC files are OLE2 compound documents, not Galactic SPC.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: fxtype code -> (description, tmdlearn unit or None, factor to that unit).
X_TYPES: dict[int, tuple[str, str | None, float]] = {
    0: ("arbitrary", None, 1.0), 1: ("wavenumber (cm-1)", "cm-1", 1.0),
    2: ("micrometres", "nm", 1000.0), 3: ("nanometres", "nm", 1.0), 4: ("seconds", None, 1.0),
    5: ("minutes", None, 1.0), 6: ("hertz", None, 1.0), 9: ("mass (m/z)", None, 1.0),
    13: ("Raman shift (cm-1)", "cm-1", 1.0), 14: ("electronvolts", "eV", 1.0),
    16: ("diode number", None, 1.0), 17: ("channel", None, 1.0), 22: ("data points", None, 1.0),
}
#: fytype code -> intensity unit name.
Y_TYPES = {
    0: "arbitrary intensity", 1: "interferogram", 2: "absorbance", 3: "Kubelka-Munk",
    4: "counts", 5: "volts", 6: "degrees", 7: "milliamps", 8: "millimetres", 9: "millivolts",
    10: "log(1/R)", 11: "percent", 12: "intensity", 13: "relative intensity", 14: "energy",
    16: "decibel", 128: "transmission", 129: "reflectance", 130: "single beam", 131: "emission",
}

# little-endian main headers, the fields this reader needs (offsets from the SDK layout)
_NEW = struct.Struct("<BBbbidd i BBBB")  # ftflgs fversn fexper fexp fnpts ffirst flast fnsub
#                                          fxtype fytype fztype fpost
_NEW_LOGOFF = 248  # int32 flogoff
_FCATXT = slice(218, 248)  # axis labels (x, y, z; NUL-separated) when TALABS is set
_OLD = struct.Struct("<BBhfffBB")  # ftflgs oversn oexp onpts ofirst olast oxtype oytype
_SUB = struct.Struct("<Bbhfffiif4s")  # subflgs subexp subindx subtime subnext subnois
#                                        subnpts subscan subwlevel subresv
_LOG = struct.Struct("<iiiii")  # logsizd logsizm logtxto logbins logdsks


def read_spc(path: Path, unit: str | None = None,
             excitation_nm: float | None = None) -> Spectra:
    """Read an SPC file: its spectra (N, L) on one axis with units.

    Parameters
    ----------
    path : Path
        The .spc file.
    unit : str, optional
        Axis unit ("cm-1", "eV", "nm"); default: the one ``fxtype`` names (cm⁻¹, nm, µm
        converted to nm, eV), else inferred from the values as for text files. Where it came
        from is in ``metadata["unit_source"]``.
    excitation_nm : float, optional
        Laser wavelength (nm); default: a laser line in the log text (``Laser=633``).

    Returns
    -------
    Spectra
        (N, L) intensities with the header facts and log in ``metadata``.

    Raises
    ------
    InputError
        Naming the file, for a truncated or unsupported file.
    """
    spectra, header = parse_spc(path)
    log = {}
    for line in header.pop("log").splitlines():
        pair = parse_header_line(line)
        if pair:
            log[pair[0]] = pair[1]
    if excitation_nm is None:
        excitation_nm = laser_nm(log)
    metadata = {**header, "log": log} if log else header
    axis = spectra.axis
    if unit is None and header["unit"] is not None:
        chosen = header["unit"]
        metadata["unit_source"] = f"SPC header, fxtype {header['fxtype']} = {header['x_type']}"
    else:
        chosen, axis = resolve_unit(axis, unit, {}, header.get("axis_labels", [])[:1],
                                    excitation_nm, metadata, path)
    return Spectra(spectra.intensity, axis, chosen, excitation_nm, source=path,
                   metadata=metadata)


def parse_spc(path: Path) -> tuple[Spectra, dict]:
    """The raw spectra of an SPC file (axis unit provisional) and its header facts.

    Parameters
    ----------
    path : Path
        The .spc file.

    Returns
    -------
    spectra : Spectra
        (N, L) intensities; the axis unit is "cm-1" when ``fxtype`` names none.
    header : dict
        Format, version, fxtype / fytype codes and names, ``unit`` (None when ``fxtype`` names
        none), flags, log text and (multi-spectrum files) the subfiles' z values.
    """
    raw = path.read_bytes()
    if len(raw) < 2:
        raise InputError("truncated SPC file: no header", path)
    if raw.startswith(OLE2_MAGIC):
        raise InputError("a Shimadzu SPC file (an OLE2 compound document), not a Galactic / "
                         "Thermo GRAMS SPC: export the spectrum as text or JCAMP-DX", path)
    version = raw[1]
    if version == NEW_FORMAT:
        return _read_new(raw, path)
    if version == OLD_FORMAT:
        return _read_old(raw, path)
    if version == MSB_FORMAT:
        raise InputError("big-endian SPC files (version 0x4C) are not supported", path)
    raise InputError(f"not a Galactic SPC file (version byte 0x{version:02X})", path)


class _Cursor:
    """Reads consecutive little-endian blocks, raising InputError past the end of the file."""

    def __init__(self, raw: bytes, start: int, path: Path):
        self.raw, self.at, self.path = raw, start, path

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.raw):
            raise InputError(
                f"truncated SPC file: {what} needs bytes {self.at}-{self.at + size}, "
                f"the file has {len(self.raw)}", self.path,
            )
        block = self.raw[self.at:self.at + size]
        self.at += size
        return block

    def floats(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").astype(float)


def _y_values(cursor: _Cursor, count: int, exponent: int, flags: int, old: bool,
              what: str) -> np.ndarray:
    if exponent == FLOAT_EXPONENT:
        return cursor.floats(count, what)
    if flags & TSPREC:
        ints = np.frombuffer(cursor.take(2 * count, what), dtype="<i2").astype(float)
        return ints * 2.0 ** (exponent - 16)
    if old:  # each int32 stored high 16-bit word first
        words = np.frombuffer(cursor.take(4 * count, what), dtype="<u2").reshape(-1, 2)
        ints = ((words[:, 0].astype(np.uint32) << 16) | words[:, 1]).view(np.int32)
        return ints.astype(float) * 2.0 ** (exponent - 32)
    ints = np.frombuffer(cursor.take(4 * count, what), dtype="<i4").astype(float)
    return ints * 2.0 ** (exponent - 32)


def _read_new(raw: bytes, path: Path) -> tuple[Spectra, dict]:
    if len(raw) < NEW_HEADER_BYTES:
        raise InputError(f"truncated SPC file: {len(raw)} bytes, the header alone is 512", path)
    (flags, _, _, fexp, fnpts, ffirst, flast, fnsub, fxtype, fytype, _, _) = _NEW.unpack_from(raw)
    multi = bool(flags & TMULTI)
    count = fnsub if multi else 1
    if count < 1 or (fnpts < 2 and not flags & TXYXYS):
        raise InputError(f"SPC header holds {count} spectra of {fnpts} points", path)
    cursor = _Cursor(raw, NEW_HEADER_BYTES, path)
    common_x = None
    if flags & TXVALS and not flags & TXYXYS:
        common_x = cursor.floats(fnpts, "the X array")
    xs, ys, z = [], [], []
    for index in range(count):
        what = f"spectrum {index + 1} of {count}"
        sub = _SUB.unpack(cursor.take(SUBHEADER_BYTES, f"the header of {what}"))
        npts = sub[6] if flags & TXYXYS else fnpts
        if npts < 2:
            raise InputError(f"{what} has {npts} points", path)
        xs.append(cursor.floats(npts, f"the X values of {what}") if flags & TXYXYS else None)
        exponent = sub[1] if multi else fexp
        ys.append(_y_values(cursor, npts, exponent, flags, False, f"the Y values of {what}"))
        z.append(float(sub[3]))
    if flags & TXYXYS:
        common_x = _one_axis(xs, path)
    elif common_x is None:
        common_x = np.linspace(ffirst, flast, fnpts)
    header = {"format": "spc", "version": "new (0x4B)", "fxtype": fxtype, "fytype": fytype,
              "flags": flags, "log": _log_text(raw, path)}
    if flags & TALABS:
        header["axis_labels"] = _axis_labels(raw)
    if multi:
        header["z"] = z
    return _spectra(path, common_x, np.asarray(ys), header)


def _read_old(raw: bytes, path: Path) -> tuple[Spectra, dict]:
    if len(raw) < OLD_HEADER_BYTES:
        raise InputError(f"truncated SPC file: {len(raw)} bytes, the old header alone is 224",
                         path)
    flags, _, oexp, onpts, ofirst, olast, fxtype, fytype = _OLD.unpack_from(raw)
    if not np.isfinite(onpts) or onpts < 2:
        raise InputError(f"SPC header holds spectra of {onpts:g} points", path)
    npts = int(round(onpts))
    cursor = _Cursor(raw, OLD_HEADER_BYTES, path)
    ys, index = [], 0
    while True:
        index += 1
        what = f"spectrum {index}"
        sub = _SUB.unpack(cursor.take(SUBHEADER_BYTES, f"the header of {what}"))
        exponent = sub[1] if flags & TMULTI else oexp
        exponent = FLOAT_EXPONENT if exponent == 0x80 else exponent  # int16 0x80 marks floats
        ys.append(_y_values(cursor, npts, exponent, flags, True, f"the Y values of {what}"))
        if not flags & TMULTI or cursor.at + SUBHEADER_BYTES > len(raw):
            break
    header = {"format": "spc", "version": "old (0x4D)", "fxtype": fxtype, "fytype": fytype,
              "flags": flags, "log": ""}
    return _spectra(path, np.linspace(ofirst, olast, npts), np.asarray(ys), header)


def _one_axis(xs: list[np.ndarray], path: Path) -> np.ndarray:
    first = xs[0]
    for index, x in enumerate(xs[1:], start=2):
        if x.shape != first.shape or not np.array_equal(x, first):
            raise InputError(
                f"SPC spectrum {index} has its own X axis ({x.size} points, "
                f"{x[0]:g}..{x[-1]:g}), unlike spectrum 1: tmdlearn needs one axis per file",
                path,
            )
    return first


def _axis_labels(raw: bytes) -> list[str]:
    """The x, y and z axis labels of ``fcatxt`` (set when the TALABS flag is)."""
    return [label.decode("latin-1").strip() for label in raw[_FCATXT].split(b"\0")[:3]]


def _log_text(raw: bytes, path: Path) -> str:
    offset = struct.unpack_from("<i", raw, _NEW_LOGOFF)[0]
    if offset <= 0 or offset + _LOG.size > len(raw):
        return ""
    _, _, text_offset, _, _ = _LOG.unpack_from(raw, offset)
    start = offset + text_offset
    if text_offset <= 0 or start >= len(raw):
        return ""
    return raw[start:].split(b"\0", 1)[0].decode("latin-1")


def _spectra(path: Path, x: np.ndarray, y: np.ndarray, header: dict) -> tuple[Spectra, dict]:
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("NaN or infinite values in the SPC data", path)
    description, unit, factor = X_TYPES.get(header["fxtype"],
                                            (f"fxtype {header['fxtype']}", None, 1.0))
    header.update(x_type=description, unit=unit,
                  y_unit=Y_TYPES.get(header["fytype"], f"fytype {header['fytype']}"))
    return Spectra(y, x * factor, unit or "cm-1", source=path), header
