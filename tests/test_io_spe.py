"""Princeton Instruments SPE spectra (frames through imageio, calibration from the layouts):
planted counts, calibration and laser line come back; bad files are one error line."""

from __future__ import annotations

import numpy as np
import pytest

from cli_checks import inspect_fails_in_one_line
from spe_files import write_spe2, write_spe3
from tmdlearn.data.containers import Spectra
from tmdlearn.errors import InputError
from tmdlearn.io import read

RNG = np.random.default_rng(11)
COUNTS = RNG.integers(0, 65535, size=(3, 1, 64)).astype("<u2")


def test_spe2_kinetic_series_with_polynomial_calibration(tmp_path):
    path = write_spe2(tmp_path / "pl.spe", COUNTS, coefficients=(600.0, 0.2, -1e-4),
                      laser=1e7 / 532.0)
    spectra = read(path)
    assert isinstance(spectra, Spectra) and spectra.intensity.shape == (3, 64)
    pixel = np.arange(1, 65)
    np.testing.assert_allclose(spectra.axis, 600 + 0.2 * pixel - 1e-4 * pixel ** 2)
    np.testing.assert_array_equal(spectra.intensity, COUNTS[:, 0])
    assert spectra.unit == "nm" and spectra.excitation_nm == pytest.approx(532.0)
    assert spectra.metadata["spe_version"] == 2.5 and spectra.metadata["exposure_s"] == 0.25


def test_spe2_strips_float_counts_and_a_named_raman_axis(tmp_path):
    frames = RNG.normal(100, 10, size=(1, 2, 32)).astype("<f4")
    path = write_spe2(tmp_path / "r.spe", frames, coefficients=(300.0, -5.0),
                      label="Raman shift (cm-1)")
    spectra = read(path)
    assert spectra.unit == "cm-1" and spectra.intensity.shape == (2, 32)
    np.testing.assert_allclose(spectra.axis, 300 - 5.0 * np.arange(32, 0, -1))
    np.testing.assert_array_equal(spectra.intensity, frames[0, :, ::-1].astype(float))


def test_spe3_mapping_laser_and_per_frame_metadata(tmp_path):
    """Each frame followed by 16 bytes of time stamps: read strided, not shifted."""
    wavelengths = np.linspace(550.0, 750.0, 64)
    path = write_spe3(tmp_path / "lf.spe", COUNTS, wavelengths, laser_nm=532.1,
                      frame_metadata_bytes=16)
    spectra = read(path)
    np.testing.assert_allclose(spectra.axis, wavelengths, atol=1e-6)
    np.testing.assert_array_equal(spectra.intensity, COUNTS[:, 0])
    assert spectra.unit == "nm" and spectra.excitation_nm == 532.1
    assert spectra.metadata["spe_version"] == 3.0


def test_spe3_mapping_of_the_whole_sensor_is_cut_to_the_region(tmp_path):
    sensor = np.linspace(500.0, 800.0, 400)
    path = write_spe3(tmp_path / "roi.spe", COUNTS, sensor, sensor=(100, 2))
    spectra = read(path)
    np.testing.assert_allclose(spectra.axis, sensor[100:228].reshape(64, 2).mean(axis=1),
                               atol=1e-6)


@pytest.mark.parametrize(("damage", "message"), [
    ("truncate", r"x.spe: its header declares 3 frames of 1 x 64 px, the file holds 2"),
    ("uncalibrated", r"x.spe: no wavelength calibration"),
    ("image", r"x.spe: a camera image \(100 x 64 px per frame\), not spectra"),
    ("short", r"x.spe: shorter \(1000 bytes\) than an SPE header"),
    ("footer", r"x.spe: its XML footer offset \(\d+\) lies outside the file"),
    ("regions", r"x.spe: its frames hold 2 regions of interest"),
])
def test_bad_spe_is_one_line_exit_2(tmp_path, capsys, damage, message):
    path = tmp_path / "x.spe"
    if damage == "image":
        write_spe2(path, RNG.integers(0, 9, size=(1, 100, 64)).astype("<u2"))
    elif damage in ("footer", "regions"):
        write_spe3(path, COUNTS, np.linspace(500, 600, 64))
        raw = path.read_bytes()
        region = raw[raw.index(b'<DataBlock type="Region"'):raw.index(b"</DataBlock></Data")]
        path.write_bytes(raw[:4200] if damage == "footer" else raw.replace(region, region * 2))
    else:
        write_spe2(path, COUNTS, valid=damage != "uncalibrated")
        raw = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(raw[:-70])
        elif damage == "short":
            path.write_bytes(raw[:1000])
    with pytest.raises(InputError, match=message):
        read(path)
    inspect_fails_in_one_line(path, capsys)
