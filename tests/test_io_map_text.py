"""Map text layouts: row-per-pixel CSV/TSV with X/Y columns, column-per-pixel text, bad rows."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app
from tmdlearn.data.containers import Spectra, SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.io import read

AXIS = np.linspace(100.0, 3200.0, 32)
RNG = np.random.default_rng(7)
CUBE = RNG.integers(0, 5000, size=(3, 4, AXIS.size)) / 4  # exact in decimal and binary


def _fmt(value: float, comma: bool) -> str:
    text = repr(float(value))
    return text.replace(".", ",") if comma else text


def _wafer_csv(path, comma=True, names=("X (mm)", "Y (mm)"), sep=";"):
    """Row per pixel: X, Y in mm on a 0.5 mm pitch, then one column per Raman-shift value."""
    lines = [sep.join([*names, *(_fmt(a, comma) for a in AXIS)])]
    for iy in range(3):
        for ix in range(4):
            lines.append(sep.join([_fmt(-1 + 0.5 * ix, comma), _fmt(2 + 0.5 * iy, comma),
                                   *(_fmt(v, comma) for v in CUBE[iy, ix])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wafer_csv_semicolon_decimal_comma_in_mm(tmp_path):
    spectral_map = read(_wafer_csv(tmp_path / "wafer.csv"))
    assert isinstance(spectral_map, SpectralMap)
    assert spectral_map.shape == (3, 4) and spectral_map.unit == "cm-1"
    assert spectral_map.step_um == 500 and spectral_map.origin_um == (-1000, 2000)
    np.testing.assert_array_equal(spectral_map.axis, AXIS)
    np.testing.assert_array_equal(spectral_map.intensity, CUBE)
    assert spectral_map.metadata["unit_source"] == "value range"
    assert spectral_map.metadata["xy_unit"].startswith("mm")


@pytest.mark.parametrize(("names", "step"), [(("X", "Y"), 0.5), (("x_um", "y_um"), 0.5),
                                             (("Position X (nm)", "Position Y (nm)"), 5e-4)])
def test_row_per_pixel_tsv_position_units(tmp_path, names, step):
    spectral_map = read(_wafer_csv(tmp_path / "map.tsv", comma=False, names=names, sep="\t"))
    assert spectral_map.step_um == pytest.approx(step)
    np.testing.assert_array_equal(spectral_map.intensity, CUBE)


def test_scattered_wafer_sites_are_spectra_with_positions(tmp_path):
    sites = [(0, 0), (30, 0), (-30, 0), (0, 30), (0, -30), (21, 21)]
    lines = ["X (mm),Y (mm)," + ",".join(_fmt(a, False) for a in AXIS)]
    lines += [f"{x},{y}," + ",".join(_fmt(v, False) for v in CUBE[0, 0] + i)
              for i, (x, y) in enumerate(sites)]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines))
    spectra = read(path)
    assert isinstance(spectra, Spectra) and len(spectra) == 6
    np.testing.assert_array_equal(spectra.metadata["x_um"], [1000.0 * x for x, _ in sites])
    np.testing.assert_array_equal(spectra.intensity[5], CUBE[0, 0] + 5)


def test_column_per_pixel_with_named_axis(tmp_path):
    lines = ["Wavelength (nm);spot 1;spot 2;spot 3"]
    lines += [";".join([_fmt(600 + 2 * i, True), *(_fmt(CUBE[0, j, i], True) for j in range(3))])
              for i in range(AXIS.size)]
    path = tmp_path / "pl.csv"
    path.write_text("\n".join(lines))
    spectra = read(path)
    assert spectra.unit == "nm" and spectra.metadata["unit_source"] == "header"
    np.testing.assert_array_equal(spectra.intensity, CUBE[0, :3])
    np.testing.assert_array_equal(spectra.axis, 600 + 2 * np.arange(AXIS.size))


def test_inspect_states_the_inferred_unit(tmp_path):
    path = _wafer_csv(tmp_path / "wafer.csv")
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "axis: Raman shift, cm-1 (inferred from range 100-3200): 100 .. 3200 cm-1" \
        in result.output
    assert "shape 3 x 4 pixels x 32 points; step 500 µm" in result.output
    assert "X, Y columns in mm (from the column name 'X (mm)')" in result.output


@pytest.mark.parametrize(("text", "message"), [
    ("X;Y;100;abc;300\n0;0;1;2;3\n",
     r"bad.csv: line 1: the spectral axis holds 'abc' \(field 4\), not a number"),
    ("X;Y;100;200;300\n0;0;1;2;3\n1;0;1;2\n", r"bad.csv: line 3 has 4 columns"),
    ("# map\nX;Y;100;200;300\n0;0;1;2\n1;0;1;2\n",
     r"bad.csv: line 3 has 2 intensities but the axis line \(line 2\) has 3 values"),
    ("\t\t100\t200\t300\n0\t0\t1\t2\t3\n0\t1\t1\t2\t3x\n", r"bad.csv: line 3 is not numeric"),
])
def test_bad_map_rows_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read(path)


def _wire_long(path, names=("#X", "#Y"), positions=None, axis=AXIS[::-1], spectra=None):
    """Renishaw WiRE's text export: one row per position and axis point, axis descending."""
    spectra = CUBE.reshape(-1, AXIS.size)[:, ::-1] if spectra is None else spectra
    if positions is None:  # a 4 x 3 grid, 1.5 µm pitch, X fastest
        positions = [(-3 + 1.5 * ix, 10 + 1.5 * iy) for iy in range(3) for ix in range(4)]
    lines = ["\t".join([*names, "#Wave", "#Intensity"])]
    for where, spectrum in zip(positions, spectra, strict=True):
        lines += ["\t".join([*(f"{p:.6f}" for p in np.atleast_1d(where)), f"{a:.6f}",
                             f"{v:.6f}"]) for a, v in zip(axis, spectrum, strict=True)]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def test_wire_long_map_is_the_planted_cube(tmp_path):
    spectral_map = read(_wire_long(tmp_path / "wire map.txt"))
    assert isinstance(spectral_map, SpectralMap) and spectral_map.shape == (3, 4)
    assert spectral_map.step_um == 1.5 and spectral_map.origin_um == (-3, 10)
    assert spectral_map.unit == "cm-1"
    np.testing.assert_allclose(spectral_map.axis, AXIS, atol=1e-6)
    np.testing.assert_allclose(spectral_map.intensity, CUBE, atol=1e-6)


