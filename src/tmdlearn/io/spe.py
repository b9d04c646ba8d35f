"""Princeton Instruments SPE spectra (WinSpec / WinView SPE 2.x, LightField SPE 3.0; PIXIS,
ProEM, PyLoN cameras on Acton / IsoPlane spectrographs).

The frames are read by imageio's SPE plugin (BSD-2-Clause), which checks the frame count the
header declares against the file's size. The wavelength calibration, which imageio leaves in
the file, is read here from the published layouts: SPE 2.x (and older WinView / SDT-control
headers whose version field is 0), the header's x-calibration block (byte 3000: validity
flag, polynomial order, six coefficients of the pixel number counted from 1, laser line;
WinSpec's "Pixel" calibration, the identity polynomial, is no wavelength); SPE 3.0, the XML
footer's ``WavelengthMapping`` (one wavelength per pixel, nm). Each frame row (a kinetic
series' time step, each binned strip) is one spectrum.
"""

from __future__ import annotations

import struct
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io.spectral_units import resolve_unit

HEADER_BYTES = 4100
#: The x-calibration block of an SPE 2.x header and its fields' offsets within it.
XCAL = 3000
VALID, ORDER, COEFFS, LASER, LABEL, USER_LABEL = 98, 101, 263, 311, 18, 321
#: Most rows per frame read as strips of spectra; more is a camera image.
MAX_ROWS = 32
#: The header's data type codes (byte 108).
DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<i4"), 2: np.dtype("<i2"), 3: np.dtype("<u2"),
          8: np.dtype("<u4")}


def _at(raw: bytes, offset: int, fmt: str):
    """One value of format ``fmt`` (struct) at byte ``offset``."""
    return struct.unpack_from(fmt, raw, offset)[0]


