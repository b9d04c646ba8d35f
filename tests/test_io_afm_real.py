"""AFM readers against values of independent peer libraries on real files, and the fixes that
real files from other packages revealed (benchmarks/afm_readers_real.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from tmdlearn.errors import InputError
from tmdlearn.io import afm, read

# pySPM 0.6.3 on the same files (its Bruker reader, not SurfaceTopography): the first three
# pixels of its rows 0 and 511, one inner pixel and the peak-to-valley of the raw channel (nm).
# pySPM returns the first stored line first; tmdlearn (as Gwyddion) puts it last.
PYSPM = {
    "di-1.di": ("Height", (2.8431591669, 2.5499641585, 2.5712369825),
                (6.0599801112, 6.0812529351, 5.9970865447), (5, 100, 11.41240759949436),
                59.19856944692735, 500 / 512),
    "di-5.di": ("Height Sensor", (-301.8076034148, -301.7581487962, -301.6465444228),
                (-318.7303355477, -318.773787339, -318.8281310074),
                (5, 100, -297.36309075119823), 25.676464821030777, 1000 / 512),
}


@pytest.mark.parametrize("name", sorted(PYSPM))
def test_nanoscope_heights_orientation_and_pixel_match_pyspm(test_data, name):
    _, first, last, (row, col, inner), pv, pixel = PYSPM[name]
    hm = read(test_data / "afm-bruker" / name)
    np.testing.assert_allclose(hm.height_nm[-1, :3], first, rtol=1e-7)
    np.testing.assert_allclose(hm.height_nm[0, :3], last, rtol=1e-7)
    assert hm.height_nm[-1 - row, col] == pytest.approx(inner, rel=1e-7)
    assert np.ptp(hm.height_nm) == pytest.approx(pv, rel=1e-7)
    assert hm.pixel_size_nm == pytest.approx(pixel, rel=1e-9)


@pytest.mark.parametrize("path", ["afm-nanosurf-nsfopen/thermal.nid", "afm-gwyfile/test.gwy"])
def test_files_without_a_height_image_are_refused_clearly(test_data, path):
    """A Nanosurf thermal tune and a unitless Gwyddion field: no channel to list."""
    with pytest.raises(InputError, match="no image channel with a length unit"):
        read(test_data / path)


@pytest.mark.parametrize("name", ["scan.jpk", "scan.jpk-qi-image"])
def test_jpk_tiffs_go_to_the_jpk_reader(tmp_path, monkeypatch, name):
    """JPK images are TIFF files: they were read as bare TIFFs and refused for want of a
    pixel size that the JPK tags hold."""
    path = tmp_path / name
    tifffile.imwrite(path, np.zeros((4, 4), np.float32))
    calls = []
    monkeypatch.setattr(afm, "read_afm_instrument",
                        lambda *args: calls.append(args) or "read as AFM")
    assert read(path) == "read as AFM"
    assert calls == [(path, "height", None, "jpk")]


def _ascii_export(path, heights_m, width_um, height_um):
    header = (f"# Channel: Height\n# Width: {width_um} µm\n# Height: {height_um} µm\n"
              "# Value units: m\n")
    rows = "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in heights_m)
    path.write_text(header + rows, encoding="utf-8")


def test_non_square_pixels_are_resampled_along_the_slow_axis(tmp_path):
    """A Nanosurf MoS2 scan of 512 points x 256 lines over 3.97 x 3.97 µm was returned as a
    map of square 7.76 nm pixels, half its true height; now its rows are interpolated."""
    path = tmp_path / "half_lines.txt"
    _ascii_export(path, np.repeat(np.arange(4.0)[:, None], 8, axis=1) * 1e-9, 1.0, 1.0)
    hm = read(path)
    assert hm.shape == (8, 8) and hm.pixel_size_nm == pytest.approx(125.0)
    assert hm.scan_size_nm == pytest.approx((1000.0, 1000.0))
    assert hm.metadata["resampled_rows"] == {"rows": 4, "pixel_size_y_nm": pytest.approx(250.0)}
    expected = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)  # row centres in old rows
    np.testing.assert_allclose(hm.height_nm[:, 0], expected, atol=1e-6)
    given = read(path, pixel_size_nm=125.0)  # the caller's square pixel: kept as stored
    assert given.shape == (4, 8) and "resampled_rows" not in given.metadata


def test_square_rows_more_lines_than_points():
    """Rows closer than the pixels along a line are merged to the line pixel size."""
    values = np.arange(8.0)[:, None] * np.ones((1, 4))
    out = afm.square_rows(values, pixel_x_nm=2.0, pixel_y_nm=1.0)
    np.testing.assert_allclose(out[:, 0], [0.5, 2.5, 4.5, 6.5])
