"""Andor SIF spectra (Andor Solis: Shamrock / Kymera spectrographs with Newton, iDus or iXon
cameras, common for photoluminescence), read with sif-parser (BSD-3-Clause).

Each frame (a kinetic series' time step or an accumulation) and each track of a multi-track
acquisition is one spectrum; the axis is the file's wavelength calibration (a polynomial of
the pixel number, nm, whatever axis Solis displays: a Raman shift is computed from it and the
laser line), the laser line the file's Raman excitation wavelength.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io.spectral_units import normalise_unit

MAGIC = b"Andor Technology Multi-Channel File\n"
#: Most rows per frame read as tracks of spectra; more is a camera image.
MAX_TRACKS = 32


def is_sif(head: bytes) -> bool:
    """Whether a file's first bytes are an Andor SIF's."""
    return head.startswith(MAGIC)


class _EndOfFile(io.FileIO):
    """The file, read-only, whose reads past its end raise EOFError: sif-parser reads header
    words byte by byte until a space and would loop for ever at the end of a truncated
    header, and reads a string of the length a header number gives (4 GB allocated for a
    damaged one)."""

    def __init__(self, path: Path):
        super().__init__(path, "r")
        self.size = Path(path).stat().st_size

    def read(self, size: int = -1) -> bytes:
        if size is not None and size > 0 and size > self.size - self.tell():
            raise EOFError("the file ends inside its header")
        return super().read(size)


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def read_sif(path: Path, unit: str | None = None,
             excitation_nm: float | None = None) -> Spectra:
    """Read an Andor SIF file's spectra.

    Parameters
    ----------
    path : Path
        The .sif file.
    unit : str, optional
        Axis unit ("nm", "cm-1", "eV"); default nm: Solis keeps the calibration in wavelength
        whatever axis it displays (the axis name is kept in ``metadata["frame_axis"]``).
    excitation_nm : float, optional
        Laser wavelength (nm); default: the file's Raman excitation wavelength, if any.

    Returns
    -------
    Spectra
        (frames x tracks, pixels); ``metadata``: frames, tracks, exposure_s, accumulations,
        detector, detector_temperature_c, frame_axis, calibration (polynomial coefficients).

    Raises
    ------
    InputError
        For a file that is not a SIF, truncated frames, no wavelength calibration (or the pixel
        number), frames calibrated differently, frames narrower than the detector (a cropped
        region or horizontal binning), or a camera image (more than MAX_TRACKS rows).
    """
    import sif_parser

    with open(path, "rb") as handle:
        if not is_sif(handle.read(len(MAGIC))):
            raise InputError("not an Andor SIF file (no 'Andor Technology Multi-Channel "
                             "File' header)", path)
    try:  # memory-mapped: frames the header declares beyond the file's end fail here
        with _EndOfFile(path) as handle:
            mapped, info = sif_parser.np_open(handle, lazy="memmap")
            n, rows, width = mapped.shape
            if rows > MAX_TRACKS:
                raise InputError(f"a camera image ({rows} x {width} px per frame), not "
                                 f"spectra: acquire or export in full vertical binning or "
                                 f"multi-track mode", path)
            frames = np.array(mapped, dtype=float)
    except InputError:
        raise
    except (ValueError, SyntaxError, OSError, EOFError, IndexError, KeyError, ArithmeticError,
            UnicodeDecodeError) as err:
        raise InputError(f"unreadable Andor SIF file ({err}): truncated, or a SIF version "
                         f"sif-parser does not know", path) from err
    if frames.size == 0:
        raise InputError(f"holds no spectrum ({n} frames of {rows} x {width} px)", path)
    frame_axis = _text(info.get("FrameAxis", ""))
    axis = _wavelengths(info, width, frame_axis, path)
    laser = float(info.get("RamanExWavelength", np.nan))
    if excitation_nm is None and np.isfinite(laser) and laser > 0:
        excitation_nm = laser
    metadata = {"frames": n, "tracks": rows, "exposure_s": info.get("ExposureTime"),
                "accumulations": info.get("AccumulatedCycles"),
                "detector": _text(info.get("DetectorType", "")),
                "detector_temperature_c": info.get("DetectorTemperature"),
                "frame_axis": frame_axis, "calibration": info.get("Calibration_data")}
    spectra = frames.reshape(n * rows, width)
    if not np.all(np.isfinite(spectra)):
        raise InputError("NaN or infinite counts", path)
    order = np.argsort(axis)
    metadata["unit_source"] = "option" if unit else "SIF wavelength calibration"
    unit = normalise_unit(unit, path) if unit else "nm"
    axis = axis[order]
    return Spectra(spectra[:, order], axis, unit, excitation_nm, source=path,
                   metadata=metadata)


def _wavelengths(info: dict, width: int, frame_axis: str, path: Path) -> np.ndarray:
    """The wavelength (nm) of each of the frames' ``width`` pixels from the file's calibration
    polynomial, which Andor Solis keeps in nm whatever axis it displays (a Raman shift is
    computed from it and the laser line)."""
    import sif_parser

    detector = int(info.get("DetectorDimensions", (width,))[0])
    coefficients = [float(c) for c in info.get("Calibration_data") or []]
    if frame_axis.strip().lower().startswith("pixel") or \
            (coefficients[:2] == [0.0, 1.0] and not any(coefficients[2:])):
        raise InputError("no wavelength calibration (its axis is the pixel number): calibrate "
                         "the spectrograph in Solis, or export the spectra as text", path)
    if width != detector or int(info.get("xbin", 1)) != 1:
        raise InputError(f"frames of {width} px from a {detector} px detector (a cropped "
                         f"region or horizontal binning): where the calibration's pixels lie "
                         f"is not known here; export the spectra as text from Solis", path)
    info["ImageLength"] = width  # the pixels calibrated: the frames' width, not a header number
    axis = sif_parser.utils.extract_calibration(info)
    if axis is None or np.ptp(axis) == 0:
        raise InputError("no wavelength calibration: calibrate the spectrograph in Solis "
                         "(or export the spectra as text)", path)
    if axis.ndim == 2:
        if np.ptp(axis, axis=0).max() > 1e-9 * np.ptp(axis[0]):
            raise InputError("its frames have different wavelength calibrations (moved "
                             "grating): read them one at a time", path)
        axis = axis[0]
    return axis
