"""The one-line answer when a real spectrum's axis is on the wrong footing: a wavelength axis
with no unit in the file (taken for Raman shifts from its values), and a laser line that is not
the one the spectrum was taken with."""

from __future__ import annotations

import numpy as np

from tmdlearn.cli import main
from tmdlearn.data.containers import EV_IN_CM1

HC_EV_NM = 1239.841984


def _fit(capsys, path, model, out, *sets) -> tuple[int, str]:
    """Exit code and stderr of ``tmdlearn spectra fit`` (0 when it returns)."""
    args = ["spectra", "fit", str(path), "--model", model, "--out", str(out)]
    for item in sets:
        args += ["--set", item]
    code = 0
    try:
        main(args)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def test_pl_spectrum_in_wavelength_is_pointed_to_read_unit_nm(test_data, tmp_path, capsys):
    """The real MoSe2 PL spectrum written on a wavelength axis (599-1050 nm, two columns, no
    header) is read as Raman shifts; the message said "Raman spectra?" only."""
    x, y = np.loadtxt(test_data / "spectra-wse2mose2" / "MoSe2_PL.txt", unpack=True)
    path = tmp_path / "MoSe2_PL_nm.txt"
    np.savetxt(path, np.c_[HC_EV_NM / x, y], delimiter="\t")
    code, err = _fit(capsys, path, "mose2-pl", tmp_path / "a.csv")
    assert code == 2
    assert "from its values alone" in err and "set read.unit=nm" in err
    code, err = _fit(capsys, path, "mose2-pl", tmp_path / "b.csv", "read.unit=nm")
    assert code == 0, err
    fitted = np.genfromtxt(tmp_path / "b.csv", delimiter=",", names=True)
    assert abs(float(fitted["A_center"]) - 1.569) < 0.002  # the file's own eV fit: 1.569 eV


def test_raman_spectrum_in_wavelength_and_wrong_laser_line(test_data, tmp_path, capsys):
    """The real MoSe2 Raman spectrum on the wavelength axis of a 532 nm laser (535-550 nm):
    without the laser line it is taken for 535-550 cm-1 shifts, and with 633 nm all its
    shifts are negative; both messages said "PL spectra?"."""
    x, y = np.loadtxt(test_data / "spectra-wse2mose2" / "MoSe2_Raman.txt", unpack=True)
    path = tmp_path / "MoSe2_Raman_nm.txt"
    np.savetxt(path, np.c_[1e7 / (1e7 / 532.0 - x * EV_IN_CM1), y], delimiter="\t")
    code, err = _fit(capsys, path, "mose2-raman", tmp_path / "a.csv")
    assert code == 2
    assert "a wavelength axis? set read.unit=nm and read.excitation_nm" in err
    code, err = _fit(capsys, path, "mose2-raman", tmp_path / "b.csv", "read.unit=nm",
                  "read.excitation_nm=633")
    assert code == 2
    assert "short-wavelength side of the laser line 633 nm" in err
    assert "PL spectra?" not in err
    code, err = _fit(capsys, path, "mose2-raman", tmp_path / "c.csv", "read.unit=nm",
                  "read.excitation_nm=532")
    assert code == 0, err
    fitted = np.genfromtxt(tmp_path / "c.csv", delimiter=",", names=True)
    assert abs(float(fitted["A1g_center"]) - 241.36) < 0.05
