"""Andor SIF spectra (sif-parser): planted frames, calibration and laser line come back; bad
files are one error line."""

from __future__ import annotations

import numpy as np
import pytest

from cli_checks import inspect_fails_in_one_line
from sif_files import write_sif
from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io import read

RNG = np.random.default_rng(3)
FRAMES = RNG.integers(0, 60000, size=(3, 128)).astype(np.float32)


def test_kinetic_series_with_calibration_and_laser(tmp_path):
    spectra = read(write_sif(tmp_path / "pl.sif", FRAMES, coefficients=(600.0, 0.5, 1e-4, 0)))
    assert isinstance(spectra, Spectra) and spectra.intensity.shape == (3, 128)
    pixel = np.arange(1, 129)
    np.testing.assert_allclose(spectra.axis, 600 + 0.5 * pixel + 1e-4 * pixel ** 2)
    np.testing.assert_array_equal(spectra.intensity, FRAMES)
    assert spectra.unit == "nm" and spectra.excitation_nm == 532.0
    assert spectra.metadata["unit_source"] == "SIF wavelength calibration"
    assert spectra.metadata["frames"] == 3 and spectra.metadata["exposure_s"] == 0.5


def test_multitrack_and_descending_calibration(tmp_path):
    """Two tracks per frame are two spectra; a calibration falling with the pixel is put in
    ascending order with its counts."""
    frames = RNG.integers(0, 1000, size=(2, 2 * 64)).astype(np.float32)
    path = write_sif(tmp_path / "tracks.sif", frames, coefficients=(700.0, -0.25, 0, 0),
                     excitation_nm=None, tracks=2)
    spectra = read(path)
    assert spectra.intensity.shape == (4, 64) and spectra.excitation_nm is None
    np.testing.assert_allclose(spectra.axis, 700 - 0.25 * np.arange(64, 0, -1))
    np.testing.assert_array_equal(spectra.intensity, frames.reshape(4, 64)[:, ::-1])


def test_raman_shift_display_keeps_the_wavelength_calibration(tmp_path):
    """Solis shows a Raman shift but keeps the calibration in nm (as a real file of
    sif-parser's issue 36: 529.988 + 0.0120012 p, laser 532 nm): wavelengths come back with
    the laser line, from which the workflows compute the shift."""
    spectra = read(write_sif(tmp_path / "raman.sif", FRAMES[:1],
                             coefficients=(529.988, 0.0120012, 0, 0), frame_axis="Raman shift"))
    assert spectra.unit == "nm" and spectra.excitation_nm == 532.0
    assert spectra.axis[0] == pytest.approx(530.0000012)
    assert spectra.metadata["frame_axis"] == "Raman shift"


def test_inspect_reads_a_wavelength_axis_beyond_the_laser_as_possibly_raman(tmp_path):
    from typer.testing import CliRunner

    from tmdlearn.cli import app

    path = write_sif(tmp_path / "raman.sif", FRAMES[:1], coefficients=(540.0, 0.02, 0, 0))
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "Raman or PL spectra" in result.output
    assert "excitation 532 nm; as Raman shift 279 .. 366 cm-1" in result.output
    path = write_sif(tmp_path / "pl.sif", FRAMES[:1], coefficients=(650.0, 1.5, 0, 0))
    assert "raman" not in CliRunner().invoke(app, ["inspect", str(path)]).output.lower()


@pytest.mark.parametrize(("damage", "message"), [
    ("truncate", r"x.sif: unreadable Andor SIF file"),
    ("header", r"x.sif: unreadable Andor SIF file \(the file ends inside its header\)"),
    ("length", r"x.sif: unreadable Andor SIF file \(the file ends inside its header\)"),
    ("magic", r"x.sif: not an Andor SIF file"),
    ("uncalibrated", r"x.sif: no wavelength calibration"),
    ("pixels", r"x.sif: no wavelength calibration \(its axis is the pixel number\)"),
    ("binned", r"x.sif: frames of 128 px from a 1024 px detector \(a cropped region"),
    ("image", r"x.sif: a camera image \(64 x 16 px per frame\), not spectra"),
])
def test_bad_sif_is_one_line_exit_2(tmp_path, capsys, damage, message):
    path = tmp_path / "x.sif"
    if damage == "image":
        write_sif(path, RNG.random((1, 64 * 16)), tracks=64)
    elif damage == "pixels":
        write_sif(path, FRAMES, coefficients=(0, 1, 0, 0), frame_axis="Pixel number")
    elif damage == "binned":
        write_sif(path, FRAMES, detector_px=1024)
    else:
        write_sif(path, FRAMES, coefficients=(0, 0, 0, 0) if damage == "uncalibrated"
                  else (400.0, 0.25, 0, 0))
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[:-100])
    elif damage == "header":  # sif-parser alone loops for ever here
        path.write_bytes(raw[:200])
    elif damage == "length":  # a 4 GB user text: sif-parser alone allocates it
        path.write_bytes(raw.replace(b"65538 0\n", b"65538 4294967295\n", 1))
    elif damage == "magic":
        path.write_bytes(b"Andor Technology Multi-Channel Fiel" + raw[35:])
    with pytest.raises(InputError, match=message):
        read(path)
    inspect_fails_in_one_line(path, capsys)
