"""Readers against real files and published reference values."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from tmdlearn.data import EV_IN_CM1, HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.io import read

# RMS of the raw height channel (no levelling) published by SurfaceTopography's own tests.
DI_RMS_NM = {"di-1.di": 9.9459868, "di-5.di": 5.831926}


@pytest.mark.parametrize("name", sorted(DI_RMS_NM))
def test_nanoscope_raw_rms_matches_reference(test_data, name):
    hm = read(test_data / "afm-bruker" / name)
    assert isinstance(hm, HeightMap) and hm.channel == "height"
    assert hm.shape == (512, 512)
    rms = np.sqrt(np.mean((hm.height_nm - hm.height_nm.mean()) ** 2))
    assert rms == pytest.approx(DI_RMS_NM[name], rel=1e-4)


def test_nanoscope_scan_size_and_channels(test_data):
    hm = read(test_data / "afm-bruker" / "di-1.di")
    assert hm.scan_size_um == pytest.approx(0.5)  # "scan size: 500 500 nm" in the header
    assert hm.metadata["channels"] == ["Height", "Height", "Phase", "AmplitudeError"]
    phase = read(test_data / "afm-bruker" / "di-1.di", channel="phase")
    assert phase.channel == "phase"
    assert not np.allclose(phase.height_nm, hm.height_nm)
    with pytest.raises(InputError, match="no channel 'friction'"):
        read(test_data / "afm-bruker" / "di-1.di", channel="friction")


def test_nanoscope_zsensor_is_the_height_channel(test_data):
    hm = read(test_data / "afm-bruker" / "di-5.di")
    assert hm.metadata["instrument_channel"] == "ZSensor"
    assert hm.scan_size_um == pytest.approx(1.0)


@pytest.mark.parametrize("name, peak_cm1", [
    ("WSe2_Raman.txt", 250.0), ("MoSe2_Raman.txt", 241.0), ("HS_Raman.txt", 250.0),
])
def test_raman_shift_in_ev_becomes_cm1(test_data, name, peak_cm1):
    spectrum = read(test_data / "spectra-wse2mose2" / name)
    assert isinstance(spectrum, Spectra) and spectrum.unit == "cm-1"
    raw = np.loadtxt(test_data / "spectra-wse2mose2" / name)
    np.testing.assert_allclose(spectrum.axis, np.sort(raw[:, 0]) * EV_IN_CM1)
    strongest = spectrum.axis[np.argmax(spectrum.intensity[0])]
    assert strongest == pytest.approx(peak_cm1, abs=3)  # A1g / E2g modes of the monolayers
    assert "axis_converted" in spectrum.metadata


@pytest.mark.parametrize("name, exciton_ev", [
    ("WSe2_PL.txt", 1.61), ("MoSe2_PL.txt", 1.57), ("HS_PL.txt", 1.58),
])
def test_pl_in_ev(test_data, name, exciton_ev):
    spectrum = read(test_data / "spectra-wse2mose2" / name)
    assert spectrum.unit == "eV"
    assert np.all(np.diff(spectrum.axis) > 0)
    assert spectrum.axis[np.argmax(spectrum.intensity[0])] == pytest.approx(exciton_ev, abs=0.03)


def test_stitched_windows_keep_every_point_outside_overlaps(test_data):
    path = test_data / "spectra-wse2mose2" / "WSe2_PL.txt"
    spectrum = read(path)
    raw = np.loadtxt(path)
    assert spectrum.metadata["stitched_windows"] == 4
    assert spectrum.axis[0] == raw[:, 0].min() and spectrum.axis[-1] == raw[:, 0].max()
    # every kept point is an original (x, y) pair
    lookup = dict(zip(raw[:, 0], raw[:, 1], strict=True))
    assert all(lookup[x] == y for x, y in zip(spectrum.axis, spectrum.intensity[0], strict=True))


def test_explicit_unit_wins(test_data):
    spectrum = read(test_data / "spectra-wse2mose2" / "MoSe2_PL.txt", unit="ev")
    assert spectrum.unit == "eV" and spectrum.metadata["unit_source"] == "option"


@pytest.mark.parametrize("header, values, unit", [
    ("Raman shift (cm-1),Intensity", np.linspace(100, 600, 50), "cm-1"),
    ("wavenumber [1/cm]\tcounts", np.linspace(100, 600, 50), "cm-1"),
    ("Wavelength (nm);I", np.linspace(600, 800, 50), "nm"),
    ("Energy (eV) counts", np.linspace(1.5, 2.0, 50), "eV"),
    ("", np.linspace(150, 450, 50), "cm-1"),
    ("", np.linspace(1.4, 2.1, 50), "eV"),
])
def test_two_column_text_unit_from_header_or_range(tmp_path, header, values, unit):
    delimiter = "," if "," in header else ";" if ";" in header else "\t"
    lines = ([header] if header else []) + [
        f"{x}{delimiter}{i}" for i, x in enumerate(values[::-1])  # descending axis
    ]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    spectrum = read(path)
    assert spectrum.unit == unit
    np.testing.assert_allclose(spectrum.axis, values)
    np.testing.assert_allclose(spectrum.intensity[0], np.arange(50)[::-1])


def test_wavelength_beyond_laser_line(tmp_path):
    path = tmp_path / "pl.txt"
    path.write_text("#Laser=\t532nm\n" + "\n".join(f"{x}\t1" for x in range(600, 700)))
    spectrum = read(path)
    assert spectrum.unit == "nm" and spectrum.excitation_nm == 532


def test_labspec_map_with_spaces_and_latin1(tmp_path):
    text = ("#Acq. time (s)=\t2\n#Title=\tmap a=1\n#Laser=\t633 nm\n#Range (cm-\xb9)=\t100...300\n"
            "\t\t100\t200\t300\n"
            "0\t0\t1\t2\t3\n0.5\t0\t4\t5\t6\n0\t0.5\t7\t8\t9\n0.5\t0.5\t1\t1\t1\n")
    path = tmp_path / "map.txt"
    path.write_bytes(text.encode("latin-1"))
    spectral_map = read(path)
    assert isinstance(spectral_map, SpectralMap)
    assert spectral_map.shape == (2, 2) and spectral_map.step_um == 0.5
    assert spectral_map.excitation_nm == 633 and spectral_map.unit == "cm-1"
    np.testing.assert_array_equal(spectral_map.intensity[1, 0], [7, 8, 9])


def test_height_array_needs_pixel_size(tmp_path):
    np.save(tmp_path / "h.npy", np.ones((8, 8)))
    with pytest.raises(InputError, match="pixel_size_nm="):
        read(tmp_path / "h.npy")
    hm = read(tmp_path / "h.npy", pixel_size_nm=2.0)
    assert isinstance(hm, HeightMap) and hm.scan_size_um == pytest.approx(0.016)
    image = read(tmp_path / "h.npy", pixel_size_angstrom=0.2)
    assert isinstance(image, StemImage)


def test_plain_tif_needs_pixel_size(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "plain.tif", np.arange(64, dtype=np.uint16).reshape(8, 8))
    with pytest.raises(InputError, match="pixel size"):
        read(tmp_path / "plain.tif")
    hm = read(tmp_path / "plain.tif", pixel_size_nm=1.0)
    assert hm.height_nm[1, 0] == 8


def _imagej(path, image):
    import tifffile

    tifffile.imwrite(path, image, imagej=True, resolution=(1 / 0.01062, 1 / 0.01062),
                     metadata={"unit": "nm"})


def _ome(path, image):
    import tifffile

    tifffile.imwrite(path, image, ome=True, metadata={"PhysicalSizeX": 10.62,
                                                      "PhysicalSizeXUnit": "pm"})


def _fei(path, image):
    import tifffile

    ini = "[User]\nDate=12/07/2026\n[Scan]\nPixelWidth=1.062e-011\nPixelHeight=1.062e-011\n"
    tifffile.imwrite(path, image, extratags=[(34682, "s", 0, ini, True)])


@pytest.mark.parametrize("write, source", [(_imagej, "ImageJ: nm"),
                                           (_ome, "OME PhysicalSizeX: 10.62 pm"),
                                           (_fei, "FEI Scan PixelWidth: 1.062e-11 m")])
def test_tiff_pixel_sizes_of_imagej_ome_and_thermo_fisher_files(tmp_path, write, source):
    """0.1062 A/px stated three ways: ImageJ unit + resolution, OME-XML PhysicalSizeX, a Thermo
    Fisher (FEI) microscope's INI tag; each read as a STEM image with its source."""
    image = np.arange(256, dtype=np.uint16).reshape(16, 16)
    write(tmp_path / "haadf.tif", image)
    stem = read(tmp_path / "haadf.tif")
    assert isinstance(stem, StemImage) and stem.pixel_size_angstrom == pytest.approx(0.1062)
    assert stem.metadata["pixel_size_source"] == source
    np.testing.assert_array_equal(stem.intensity, image)
    given = read(tmp_path / "haadf.tif", pixel_size_angstrom=0.2)
    assert given.pixel_size_angstrom == 0.2 and given.metadata["pixel_size_source"] == "given"


def test_gpl_formats_without_rosettasciio(tmp_path, monkeypatch):
    """Only TIA .ser needs the GPL extra; .dm3/.dm4/.emd are read by tmdlearn
    (tests/test_io_dm_velox.py)."""
    monkeypatch.setitem(sys.modules, "rsciio", None)  # import rsciio fails
    path = tmp_path / "image.ser"
    path.write_bytes(struct.pack("<HHH", 0x4949, 0x0197, 0x0210) + b"\0" * 100)
    with pytest.raises(InputError, match=r"pip install tmdlearn\[gpl\]"):
        read(path)


@pytest.mark.parametrize("name", ["WSe2_Raman.txt", "MoSe2_Raman.txt", "HS_Raman.txt"])
def test_silicon_substrate_line_lands_at_520_cm1(test_data, name):
    """The Si substrate's optical phonon (520.7 cm-1) checks the eV -> cm-1 conversion."""
    spectrum = read(test_data / "spectra-wse2mose2" / name)
    window = (spectrum.axis > 480) & (spectrum.axis < 560)
    peak = spectrum.axis[window][np.argmax(spectrum.intensity[0, window])]
    assert peak == pytest.approx(520.7, abs=2.0)