def _string(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _laser_nm(value: float) -> float | None:
    """A laser line from the header: a wavenumber (cm-1, as the format says) or, as some
    software writes it, a wavelength (nm)."""
    if not np.isfinite(value) or value <= 0:
        return None
    return 1e7 / value if value > 2000 else value if value >= 200 else None


def _v2_calibration(header: bytes, width: int) -> tuple[np.ndarray | None, float | None, str]:
    """Axis (per pixel), laser line (nm) and axis label of an SPE 2.x header."""
    block = header[XCAL:XCAL + 489]
    label = " ".join(filter(None, (_string(block[LABEL:LABEL + 40]),
                                   _string(block[USER_LABEL:USER_LABEL + 40]))))
    laser = _laser_nm(_at(block, LASER, "<d"))
    order = block[ORDER]
    if not block[VALID] or not 1 <= order <= 5:
        return None, laser, label
    coefficients = struct.unpack_from("<6d", block, COEFFS)[:order + 1]
    if _is_pixel_calibration(label, coefficients):
        return None, laser, "Pixel"
    return np.polynomial.polynomial.polyval(np.arange(1, width + 1), coefficients), laser, label


def _is_pixel_calibration(label: str, coefficients: tuple[float, ...]) -> bool:
    """Whether an SPE 2.x x calibration is WinSpec's pixel-number axis (label "Pixel", or a
    polynomial ``c0 + 1 * p`` with an offset of 0 or 1 pixel), not a wavelength."""
    identity = coefficients[1:2] == (1.0,) and coefficients[0] in (0.0, 1.0) \
        and not any(coefficients[2:])
    return label.lower().startswith("pixel") or identity


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _v3_footer(xml: bytes, width: int, path: Path
               ) -> tuple[np.ndarray | None, float | None, int]:
    """Axis (per pixel of the frame's width), laser line (nm) and frame stride (bytes, 0 when
    not given; larger than the frame when each frame carries metadata) of an SPE 3.0 XML
    footer."""
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise InputError("its XML footer declares a DOCTYPE or entities (refused)", path)
    try:
        root = ET.fromstring(xml.split(b"\0", 1)[0])
    except ET.ParseError as err:
        raise InputError(f"its XML footer is not readable XML ({err}): truncated?", path) from err
    regions = [e for e in root.iter() if _local(e.tag) == "DataBlock"
               and e.get("type") == "Region"]
    if len(regions) > 1:
        raise InputError(f"its frames hold {len(regions)} regions of interest: export them "
                         f"one region per file", path)
    try:
        return _footer_values(root, width, path)
    except ValueError as err:
        raise InputError(f"its XML footer holds a value that is not a number ({err})",
                         path) from err


def _footer_values(root: ET.Element, width: int, path: Path
                   ) -> tuple[np.ndarray | None, float | None, int]:
    """:func:`_v3_footer`'s values from the parsed footer (ValueError for a bad number)."""
    axis, laser, sensor, stride = None, None, None, 0
    for element in root.iter():
        name = _local(element.tag)
        if name == "Wavelength" and element.text and element.text.strip():
            axis = np.array(element.text.replace(";", ",").split(","), dtype=float)
        elif name == "SensorMapping":
            sensor = element.attrib
        elif name.lower().endswith("laserwavelength") and element.text:
            laser = _laser_nm(float(element.text))
        elif name == "DataBlock" and element.get("type") == "Frame":
            stride = int(element.get("stride", 0))
    if axis is not None and axis.size != width and sensor is not None:
        x, bin_x = int(sensor.get("x", 0)), max(1, int(sensor.get("xBinning", 1)))
        cut = axis[x:x + width * bin_x]
        axis = cut.reshape(width, bin_x).mean(axis=1) if cut.size == width * bin_x else axis
    if axis is not None and axis.size != width:
        raise InputError(f"its wavelength mapping has {axis.size} values for frames "
                         f"{width} px wide", path)
    return axis, laser, stride


def _frames(path: Path, declared: int, rows: int, width: int, dtype: np.dtype,
            data_end: int, stride: int) -> np.ndarray:
    """The (frames, rows, width) counts: through imageio, or strided when each frame carries
    metadata; InputError when the file holds fewer frames than its header declares."""
    import imageio.v3 as iio

    frame_bytes = rows * width * dtype.itemsize
    stride = max(stride, frame_bytes)
    held = (data_end - HEADER_BYTES) // stride
    if held < declared or declared < 1:
        raise InputError(f"its header declares {declared} frames of {rows} x {width} px, the "
                         f"file holds {held}: truncated", path)
    if stride == frame_bytes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # imageio's frame-count note: checked above
            return np.asarray(iio.imread(path, plugin="SPE", index=...))[:declared]
    raw = np.fromfile(path, np.uint8, count=declared * stride, offset=HEADER_BYTES)
    return raw.reshape(declared, stride)[:, :frame_bytes].copy().view(dtype).reshape(
        declared, rows, width)


def read_spe(path: Path, unit: str | None = None,
             excitation_nm: float | None = None) -> Spectra:
    """Read a Princeton Instruments SPE file's spectra.

    Parameters
    ----------
    path : Path
        The .spe file.
    unit : str, optional
        Axis unit ("nm", "cm-1", "eV"); default: from the calibration's label, else nm (both
        layouts calibrate in wavelength).
    excitation_nm : float, optional
        Laser wavelength (nm); default: the file's laser line, if any.

    Returns
    -------
    Spectra
        (frames x rows, pixels); ``metadata``: frames, rows, spe_version, exposure_s.

    Raises
    ------
    InputError
        For a file that is not an SPE, a truncated one, no wavelength calibration, a mapping of
        another length than the frames, or a camera image (more than MAX_ROWS rows per frame).
    """
    with open(path, "rb") as handle:
        header = handle.read(HEADER_BYTES)
        end = handle.seek(0, 2)
    if len(header) < HEADER_BYTES:
        raise InputError(f"shorter ({len(header)} bytes) than an SPE header "
                         f"({HEADER_BYTES} bytes)", path)
    code, width, rows = _at(header, 108, "<h"), _at(header, 42, "<H"), _at(header, 656, "<H")
    declared, version = _at(header, 1446, "<i"), _at(header, 1992, "<f")
    if code not in DTYPES or not width or not rows or not 0 <= version < 10:
        raise InputError("not an SPE file (its header's data type, frame size or version "
                         "is not one)", path)
    if rows > MAX_ROWS:
        raise InputError(f"a camera image ({rows} x {width} px per frame), not spectra: "
                         f"bin the rows (full vertical binning) when acquiring or exporting",
                         path)
    label, stride = "", 0
    if version >= 3:
        footer = _at(header, 678, "<Q")
        if not HEADER_BYTES <= footer <= end:
            raise InputError(f"its XML footer offset ({footer}) lies outside the file: "
                             f"truncated", path)
        with open(path, "rb") as handle:
            handle.seek(footer)
            axis, laser, stride = _v3_footer(handle.read(), width, path)
        end = footer
    else:
        axis, laser, label = _v2_calibration(header, width)
    if axis is None or np.ptp(axis) == 0:
        axis_name = " (its axis is the pixel number)" if label == "Pixel" else ""
        raise InputError(f"no wavelength calibration{axis_name}: calibrate the spectrograph "
                         f"(LightField, WinSpec) or export the spectra as text", path)
    frames = _frames(path, declared, rows, width, DTYPES[code], end, stride).astype(float)
    excitation_nm = laser if excitation_nm is None else excitation_nm
    metadata = {"frames": declared, "rows": rows, "spe_version": round(version, 2),
                "exposure_s": round(_at(header, 10, "<f"), 6),
                "calibration_label": label}
    order = np.argsort(axis)
    given = unit
    unit, sorted_axis = resolve_unit(axis[order], unit, {}, [label], excitation_nm, metadata,
                                     path)
    if given is None and metadata["unit_source"] == "value range":
        unit, sorted_axis = "nm", axis[order]  # both layouts calibrate in wavelength
        metadata["unit_source"] = "SPE wavelength calibration"
    return Spectra(frames.reshape(declared * rows, width)[:, order], sorted_axis, unit,
                   excitation_nm, source=path, metadata=metadata)