def test_wire_long_series_keeps_each_position(tmp_path):
    spectra = read(_wire_long(tmp_path / "series.txt", names=("#Time",),
                              positions=[0.0, 2.5, 5.0], spectra=CUBE[0, :3, ::-1]))
    assert isinstance(spectra, Spectra) and len(spectra) == 3
    assert spectra.metadata["positions"] == {"time": [0.0, 2.5, 5.0]}
    np.testing.assert_allclose(spectra.intensity, CUBE[0, :3], atol=1e-6)


@pytest.mark.parametrize(("cut", "message"), [
    (-1, r"w.txt: spectrum 12 \(data row 353\) has 31 points, the first has 32"),
    (None, r"w.txt: spectrum 2 \(data row 33\) has another spectral axis than the first"),
])
def test_bad_wire_long_tables_name_file_and_spectrum(tmp_path, cut, message):
    path = _wire_long(tmp_path / "w.txt")
    lines = path.read_text().splitlines()
    if cut is None:  # the second spectrum's axis shifted by 1 cm-1
        lines[33:65] = [line.replace(line.split("\t")[2], f"{float(line.split()[2]) + 1:.6f}")
                        for line in lines[33:65]]
    else:
        lines = lines[:cut]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=message):
        read(path)


@pytest.mark.parametrize(("text", "axis", "spectra"), [
    ("X;Y;100;200\n0;0;1,5;2\n1;0;1;2,25E2\n", [100, 200], [[1.5, 2], [1, 225]]),
    ("X;Y;100;200\n0;0;1,;2\n1;0;3;4,\n", [100, 200], [[1, 2], [3, 4]]),  # "1," is 1.0 in both
    ("  100   1.0\n\n  200   2.5\n  300  3.25\n", [100, 200, 300], [[1, 2.5, 3.25]]),
    ("100\t1\t\n200\t2\t\n300\t3\t\n", [100, 200, 300], [[1, 2, 3]]),
    ("100,1\r300,3\r200,2\r".replace("300,3\r200,2", "200,2\r300,3"), [100, 200, 300],
     [[1, 2, 3]]),
])
def test_delimiters_blank_lines_and_line_ends(tmp_path, text, axis, spectra):
    """Rows after the first go through pandas' C reader when clean, line by line otherwise:
    decimal commas, leading spaces and blank lines, trailing tabs, old Mac line ends."""
    path = tmp_path / "s.txt"
    path.write_bytes(text.encode())
    got = read(path)
    np.testing.assert_array_equal(got.axis, axis)
    np.testing.assert_array_equal(got.intensity.reshape(len(spectra), -1), spectra)


def test_wire_long_axis_name_gives_the_unit_and_a_bom_is_not_data(tmp_path):
    """The axis column's name decides the unit (600-800 would read as a Raman shift by
    value); a UTF-8 byte-order mark before the column names changes nothing."""
    path = _wire_long(tmp_path / "pl.txt", axis=np.linspace(800.0, 600.0, AXIS.size))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"#Wave", b"#Wavelength"))
    spectral_map = read(path)
    assert isinstance(spectral_map, SpectralMap) and spectral_map.unit == "nm"
    assert spectral_map.metadata["unit_source"] == "header"


def test_three_named_columns_changing_every_row_are_columns_not_a_long_table(tmp_path):
    lines = ["Energy\tWavelength\tIntensity"] + [f"{1239.84 / w:.5f}\t{w:.3f}\t{i}"
                                                 for i, w in enumerate(range(800, 750, -1))]
    path = tmp_path / "three.txt"
    path.write_text("\n".join(lines) + "\n")
    spectra = read(path)
    assert spectra.unit == "eV" and spectra.intensity.shape == (2, 50)


def test_quoted_numbers_are_refused_by_either_reader(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("100\t1\n" + "".join(f'"{100 + k}"\t{k}\n' for k in range(1, 5)))
    with pytest.raises(InputError, match=r"q.txt: line 2 is not numeric"):
        read(path)
