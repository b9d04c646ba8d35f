"""JCAMP-DX spectra (``.jdx``, ``.dx``, ``.jcamp``; IUPAC's exchange format, written by Bruker
OPUS / SENTERRA, Thermo OMNIC and most spectrometer software) through ``jcamp`` (MIT).

One spectrum per file (``##XYDATA`` or ``##PEAK TABLE`` in any of the compressed forms the
library decodes); a compound file of several blocks is refused. The axis unit comes from
``##XUNITS`` (1/CM, NANOMETERS, MICROMETERS, EV, or one in parentheses: ``Wavelength (nm)``),
else from the value range; an axis in HZ, PPM, M/Z, time or volume (NMR, mass spectra,
chromatograms, titrations) is refused unless ``unit=`` is given. A laser line comes from a
``Laser`` / ``Excitation`` label. Every label is kept in ``metadata["header"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io.spectral_units import laser_nm, resolve_unit

SUFFIXES = (".jdx", ".dx", ".jcamp")
#: ``##XUNITS`` (upper case, spaces removed) -> (tmdlearn unit, factor to it).
X_UNITS = {"1/CM": ("cm-1", 1.0), "CM-1": ("cm-1", 1.0), "CM^-1": ("cm-1", 1.0),
           "NANOMETERS": ("nm", 1.0), "NM": ("nm", 1.0), "MICROMETERS": ("nm", 1000.0),
           "UM": ("nm", 1000.0), "EV": ("eV", 1.0), "WAVENUMBERS": ("cm-1", 1.0)}
#: ``##XUNITS`` of axes that are no optical spectrum (NMR, mass, chromatography, titration).
NOT_SPECTRAL = {"HZ", "KHZ", "MHZ", "PPM", "M/Z", "SECONDS", "MILLISECONDS", "MINUTES", "S",
                "MS", "MIN", "VOLUME", "ML", "MILLILITERS"}


def read_jcamp(path: Path, unit: str | None = None,
               excitation_nm: float | None = None) -> Spectra:
    """Read one spectrum of a JCAMP-DX file.

    Parameters
    ----------
    path : Path
        The file.
    unit : str, optional
        Axis unit ("cm-1", "eV", "nm"), overriding ``##XUNITS``.
    excitation_nm : float, optional
        Laser line (nm); default a ``Laser`` / ``Excitation`` label.

    Returns
    -------
    Spectra
        (1, L) on an ascending axis; ``metadata["header"]`` holds the labels (``title``,
        ``data type``, ``origin``, ``yunits`` ...).

    Raises
    ------
    InputError
        Naming the file: not JCAMP-DX, several blocks, no XY data, mismatched or non-finite
        values, an x axis in a unit no optical spectrum has (HZ, PPM, M/Z ...).
    """
    import jcamp

    try:
        record = jcamp.readfile(str(path))
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as JCAMP-DX: {err}", path) from err
    if record.get("children"):
        raise InputError(f"a compound JCAMP-DX file of {len(record['children'])} blocks: "
                         "export one spectrum per file", path)
    x, y = (np.asarray(record.get(k, ()), dtype=float).ravel() for k in ("x", "y"))
    if x.size == 0 or y.size == 0:
        raise InputError("no XY data (##XYDATA or ##PEAK TABLE) in this JCAMP-DX file", path)
    if x.size != y.size or x.size < 2:
        raise InputError(f"{x.size} x values for {y.size} y values", path)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("NaN or infinite values", path)
    header = {str(k).lstrip("$"): str(v) for k, v in record.items()  # "$" marks a vendor label
              if k not in ("x", "y", "filename")}
    if excitation_nm is None:
        excitation_nm = laser_nm(header)
    metadata: dict = {"header": header, "format": "jcamp-dx"}
    xunits = _xunits(header.get("xunits", ""))
    if unit is None and xunits in NOT_SPECTRAL:
        kind = header.get("data type", "").strip()
        raise InputError(f"its x axis is in {header['xunits'].strip()}"
                         f"{f' ({kind})' if kind else ''}, not a Raman or PL axis (cm-1, nm, "
                         f"eV): pass unit= to read it anyway", path)
    named = X_UNITS.get(xunits)
    if unit is None and named is not None:
        chosen, x = named[0], x * named[1]
        metadata["unit_source"] = f"JCAMP-DX ##XUNITS={header['xunits']}"
    else:
        chosen, x = resolve_unit(x, unit, {}, [], excitation_nm, metadata, path)
    order = np.argsort(x, kind="stable")
    return Spectra(y[order][None, :], x[order], chosen, excitation_nm, source=path,
                   metadata=metadata)


def _xunits(label: str) -> str:
    """``##XUNITS`` upper case without spaces, or the unit in its parentheses
    (``Wavelength (nm)`` -> ``NM``) when the whole label is none of X_UNITS."""
    key = label.upper().replace(" ", "")
    inner = re.search(r"\(([^()]+)\)", key)
    return inner.group(1) if key not in X_UNITS and inner else key
