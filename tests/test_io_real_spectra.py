"""Spectra readers against real instrument files from other packages' test data (see
benchmarks/spectra_readers_real.py): a Horiba LabSpec SPC and an SDT-control SPE are here
(tests/data), the layouts other real files showed are rebuilt byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from spe_files import write_spe2
from test_io_spc import f32, main_header, sub_header, write
from tmdlearn.errors import InputError
from tmdlearn.io import read

DATA = Path(__file__).parent / "data"
LABSPEC_SPC = DATA / "spc-specio" / "20170410EDL_L01_cell01_c1.spc"
SDT_SPE = DATA / "spe-sdt-python" / "test_000_.SPE"
WDF = DATA / "renishaw-wdf" / "Si-map.wdf"


def test_labspec_spc_reads_as_spc_spectra_does():
    """Values from spc-spectra 0.4.0 (spc_spectra.File) on the same file."""
    spectrum = read(LABSPEC_SPC)
    assert spectrum.intensity.shape == (1, 1732) and spectrum.unit == "cm-1"
    assert spectrum.axis[0] == pytest.approx(400.19921875, rel=1e-9)
    assert spectrum.axis[-1] == pytest.approx(3798.6435546875, rel=1e-9)
    y = spectrum.intensity[0]
    np.testing.assert_allclose(y[:3], [173.33334351, 187.33332825, 188.33332825], rtol=1e-7)
    np.testing.assert_allclose(y[-2:], [106.04219055, 109.70896912], rtol=1e-7)
    assert y.sum() == pytest.approx(276059.08081817627, rel=1e-9)
    assert spectrum.axis[np.argmax(y)] == pytest.approx(2932.365966796875, rel=1e-9)
    assert spectrum.excitation_nm == pytest.approx(632.81)


def test_spe_header_of_version_0_is_an_spe_without_calibration():
    """SDT-control writes 0 in the version field: an SPE (imageio reads 2 frames of 32 x 32
    px), refused for its missing calibration, not as "not an SPE file"."""
    import imageio.v3 as iio

    assert iio.imread(SDT_SPE, plugin="SPE", index=...).shape == (2, 32, 32)
    with pytest.raises(InputError, match=r"test_000_.SPE: no wavelength calibration:"):
        read(SDT_SPE)


@pytest.mark.parametrize(("label", "coefficients"), [
    ("Pixel", (1.0, 1.0)),  # WinSpec's uncalibrated axis, as speview's test files have it
    ("", (0.0, 1.0)),
])
def test_spe2_pixel_calibration_is_no_wavelength(tmp_path, label, coefficients):
    counts = np.arange(64, dtype="<u2").reshape(1, 1, 64)
    path = write_spe2(tmp_path / "raw.spe", counts, coefficients=coefficients, label=label)
    with pytest.raises(InputError, match=r"raw.spe: no wavelength calibration \(its axis is "
                                         r"the pixel number\)"):
        read(path)


def test_spc_axis_label_names_the_unit_fxtype_does_not(tmp_path):
    """fxtype 0 (arbitrary) with the TALABS flag: fcatxt's x label gives the unit (600-700
    would read as cm-1 from the values alone)."""
    head = bytearray(main_header(0x20, 5, 600.0, 700.0, xtype=0))
    head[218:218 + 22] = b"Wavelength (nm)\0Counts"
    path = write(tmp_path, "labelled.spc", bytes(head) + sub_header() + f32([1, 2, 3, 4, 5]))
    spectrum = read(path)
    assert spectrum.unit == "nm" and spectrum.metadata["axis_labels"][:2] == [
        "Wavelength (nm)", "Counts"]


def test_shimadzu_spc_is_named(tmp_path):
    path = write(tmp_path, "uv.spc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    with pytest.raises(InputError, match=r"uv.spc: a Shimadzu SPC file \(an OLE2 compound "
                                         r"document\), not a Galactic"):
        read(path)


def test_wdf_last_block_cut_short_is_left_out(tmp_path):
    """orange-spectroscopy's single-spectrum_undefined-type.wdf ends in a WXDA block 2 bytes
    short of its declared size; renishaw-wdf reads the spectra, and so does tmdlearn. A cut
    DATA block is still refused."""
    tail = struct.pack("<4sIQ", b"WXDA", 1, 123) + bytes(105)
    path = tmp_path / "cut-tail.wdf"
    path.write_bytes(WDF.read_bytes() + tail)
    np.testing.assert_array_equal(read(path).intensity, read(WDF).intensity)
    path.write_bytes(WDF.read_bytes() + struct.pack("<4sIQ", b"DATA", 1, 123) + bytes(105))
    with pytest.raises(InputError, match=r"block 'DATA' at byte \d+ declares 123 bytes"):
        read(path)


def _jcamp(xunits: str, data_type: str) -> str:
    x = np.linspace(100.0, 200.0, 10)
    rows = "\n".join(f"{v:.1f} {i}" for i, v in enumerate(x))
    return (f"##TITLE=t\n##JCAMP-DX=4.24\n##DATA TYPE={data_type}\n##XUNITS={xunits}\n"
            f"##YUNITS=ARBITRARY\n##NPOINTS=10\n##XYPOINTS=(XY..XY)\n{rows}\n##END=\n")


def test_jcamp_axis_of_no_optical_spectrum_is_refused(tmp_path):
    path = tmp_path / "nmr.jdx"
    path.write_text(_jcamp("HZ", "NMR SPECTRUM"))
    with pytest.raises(InputError, match=r"nmr.jdx: its x axis is in HZ \(NMR SPECTRUM\), not "
                                         r"a Raman or PL axis"):
        read(path)
    assert read(path, unit="cm-1").unit == "cm-1"


def test_jcamp_unit_in_parentheses(tmp_path):
    """As jcamp's uvvis_spectra/toluene.jdx labels it."""
    path = tmp_path / "uv.jdx"
    path.write_text(_jcamp("Wavelength (nm)", "UV/VIS SPECTRUM"))
    spectrum = read(path)
    assert spectrum.unit == "nm" and spectrum.metadata["unit_source"].endswith("(nm)")
