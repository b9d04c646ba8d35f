"""STEM readers: .npz layouts with pixel sizes in m, nm, Å or pm, TIA .ser calibrations and
the detector choice."""

from __future__ import annotations

import struct
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app, main
from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io import read, write_stem

IMAGE = (np.arange(64 * 48).reshape(64, 48) % 997 + 10_000).astype(np.uint16)


def _npz(tmp_path, name="image.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_gomb_net_layout(tmp_path):
    """The study's Moire.npz: im_array uint16 and the pixel size as a string in metres."""
    path = _npz(tmp_path, "Moire.npz", im_array=IMAGE, pixel_size=np.str_("1.062e-11"))
    image = read(path)
    assert isinstance(image, StemImage)
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.metadata["image_key"] == "im_array"
    assert "bare number read as m" in image.metadata["pixel_size_source"]


@pytest.mark.parametrize("key, value, how", [
    ("pixel_size_m", 1.062e-11, "unit from the key"),
    ("pixel_size_nm", 0.01062, "unit from the key"),
    ("pixel_size_angstrom", 0.1062, "unit from the key"),
    ("Pixel_Size_A", 0.1062, "unit from the key"),
    ("sampling_pm", 10.62, "unit from the key"),
    ("pixel_size", "0.1062 A", "unit in the value"),
    ("pixel_size", "0.1062 \u00c5", "unit in the value"),
    ("pixel_size", "10.62 pm", "unit in the value"),
    ("pixel_size", "1.062e-11 m", "unit in the value"),
    ("scale", b"0.01062nm", "unit in the value"),
    ("calibration", "1.062e-5 um", "unit in the value"),
    ("pixel_size_nm", "0.01062 nm", "unit in the value"),
    ("sampling", 0.1062, "bare number read as Å"),
    ("sampling", np.array([0.1062, 0.1062]), "bare number read as Å"),
    ("pixel_size", 1.062e-11, "bare number read as m"),
])
def test_pixel_size_units(tmp_path, key, value, how):
    path = _npz(tmp_path, data=IMAGE, **{key: value})
    image = read(path)
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    assert image.metadata["pixel_size_source"].startswith(key) and how in (
        image.metadata["pixel_size_source"])


@pytest.mark.parametrize("image_key", ["image", "haadf", "data", "intensity"])
def test_image_key_among_other_arrays(tmp_path, image_key):
    """A named image wins over point lists, label maps and scalars in the same archive."""
    path = _npz(tmp_path, **{image_key: IMAGE}, labels=np.zeros((64, 48), np.uint8),
                pts=np.ones((50, 2)), pixel_size_nm=0.01062, note=np.str_("x"))
    image = read(path)
    assert image.metadata["image_key"] == image_key
    np.testing.assert_array_equal(image.intensity, IMAGE)


def test_tmdlearn_layout_round_trip(tmp_path):
    written = StemImage(IMAGE.astype(float), 0.0837, metadata={"dose": 300})
    image = read(write_stem(tmp_path / "own.npz", written))
    assert image.pixel_size_angstrom == pytest.approx(0.0837)
    assert image.metadata["dose"] == 300 and image.metadata["image_key"] == "intensity"
    np.testing.assert_allclose(image.intensity, IMAGE)


def test_given_pixel_size_overrides_the_file(tmp_path):
    path = _npz(tmp_path, im_array=IMAGE, pixel_size=np.str_("1.062e-11"))
    image = read(path, modality="stem", pixel_size_angstrom=0.2)
    assert image.pixel_size_angstrom == 0.2 and image.metadata["pixel_size_source"] == "given"
    # the file's own stays in the metadata, so that it can be said without reading it again
    assert image.metadata["file_pixel_size_angstrom"] == pytest.approx(0.1062)
    tif = write_stem(tmp_path / "own.tif", StemImage(IMAGE.astype(float), 0.0837))
    assert read(tif, pixel_size_angstrom=0.1).metadata["file_pixel_size_angstrom"] == \
        pytest.approx(0.0837)
    # a pixel size key the given one replaces need not be readable
    bad = _npz(tmp_path, im_array=IMAGE, pixel_size=np.str_("0.1 furlong"))
    assert "file_pixel_size_angstrom" not in read(bad, pixel_size_angstrom=0.2).metadata


@pytest.mark.parametrize("arrays, message", [
    ({"a": IMAGE, "b": IMAGE, "pixel_size": 1e-11}, r"2 2-D arrays and none named.*a 64x48"),
    ({"im_array": IMAGE, "pixel_size": "0.1 furlong"}, "unknown length unit 'furlong'"),
    ({"im_array": IMAGE, "pixel_size": "about 0.1 A"}, "not a number"),
    ({"im_array": IMAGE, "pixel_size": 7.0}, r"read as Å is 7 Å, outside 0.005-5 Å"),
    ({"im_array": IMAGE, "pixel_size": 3e-9}, r"read as m is 30 Å"),
    ({"im_array": IMAGE, "pixel_size": -1e-11}, "must be positive"),
    ({"im_array": IMAGE, "sampling": np.array([0.1, 0.2])}, "not square"),
    ({"im_array": IMAGE, "pixel_size_nm": "0.1 A"}, "contradicts"),
    ({"im_array": IMAGE, "pixel_size_nm": 0.01, "pixel_size_angstrom": 0.2}, "disagree"),
    ({"pts": np.ones((50, 2)), "pixel_size": 1e-11}, "no 2-D numeric image"),
])
def test_refusals_name_the_file_and_keys(tmp_path, arrays, message):
    path = _npz(tmp_path, "bad.npz", **arrays)
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert "bad.npz" in str(info.value) and "keys" in str(info.value) or "disagree" in message


def test_no_pixel_size(tmp_path):
    path = _npz(tmp_path, image=IMAGE)
    with pytest.raises(InputError, match="not an instrument file"):
        read(path)
    with pytest.raises(InputError, match=r"states no pixel size \(keys: image 64x48\)"):
        read(path, modality="stem")
    assert read(path, pixel_size_angstrom=0.1).shape == (64, 48)


def test_afm_sized_pixel_is_not_read_as_stem(tmp_path):
    path = _npz(tmp_path, data=IMAGE, pixel_size_nm=2.0)
    with pytest.raises(InputError, match="not an instrument file"):
        read(path)


def test_real_npz_without_pixel_size(shared_data):
    """motif-learn's MoSe2 archive: `image` beside the `pts` point list, no pixel size."""
    path = shared_data / "stem-real-tmd" / "dataset_mose2_40KeV_converted.npz"
    image = read(path, modality="stem", pixel_size_angstrom=0.135)
    assert image.shape == (500, 580) and image.metadata["image_key"] == "image"


def test_inspect_states_pixel_size_and_source(tmp_path, capsys):
    path = _npz(tmp_path, "Moire.npz", im_array=IMAGE, pixel_size=np.str_("1.062e-11"))
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "STEM image (array 'im_array')" in result.output
    assert ("pixel size 0.1062 Å (from pixel_size='1.062e-11', bare number read as m)"
            in result.output)
    bad = _npz(tmp_path, "two.npz", a=IMAGE, b=IMAGE, pixel_size=1e-11)
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(bad)])
    assert info.value.code == 2 and "none named as the image" in capsys.readouterr().err


