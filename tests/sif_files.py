"""Andor SIF files for the tests, written to the layout sif-parser reads (SIF version 65558):
a text header of space-separated fields (magic, acquisition, detector, calibration
polynomial, laser line, axis names, frame area), one timestamp per frame, then float32
frames, little-endian."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAGIC = b"Andor Technology Multi-Channel File\n"


def _counted(text: str) -> bytes:
    """A string as SIF stores it: its length on a line, then the string."""
    return f"{len(text)}\n{text}".encode()


def write_sif(path: Path, frames: np.ndarray, coefficients=(400.0, 0.25, 0.0, 0.0),
              excitation_nm: float | None = 532.0, frame_axis: str = "Wavelength",
              exposure_s: float = 0.5, tracks: int = 1, detector_px: int | None = None
              ) -> Path:
    """A SIF file of ``frames`` (N, tracks * width) float32 counts with the wavelength
    calibration ``coefficients`` (c0 + c1 p + c2 p² + c3 p³ at pixel p = 1..width, nm) and the
    laser line (``None``: the line holds no number), from a detector ``detector_px`` wide
    (default: the frames' width)."""
    frames = np.asarray(frames, np.float32).reshape(len(frames), tracks, -1)
    n, _, width = frames.shape
    head = MAGIC + b"65538 1\n"
    head += b"65558 0 0 1 1540956289 -70.0 " + b" " * 10
    head += f"0 {exposure_s} {exposure_s} {exposure_s} 1".encode() + b" \0 "
    head += b"0.5 1e-06 0 1 0 0 0 0 " + b"0 " * 16 + b"300.0 0\n"
    head += b"DU420_BVF\n"
    head += f"{detector_px or width} 255 ".encode() + _counted("C:\\data\\pl.sif") + b" \n"
    head += b"65538 " + _counted("") + b"\n"
    head += b"65538 " + b"\x01" * 8 + b"0.0 0.0\n"
    head += b"0\n" * 5
    head += ("65539 " + " ".join(f"{c:g}" for c in coefficients) + "\n").encode()
    head += b"0 1 0 0\n" * 2
    head += (f"{excitation_nm:g}\n" if excitation_nm is not None else "\n").encode()
    head += b"422\n13\n13\n"
    head += _counted(frame_axis) + _counted("Counts") + _counted("Pixel number")
    head += f"65541 1 {tracks} {width} 1 {n} 1 {n * tracks * width} {tracks * width}\n".encode()
    head += f"65538 1 {tracks} {width} 1 1 1 0 0\n".encode()
    head += b"0\n" * n + b"0\n"
    path.write_bytes(head + frames.astype("<f4").tobytes())
    return path
