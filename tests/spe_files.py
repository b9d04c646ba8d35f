"""Princeton Instruments SPE files for the tests, written to the published layouts: a
4100-byte header (data type at byte 108, frame width at 42, rows at 656, frames at 1446,
version at 1992; SPE 2.x x-calibration block at 3000), the frames, and for SPE 3.0 an XML
footer (its offset at byte 678) with the wavelength mapping."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

CODES = {np.dtype("<f4"): 0, np.dtype("<i4"): 1, np.dtype("<i2"): 2, np.dtype("<u2"): 3,
         np.dtype("<u4"): 8}


def _header(frames: np.ndarray, version: float) -> bytearray:
    header = bytearray(4100)
    n, rows, width = frames.shape
    struct.pack_into("<f", header, 10, 0.25)
    struct.pack_into("<H", header, 42, width)
    struct.pack_into("<h", header, 108, CODES[frames.dtype])
    struct.pack_into("<H", header, 656, rows)
    struct.pack_into("<i", header, 1446, n)
    struct.pack_into("<f", header, 1992, version)
    return header


def write_spe2(path: Path, frames: np.ndarray, coefficients=(500.0, 0.1), laser=0.0,
               label: str = "", valid: bool = True) -> Path:
    """WinSpec SPE 2.5: frames (N, rows, width) of one of CODES' types, the x calibration
    polynomial (ascending coefficients of the pixel number from 1) and laser line."""
    frames = np.asarray(frames)
    header = _header(frames, 2.5)
    header[3000 + 18:3000 + 18 + len(label)] = label.encode()
    header[3000 + 98] = int(valid)
    header[3000 + 101] = len(coefficients) - 1
    padded = (list(coefficients) + [0.0] * 6)[:6]
    struct.pack_into("<6d", header, 3000 + 263, *padded)
    struct.pack_into("<d", header, 3000 + 311, laser)
    path.write_bytes(bytes(header) + frames.tobytes())
    return path


def write_spe3(path: Path, frames: np.ndarray, wavelengths, laser_nm: float | None = None,
               frame_metadata_bytes: int = 0, sensor: tuple[int, int] | None = None) -> Path:
    """LightField SPE 3.0: frames (N, rows, width), each followed by
    ``frame_metadata_bytes`` of per-frame metadata (time stamps), and an XML footer with the
    wavelength mapping (``sensor`` = (x, xBinning): the mapping covers the whole sensor)."""
    frames = np.asarray(frames)
    n, rows, width = frames.shape
    size = rows * width * frames.dtype.itemsize
    blob = b"".join(frame.tobytes() + b"\x07" * frame_metadata_bytes for frame in frames)
    mapping = ",".join(f"{w:.6f}" for w in wavelengths)
    sensor_xml = (f'<SensorMapping id="1" x="{sensor[0]}" y="0" width="{width * sensor[1]}" '
                  f'height="{rows}" xBinning="{sensor[1]}" yBinning="1" />' if sensor else "")
    laser_xml = (f"<LaserWavelength>{laser_nm}</LaserWavelength>" if laser_nm else "")
    xml = (f'<?xml version="1.0" encoding="utf-8"?>'
           f'<SpeFormat version="3.0" xmlns="http://www.princetoninstruments.com/spe/2009">'
           f'<DataFormat><DataBlock type="Frame" count="{n}" pixelFormat="MonochromeUnsigned16"'
           f' size="{size}" stride="{size + frame_metadata_bytes}">'
           f'<DataBlock type="Region" count="1" width="{width}" height="{rows}" size="{size}"'
           f' stride="{size}" /></DataBlock></DataFormat>'
           f'<Calibrations><WavelengthMapping id="1"><Wavelength xml:space="preserve">'
           f'{mapping}</Wavelength></WavelengthMapping>{sensor_xml}</Calibrations>'
           f'<DataHistories><Experiment>{laser_xml}</Experiment></DataHistories></SpeFormat>')
    header = _header(frames, 3.0)
    struct.pack_into("<Q", header, 678, 4100 + len(blob))
    path.write_bytes(bytes(header) + blob + xml.encode())
    return path