def _fake_rsciio_file(tmp_path, monkeypatch, signals):
    """A TIA .ser path whose reading rosettasciio (stood in for) answers with ``signals``."""
    fake = types.ModuleType("rsciio")
    fake.tia = types.SimpleNamespace(file_reader=lambda name: signals)
    monkeypatch.setitem(sys.modules, "rsciio", fake)
    path = tmp_path / "image.ser"
    path.write_bytes(struct.pack("<HHH", 0x4949, 0x0197, 0x0210) + b"\0" * 100)
    return path


@pytest.mark.parametrize("unit, scale", [("nm", 0.01062), ("\u00c5", 0.1062), ("A", 0.1062),
                                         ("pm", 10.62), ("\u00b5m", 1.062e-5),
                                         ("\u03bcm", 1.062e-5)])
def test_gpl_calibrated_axis_units(tmp_path, monkeypatch, unit, scale):
    """The rosettasciio (.ser) path converts the x axis scale from its unit (rsciio stood
    in for)."""
    signal = {"data": IMAGE, "axes": [{"scale": scale, "units": unit}] * 2}
    image = read(_fake_rsciio_file(tmp_path, monkeypatch, [signal]))
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    assert image.metadata["pixel_size_source"].endswith(unit)


@pytest.mark.parametrize("titles, picked", [(["BF", "DF4", "HAADF"], 2), (["ABF", "DF2"], 1),
                                            (["BF", "Camera"], 1), (["iDPC", "HAADF"], 1),
                                            (["A", "B"], 0)])
def test_of_several_images_the_haadf_one_is_read(tmp_path, monkeypatch, titles, picked):
    """A file with simultaneous detectors: HAADF, else ADF, else DF, else the first image
    that is not bright field (the .ser path, rsciio stood in for; the DM and EMD readers
    choose with the same stem.haadf_choice)."""
    signals = [{"data": IMAGE + k, "axes": [{"scale": 0.01062, "units": "nm"}] * 2,
                "metadata": {"General": {"title": title}}} for k, title in enumerate(titles)]
    image = read(_fake_rsciio_file(tmp_path, monkeypatch, signals))
    np.testing.assert_array_equal(image.intensity, IMAGE + picked)
    assert image.metadata["detector"] == titles[picked]
    assert image.metadata["images_in_file"] == titles


