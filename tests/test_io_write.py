"""Writers: every file written reads back (tmdlearn.io.read and a peer library) unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.data import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.io import read, write_height_map, write_labspec, write_stem


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("suffix", [".npz", ".gwy"])
def test_height_map_round_trip(tmp_path, rng, suffix):
    hm = HeightMap(rng.normal(0, 2, (24, 31)), 3.9, channel="height", metadata={"sample": "A1"})
    back = read(write_height_map(tmp_path / f"h{suffix}", hm))
    assert isinstance(back, HeightMap)
    assert back.shape == (24, 31)
    assert back.pixel_size_nm == pytest.approx(3.9)
    np.testing.assert_allclose(back.height_nm, hm.height_nm, atol=1e-5)
    if suffix == ".npz":
        assert back.metadata["sample"] == "A1"


def test_gwy_is_read_by_surface_topography(tmp_path, rng):
    from SurfaceTopography import open_topography

    values = rng.normal(size=(12, 20))
    write_height_map(tmp_path / "h.gwy", HeightMap(values, 2.0))
    topography = open_topography(str(tmp_path / "h.gwy")).topography()
    assert topography.unit == "m"
    assert topography.physical_sizes == pytest.approx((40e-9, 24e-9))
    np.testing.assert_allclose(topography.heights().T, values * 1e-9)


def test_npz_keys(tmp_path, rng):
    path = write_height_map(tmp_path / "h.npz", HeightMap(rng.normal(size=(4, 5)), 1.5))
    with np.load(path) as archive:
        assert archive["height_nm"].dtype == np.float32
        assert float(archive["pixel_size_nm"]) == 1.5
        assert str(archive["channel"]) == "height"


@pytest.mark.parametrize("unit, axis, excitation", [
    ("cm-1", np.linspace(80.0, 520.0, 300), 532.0),
    ("eV", np.linspace(1.45, 2.05, 200), 532.0),
    ("nm", np.linspace(560.0, 800.0, 150), 514.5),
])
def test_labspec_single_round_trip(tmp_path, rng, unit, axis, excitation):
    spectrum = Spectra(rng.random(axis.size) * 1e4, axis, unit, excitation_nm=excitation)
    header = {"Title": "flake=3 (edge)", "Comment": "20\u00b0C", "Grating": "1800 gr/mm"}
    path = write_labspec(tmp_path / "s.txt", spectrum, header)
    assert path.read_bytes().decode("latin-1").startswith("#Acq. time (s)=\t")
    back = read(path)
    assert isinstance(back, Spectra) and back.unit == unit
    assert back.excitation_nm == pytest.approx(excitation)
    np.testing.assert_allclose(back.axis, axis, rtol=1e-9)
    np.testing.assert_allclose(back.intensity, spectrum.intensity, rtol=1e-7)
    assert back.metadata["header"]["Title"] == "flake=3 (edge)"
    assert back.metadata["header"]["Comment"] == "20\u00b0C"


def test_labspec_map_round_trip(tmp_path, rng):
    cube = rng.random((3, 5, 40))
    spectral_map = SpectralMap(cube, np.linspace(150.0, 450.0, 40), "cm-1", step_um=0.25,
                               excitation_nm=633.0, origin_um=(-2.0, 10.5))
    back = read(write_labspec(tmp_path / "m.txt", spectral_map))
    assert isinstance(back, SpectralMap)
    assert back.shape == (3, 5) and back.unit == "cm-1"
    assert back.step_um == pytest.approx(0.25)
    assert back.origin_um == pytest.approx((-2.0, 10.5))
    assert back.excitation_nm == pytest.approx(633.0)
    np.testing.assert_allclose(back.intensity, cube, rtol=1e-7)


def test_labspec_series_round_trip(tmp_path, rng):
    series = Spectra(rng.random((4, 30)), np.linspace(1.6, 2.0, 30), "eV")
    back = read(write_labspec(tmp_path / "series.txt", series))
    assert isinstance(back, Spectra) and len(back) == 4 and back.unit == "eV"
    np.testing.assert_allclose(back.intensity, series.intensity, rtol=1e-7)


@pytest.mark.parametrize("suffix", [".npz", ".tif"])
def test_stem_round_trip(tmp_path, rng, suffix):
    image = StemImage(rng.random((32, 40)) * 1000, pixel_size_angstrom=0.0987)
    back = read(write_stem(tmp_path / f"img{suffix}", image))
    assert isinstance(back, StemImage)
    assert back.pixel_size_angstrom == pytest.approx(0.0987)
    np.testing.assert_allclose(back.intensity, image.intensity, rtol=1e-6)


def test_stem_tif_resolution_tags(tmp_path, rng):
    import tifffile

    write_stem(tmp_path / "img.tif", StemImage(rng.random((8, 8)), 0.5))
    with tifffile.TiffFile(tmp_path / "img.tif") as tif:
        numerator, denominator = tif.pages[0].tags["XResolution"].value
    assert numerator / denominator == pytest.approx(1e8 / 0.5)  # pixels per cm


def test_writers_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "h.npz"
    write_height_map(path, HeightMap(np.ones((3, 3)), 1.0))
    before = path.read_bytes()

    def crash(file, **arrays):
        open(file, "wb").write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        write_height_map(path, HeightMap(np.zeros((3, 3)), 1.0))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["h.npz"]
