"""The unit of a spectrum's axis, and the laser line, from the options, the header or the values.

Unit of the spectral axis, in order of precedence:

1. the ``unit=`` option ("cm-1", "eV", "nm");
2. words in the header: a LabSpec ``#Range (cm-¹)=`` key, or column names with cm-1, cm^-1,
   1/cm, "Raman shift", wavenumber (cm-1); eV, energy (eV); nm, wavelength (nm);
3. the value range: an axis lying wholly below 0.6 is a Raman shift given in eV (converted
   to cm-1, x ``EV_IN_CM1``), 0.6–6 is photon energy in eV, anything larger is a Raman
   shift in cm-1 unless it lies beyond a known laser line (then wavelength in nm).

The conversion made and where the unit came from are recorded in ``metadata``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import EV_IN_CM1, SPECTRAL_UNITS
from tmdlearn.errors import InputError

#: Highest axis value (eV) read as a Raman shift in eV rather than a photon energy.
RAMAN_SHIFT_EV_MAX = 0.6
#: Highest axis value read as a photon energy in eV.
PHOTON_EV_MAX = 6.0

_UNIT_ALIASES = {
    "cm-1": "cm-1", "cm^-1": "cm-1", "1/cm": "cm-1", "cm-\u00b9": "cm-1", "cm\u207b\u00b9": "cm-1",
    "wavenumber": "cm-1", "raman shift": "cm-1", "ev": "eV", "energy": "eV", "nm": "nm",
    "wavelength": "nm",
}
_UNIT_PATTERNS = [
    ("cm-1", re.compile(r"cm\s*(\^?-\s*1|-\u00b9|\u207b\u00b9|-1)|1\s*/\s*cm|wavenumber", re.I)),
    ("eV", re.compile(r"(?<![a-z])ev(?![a-z])|photon energy", re.I)),
    ("nm", re.compile(r"(?<![a-z])nm(?![a-z])|wavelength", re.I)),
]
_SHIFT = re.compile(r"raman\s*shift|(?<![a-z])shift", re.I)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def normalise_unit(unit: str, path: Path | None = None) -> str:
    """The container unit for a user-given unit name.

    Parameters
    ----------
    unit : str
        A unit name or alias: cm-1, cm^-1, 1/cm, wavenumber, Raman shift, eV, energy, nm,
        wavelength (any case).
    path : Path, optional
        The file the unit is for, named in the error.

    Returns
    -------
    str
        "cm-1", "eV" or "nm".
    """
    key = str(unit).strip().lower()
    if key in _UNIT_ALIASES:
        return _UNIT_ALIASES[key]
    raise InputError(f"unknown spectral unit {unit!r}: use one of {SPECTRAL_UNITS}", path)


def laser_nm(header: dict[str, str]) -> float | None:
    """The laser line of a header's ``Laser...`` or ``Excitation...`` key.

    Parameters
    ----------
    header : dict of str to str
        Header keys and values (``#Key=Value`` lines).

    Returns
    -------
    float or None
        The wavelength in nm (a value given in cm-1 is converted), None when the header names
        no positive one.
    """
    for key, value in header.items():
        if key.lower().startswith(("laser", "excitation")):
            match = _NUMBER.search(value)
            if match:
                number = float(match.group(0))
                if "cm" in (key + value).lower():  # a laser line given as a wavenumber
                    return 1e7 / number if number > 0 else None
                return number if number > 0 else None
    return None


def _header_unit(header: dict[str, str], header_text: list[str]) -> tuple[str | None, bool]:
    """Unit named by the header (or None) and whether it says the axis is a Raman shift."""
    keys = [k for k in header
            if k.lower().startswith(("range", "spectro", "x unit", "axis", "xaxis"))]
    candidates = [k + " " + header[k] for k in keys] + header_text[-1:]
    for text in candidates:
        first_field = re.split(r"[\t,;]", text)[0] if text in header_text else text
        for unit, pattern in _UNIT_PATTERNS:
            if pattern.search(first_field):
                return unit, bool(_SHIFT.search(first_field))
        if _SHIFT.search(first_field):
            return "cm-1", True
    return None, False


def resolve_unit(axis, unit, header, header_text, excitation_nm, metadata, path):
    """The unit of a spectral axis, following the precedence in the module docstring.

    Parameters
    ----------
    axis : (L,) array
        The axis values as read.
    unit : str or None
        The ``unit=`` option; None: from the header or the values.
    header : dict of str to str
        Header keys and values.
    header_text : list of str
        Other header lines (the last may be the column names).
    excitation_nm : float or None
        The laser line, in nm.
    metadata : dict
        Receives where the unit came from (``unit_source``) and any conversion made.
    path : Path
        The file, named in errors.

    Returns
    -------
    unit : str
        "cm-1", "eV" or "nm".
    axis : (L,) array
        The axis in that unit (a Raman shift in eV converted to cm-1).
    """
    if unit is not None:
        metadata["unit_source"] = "option"
        return normalise_unit(unit, path), axis
    named, is_shift = _header_unit(header, header_text)
    top = float(np.max(np.abs(axis)))
    if named is not None:
        metadata["unit_source"] = "header"
        if named == "eV" and (is_shift or top < RAMAN_SHIFT_EV_MAX):
            return _shift_ev_to_cm1(axis, metadata)
        return named, axis
    metadata["unit_source"] = "value range"
    metadata["value_range"] = [float(np.min(axis)), float(np.max(axis))]
    if top < RAMAN_SHIFT_EV_MAX:
        return _shift_ev_to_cm1(axis, metadata)
    if float(np.min(axis)) > 0 and top <= PHOTON_EV_MAX:
        return "eV", axis
    if excitation_nm is not None and float(np.min(axis)) > excitation_nm:
        return "nm", axis
    return "cm-1", axis


def _shift_ev_to_cm1(axis: np.ndarray, metadata: dict) -> tuple[str, np.ndarray]:
    metadata["axis_converted"] = f"Raman shift in eV x {EV_IN_CM1} -> cm-1"
    return "cm-1", axis * EV_IN_CM1