def test_ser_series_gives_its_first_frame_spectra_are_refused(tmp_path, monkeypatch):
    """A TIA preview series (frames, y, x) gives its first frame, as DM and Velox stacks do;
    spectra, line scans and spectrum images (an energy axis) and diffraction patterns (TIA's
    1/m calibration read as a length: 1e18 Å) are refused, not read as images. The real
    files of these kinds in hyperspy 1.7.2's test data were refused as "no 2-D image" or read
    at 1e18 Å per pixel before (docs/io.md)."""
    pixel = {"scale": 0.3844, "units": "nm"}
    series = {"data": np.stack([IMAGE, IMAGE + 1]), "axes": [{"scale": 1}, pixel, pixel]}
    image = read(_fake_rsciio_file(tmp_path, monkeypatch, [series]))
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.metadata["frames"] == 2 and image.pixel_size_angstrom == pytest.approx(3.844)
    energy = {"scale": 5, "units": "eV"}
    for signal, words in (
            ({"data": np.ones((5, 5, 400)), "axes": [pixel, pixel, energy]}, "no image"),
            ({"data": np.ones((5, 400)), "axes": [pixel, energy]}, "no image"),
            ({"data": IMAGE, "axes": [{"scale": 1.0e8, "units": "m"}] * 2},
             r"pixel size 1e\+18 Å is beyond any microscope image's"),
            ({"data": IMAGE, "axes": [{"scale": 0.2, "units": "1 / nm"}] * 2},
             "calibrated in 1 / nm: a diffraction pattern")):
        with pytest.raises(InputError, match=words):
            read(_fake_rsciio_file(tmp_path, monkeypatch, [signal]))


@pytest.mark.parametrize("unit, scale, angstrom", [("nm", 0.01062, 0.1062),
                                                   ("\u00b5m", 0.16867, 1686.7)])
def test_tiff_exported_by_digitalmicrograph(tmp_path, unit, scale, angstrom):
    """A TIFF saved by Gatan DigitalMicrograph states its calibration in private tags (65009
    x scale, 65003 its unit; the real one in hyperspy's test data: 0.16867 µm, as its .dm3);
    an inverse-length unit is a diffraction pattern's and is refused."""
    import tifffile

    path = tmp_path / "dm.tif"
    text = unit.encode("latin-1")  # DM writes µ as one byte, which tifffile reads back
    tags = [(65003, "s", 0, text, False), (65004, "s", 0, text, False),
            (65009, "d", 1, scale, False), (65010, "d", 1, scale, False)]
    tifffile.imwrite(path, IMAGE, extratags=tags)
    image = read(path)
    assert image.pixel_size_angstrom == pytest.approx(angstrom, rel=1e-4)
    assert image.metadata["pixel_size_source"].startswith("DigitalMicrograph TIFF tags")
    tifffile.imwrite(path, IMAGE, extratags=[(65003, "s", 0, "1/nm", False),
                                             (65009, "d", 1, 0.2, False)])
    with pytest.raises(InputError, match="calibrated in 1/nm"):
        read(path)


def _write_ser(path, image, delta_m):
    """A one-image TIA .ser file (series version 0x0210, one dimension of one element): the
    header, its dimension array, the data and tag offset arrays, the 2-D element (x and y
    calibrations in m, data type 2 = uint16, rows stored bottom row first) and its time tag."""
    ny, nx = image.shape
    dimension = struct.pack("<iddii", 1, 0.0, 1.0, 0, 6) + b"Number" + struct.pack("<i", 0)
    offsets_at = 30 + len(dimension)
    element = struct.pack("<ddiddihii", 0.0, delta_m, 0, 0.0, delta_m, 0, 2, nx, ny)
    element += np.ascontiguousarray(image[::-1], "<u2").tobytes()
    data_at = offsets_at + 8
    header = struct.pack("<HHHiiiiii", 0x4949, 0x0197, 0x0210, 0x4122, 0x4152, 1, 1,
                         offsets_at, 1)
    path.write_bytes(header + dimension + struct.pack("<ii", data_at, data_at + len(element))
                     + element + struct.pack("<hhi", 0x4152, 0, 0))
    return path


def test_tia_ser_image_and_calibration(tmp_path):
    """A TIA .ser file (FEI / Thermo Fisher microscopes) read through rosettasciio: the image
    the right way up and its x calibration (1.062e-11 m) as the pixel size."""
    pytest.importorskip("rsciio")
    image = np.arange(48 * 64, dtype=np.uint16).reshape(48, 64)
    stem = read(_write_ser(tmp_path / "haadf_1.ser", image, 1.062e-11))
    np.testing.assert_array_equal(stem.intensity, image)
    assert stem.pixel_size_angstrom == pytest.approx(0.1062)
    assert stem.metadata["format"] == "ser"


def test_a_ser_file_without_a_tia_header_is_refused(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "noise.ser"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="not a TIA .ser file") as info:
        read(path)
    assert str(path) in str(info.value)


def test_real_dm3_calibration(shared_data):
    """The Se-implanted MoS2 .dm3 states 0.0126953125 nm per pixel (GPL file, read in place)."""
    path = shared_data / "stem-real-tmd" / "example_Se_implanted_MoS2.dm3"
    if not path.is_file():
        pytest.skip("the GPL example file is absent")
    image = read(path)
    assert image.shape == (1024, 1024)
    assert image.pixel_size_angstrom == pytest.approx(0.126953125, rel=1e-9)
    assert image.metadata["pixel_size_source"] == "calibrated x axis: 0.0126953 nm"
