"""Text exports of lab software in the layouts they write, built here with planted peaks:
Ocean Optics SpectraSuite / OceanView (header block, `>>>>>Begin` / `>>>>>End` markers, nm
axis), decimal commas in tab-separated files (a European Windows locale), CSV rows with
trailing separators (a spreadsheet), WITec Control FIVE headers (`Key:<TAB>value`, the laser
line), and Gwyddion's ASCII matrix and x y z height exports (read by SurfaceTopography).
Layouts from the software's own export code or documentation, as cited in docs/io.md."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.io import read
from tmdlearn.spectra import fit_peaks

HC_EV_NM = 1239.84193


def _pl(nm: np.ndarray) -> np.ndarray:
    """MoS2 PL on a flat 300-count background with 10-count noise: the A exciton 1.88 eV
    (FWHM 0.05 eV), the trion 1.84 eV and the B exciton 2.03 eV."""
    energy = HC_EV_NM / nm
    noise = np.random.default_rng(1).normal(0, 10, nm.shape)
    return 300 + noise + sum(h * np.exp(-4 * np.log(2) * ((energy - c) / w) ** 2) for h, c, w in
                             ((4000, 1.88, 0.05), (1500, 1.84, 0.07), (800, 2.03, 0.1)))


def _raman(shift: np.ndarray) -> np.ndarray:
    """MoS2 Raman: E2g 385 and A1g 405 cm⁻¹ (FWHM 4 and 5) on 200 counts, 5-count noise."""
    noise = np.random.default_rng(2).normal(0, 5, shift.shape)
    return (200 + noise + 900 / (1 + ((shift - 385) / 2) ** 2)
            + 1500 / (1 + ((shift - 405) / 2.5) ** 2))


OCEAN_VIEW = ("Data from MoS2_PL_FLMS12345__0__14-02-31-123.txt Node\n\nDate: Tue Apr 04 15:08:01 "
              "CEST 2017\nUser: labuser\nSpectrometer: FLMS12345\nTrigger mode: 0\nIntegration "
              "Time (sec): 1.000000E-1\nScans to average: 1\nBoxcar width: 0\nXAxis mode: "
              "Wavelengths\nNumber of Pixels in Spectrum: 600\n>>>>>Begin Spectral Data<<<<<\n")
SPECTRA_SUITE = ("SpectraSuite Data File\n++++++++++++++++++++++++++++++++++++\nDate: Mon Jun 11 "
                 "14:59:44 CEST 2018\nSpectrometers: USB4F06998\nIntegration Time (usec): 60000 "
                 "(USB4F06998)\nNumber of Pixels in Processed Spectrum: 600\n"
                 ">>>>>Begin Processed Spectral Data<<<<<\n")


@pytest.mark.parametrize("name, header, comma, end", [
    ("oceanview.txt", OCEAN_VIEW, False, ""),
    ("oceanview_comma.txt", OCEAN_VIEW, True, ""),
    ("spectrasuite.txt", SPECTRA_SUITE, False, ">>>>>End Processed Spectral Data<<<<<\n"),
])
def test_ocean_optics_exports_are_wavelength_spectra(tmp_path, name, header, comma, end):
    nm = np.linspace(560.12, 779.88, 600)
    rows = "".join(f"{x:.3f}\t{y:.2f}\n" for x, y in zip(nm, _pl(nm), strict=True))
    text = header + (rows.replace(".", ",") if comma else rows) + end
    (tmp_path / name).write_text(text, encoding="utf-8")
    spectra = read(tmp_path / name)
    assert spectra.unit == "nm" and spectra.intensity.shape == (1, 600)
    np.testing.assert_allclose(spectra.axis[[0, -1]], [560.12, 779.88], atol=1e-3)
    fit = fit_peaks(spectra.to_unit("eV"), "mos2-pl", progress=False)
    assert fit.verdict[0] == "ok" and fit["A_center"][0] == pytest.approx(1.88, abs=0.003)


@pytest.mark.parametrize("name, line", [
    ("labspec_comma.txt", "{x}\t{y}\n"),           # LabSpec 6 under a comma-decimal locale
    ("spaces_comma.txt", "{x}  {y}\n"),            # whitespace columns, decimal commas
    ("trailing.csv", "{x},{y},,\r\n"),             # a spreadsheet's empty trailing columns
    ("trailing_semicolon.csv", "{x};{y};\r\n"),
])
def test_decimal_commas_and_trailing_separators(tmp_path, name, line):
    shift = np.linspace(349.6, 480.2, 200)
    comma = "comma" in name or "semicolon" in name
    body = "".join(line.format(x=f"{x:.3f}", y=f"{y:.2f}") for x, y in
                   zip(shift, _raman(shift), strict=True))
    header = "#Laser=\t532\n#Range (cm-¹)=\t350 - 480\n" if name.startswith("labspec") else (
        "Raman shift (cm-1),Intensity,,\r\n" if name == "trailing.csv" else "")
    if comma:
        body = body.replace(".", ",")
    (tmp_path / name).write_bytes(header.encode("latin-1") + body.encode("latin-1"))
    spectra = read(tmp_path / name)
    assert spectra.unit == "cm-1" and spectra.intensity.shape == (1, 200)
    np.testing.assert_allclose(spectra.axis[[0, -1]], [349.6, 480.2], atol=1e-3)
    fit = fit_peaks(spectra, "mos2-raman", progress=False)
    assert fit.verdict[0] == "ok"
    assert fit["A1g_center"][0] == pytest.approx(405, abs=0.05)
    assert fit["E2g_center"][0] == pytest.approx(385, abs=0.05)


def test_witec_control_five_header_gives_the_laser_line(tmp_path):
    shift = np.linspace(349.6, 480.2, 200)
    header = ("Spectrum--043\r\n\r\nGeneral:\r\nStart Time:\t11:55:15 AM\r\nUHTS600S_VIS:\r\n"
              "Excitation Wavelength [nm]:\t532.067\r\nLaser Power [mW]:\t1.012\r\n"
              "Grating:\tG2: 1800 g/mm BLZ=500nm\r\n\r\nRaman Shift [rel. 1/cm]\tIntensity "
              "[CCD cts]\r\n")
    rows = "".join(f"{x:.4f}\t{y:.1f}\r\n" for x, y in zip(shift, _raman(shift), strict=True))
    (tmp_path / "witec.txt").write_bytes((header + rows).encode("latin-1"))
    spectra = read(tmp_path / "witec.txt")
    assert spectra.unit == "cm-1" and spectra.excitation_nm == pytest.approx(532.067)


def _film(n: int = 64) -> np.ndarray:
    """Heights (m) of a 0.65 nm monolayer patch on a flat substrate with 0.05 nm noise."""
    y, x = np.mgrid[0:n, 0:n]
    rng = np.random.default_rng(0)
    return 0.65e-9 * ((x > 20) & (x < 45) & (y > 15) & (y < 50)) + 5e-11 * rng.normal(size=(n, n))


def test_gwyddion_ascii_and_xyz_height_exports(tmp_path):
    """Gwyddion's ASCII matrix (`# Channel:`, `# Width: 1.000 µm`, values in m) and its x y z
    export (m, no header) read as a 1 µm height map in nm with the planted 0.65 nm step; a
    headerless matrix read as AFM with a given pixel size, its metre values said to be
    assumed."""
    h = _film()
    matrix = "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in h)
    (tmp_path / "gwy.txt").write_text("# Channel: Height\n# Width: 1.000 µm\n# Height: 1.000 µm\n"
                                      "# Value units: m\n" + matrix, encoding="utf-8")
    step = (0.65e-9 * 1e9)
    xs = np.arange(64) * 1e-6 / 64
    (tmp_path / "gwy.xyz").write_text("".join(
        f"{xs[i]:.6g}\t{xs[j]:.6g}\t{h[j, i]:.6g}\n" for j in range(64) for i in range(64)))
    (tmp_path / "bare.txt").write_text(matrix)
    for name, options in (("gwy.txt", {}), ("gwy.xyz", {}),
                          ("bare.txt", {"modality": "afm", "pixel_size_nm": 15.625})):
        image = read(tmp_path / name, **options)
        assert image.shape == (64, 64) and image.pixel_size_nm == pytest.approx(15.625)
        assert image.channel == "height"
        np.testing.assert_allclose(image.height_nm, h * 1e9, atol=1e-4)
        patch = image.height_nm[20:45, 25:40].mean() - image.height_nm[:10, :10].mean()
        assert patch == pytest.approx(step, abs=0.05)
        assert ("unit_source" in image.metadata) == (name != "gwy.txt"), image.metadata


def _jcamp(shift: np.ndarray, values: np.ndarray, extra: str = "") -> str:
    """JCAMP-DX 4.24 as Bruker's and Thermo's software write it: labelled header, then
    ##XYDATA=(X++(Y..Y)) lines of an X and five Y values (AFFN)."""
    lines = [f"{shift[i]:.4f} " + " ".join(f"{v:.2f}" for v in values[i:i + 5])
             for i in range(0, shift.size, 5)]
    return ("##TITLE=MoS2 monolayer Raman\r\n##JCAMP-DX=4.24\r\n##DATA TYPE=RAMAN SPECTRUM\r\n"
            f"##ORIGIN=Bruker SENTERRA\r\n{extra}##XUNITS=1/CM\r\n##YUNITS=ARBITRARY UNITS\r\n"
            f"##XFACTOR=1.0\r\n##YFACTOR=1.0\r\n##FIRSTX={shift[0]:.4f}\r\n"
            f"##LASTX={shift[-1]:.4f}\r\n##NPOINTS={shift.size}\r\n##XYDATA=(X++(Y..Y))\r\n"
            + "\r\n".join(lines) + "\r\n##END=\r\n")


def test_jcamp_dx_raman_spectrum(tmp_path):
    from tmdlearn.errors import InputError

    shift = np.linspace(349.6, 480.2, 200)
    (tmp_path / "mos2.jdx").write_text(_jcamp(shift, _raman(shift), "##$LASER WAVELENGTH=532"
                                              "\r\n"))
    spectra = read(tmp_path / "mos2.jdx")
    assert spectra.unit == "cm-1" and spectra.excitation_nm == 532.0
    np.testing.assert_allclose(spectra.axis, shift, atol=1e-3)
    assert spectra.metadata["header"]["data type"] == "RAMAN SPECTRUM"
    fit = fit_peaks(spectra, "mos2-raman", progress=False)
    assert fit.verdict[0] == "ok" and fit["A1g_center"][0] == pytest.approx(405, abs=0.05)
    compound = ("##TITLE=two spectra\r\n##JCAMP-DX=5.01\r\n##DATA TYPE=LINK\r\n##BLOCKS=2\r\n"
                + _jcamp(shift, _raman(shift)) + _jcamp(shift, _raman(shift)) + "##END=\r\n")
    (tmp_path / "two.jdx").write_text(compound)
    with pytest.raises(InputError, match="two.jdx: a compound JCAMP-DX file of 2 blocks"):
        read(tmp_path / "two.jdx")
    (tmp_path / "empty.jdx").write_text("##TITLE=nothing\r\n##JCAMP-DX=4.24\r\n##END=\r\n")
    with pytest.raises(InputError, match="empty.jdx: no XY data"):
        read(tmp_path / "empty.jdx")
