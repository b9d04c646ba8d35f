"""tmdlearn's own readers of Gatan DigitalMicrograph (.dm3, .dm4) and Velox / Berkeley EMD
(.emd) files: written byte by byte (``dm_files``) or with h5py in the test, and the real .dm3
of ../shared/data against rosettasciio."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from dm_files import DmWriter, write_dm
from tmdlearn.cli import main
from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError, MissingPixelSize
from tmdlearn.io import read

REAL_DM3 = (Path(__file__).resolve().parents[2] / "shared" / "data" / "stem-real-tmd"
            / "example_Se_implanted_MoS2.dm3")
IMAGE = (np.arange(24 * 32).reshape(24, 32) % 251 + 1000).astype(np.uint16)


@pytest.fixture(autouse=True)
def _without_rosettasciio(monkeypatch):
    """Every test here reads without the GPL extra (``import rsciio`` fails)."""
    monkeypatch.setitem(sys.modules, "rsciio", None)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "u1", "u2", "u4", "f4", "f8"])
def test_dm_image_types_calibration_and_title(tmp_path, version, dtype):
    data = (np.arange(24 * 32).reshape(24, 32) % 100 - 50 * (dtype[0] == "i")).astype(dtype)
    w = DmWriter(version)
    path = write_dm(tmp_path / f"image.dm{version}", w.image(data, 0.01062, "nm", "HAADF 1"),
                    writer=w)
    image = read(path)
    assert isinstance(image, StemImage)
    np.testing.assert_array_equal(image.intensity, data)
    assert image.pixel_size_angstrom == pytest.approx(0.1062, rel=1e-6)
    assert image.metadata["pixel_size_source"] == "calibrated x axis: 0.01062 nm"
    assert image.metadata["format"] == f"dm{version}" and image.metadata["axis_unit"] == "nm"
    assert image.metadata["title"] == "HAADF 1" and image.metadata["high_tension_v"] == 200e3
    assert image.metadata["frames"] == 1 and "detector" not in image.metadata


@pytest.mark.parametrize("units, scale", [("\u00b5m", 1.062e-5), ("\u03bcm", 1.062e-5),
                                          ("\u00c5", 0.1062), ("pm", 10.62), ("nm", 0.01062)])
def test_dm_pixel_size_units(tmp_path, units, scale):
    w = DmWriter(4)
    image = read(write_dm(tmp_path / "a.dm4", w.image(IMAGE, scale, units), writer=w))
    assert image.pixel_size_angstrom == pytest.approx(0.1062, rel=1e-6)
    assert image.metadata["axis_unit"] == units


def test_dm_big_endian_data(tmp_path):
    w = DmWriter(3, ">")
    image = read(write_dm(tmp_path / "mac.dm3", w.image(IMAGE.astype(np.float32)), writer=w))
    np.testing.assert_array_equal(image.intensity, IMAGE)


@pytest.mark.parametrize("version", [3, 4])
def test_dm_of_several_images_the_haadf_one_is_read(tmp_path, version):
    """The thumbnail is skipped and of BF, HAADF and DF the HAADF image is read, as the
    rosettasciio path chose (stem.haadf_choice)."""
    w = DmWriter(version)
    images = [w.image(IMAGE + k, 0.01 * (k + 1), name=name)
              for k, name in enumerate(["BF", "HAADF", "DF"])]
    image = read(write_dm(tmp_path / f"three.dm{version}", *images, writer=w))
    np.testing.assert_array_equal(image.intensity, IMAGE + 1)
    assert image.pixel_size_angstrom == pytest.approx(0.2)
    assert image.metadata["detector"] == "HAADF"
    assert image.metadata["images_in_file"] == ["BF", "HAADF", "DF"]


def test_dm_stack_gives_its_first_frame(tmp_path):
    stack = np.stack([IMAGE, IMAGE + 1, IMAGE + 2])
    w = DmWriter(4)
    image = read(write_dm(tmp_path / "stack.dm4", w.image(stack), writer=w))
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.metadata["frames"] == 3


@pytest.mark.parametrize("data, kwargs, words", [
    (np.zeros((2, 16, 16), np.float32), {"data_type": 3}, "complex image (DM data type 3"),
    (np.zeros((16, 16), np.uint32), {"data_type": 23}, "colour (RGB) image (DM data type 23)"),
    (np.zeros(64, np.float32), {}, "DM image of dimensions [64] (a spectrum?)"),
    (np.zeros((64, 16), np.float32), {"units": "eV"}, "spectra or a spectrum image"),
    (np.zeros((16, 16), np.float32), {"data_type": 99}, "unknown DM image data type 99"),
    # real Gatan files of these kinds (hyperspy 1.7.2's test data, docs/io.md) were read as
    # images before: a CL spectrum image's first wavelength, a line scan's wavelength axis
    (np.zeros((4, 3, 3), np.float32), {"meta": {"Format": "Spectrum image", "Signal": "CL"}},
     "a CL spectrum image (DM Meta Data), not an image"),
    (np.zeros((67, 96), np.float32), {"axes": [(0.0934, "nm"), (0.0206, "\u00b5m")]},
     "x and y calibrated differently (0.0934 nm, 0.0206 \u00b5m per pixel)"),
    (np.zeros((16, 16), np.float32), {"units": "1/nm"},
     "calibrated in 1/nm: a diffraction pattern or Fourier transform"),
])
def test_dm_refuses_what_is_not_a_haadf_image(tmp_path, data, kwargs, words):
    w = DmWriter(3)
    path = write_dm(tmp_path / "odd.dm3", w.image(data, **kwargs), writer=w, thumbnail=False)
    with pytest.raises(InputError) as info:
        read(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


def test_dm_without_calibration_needs_a_pixel_size(tmp_path):
    w = DmWriter(3)
    path = write_dm(tmp_path / "bare.dm3", w.image(IMAGE, None), writer=w)
    with pytest.raises(MissingPixelSize):
        read(path)
    given = read(path, pixel_size_angstrom=0.2)
    assert given.pixel_size_angstrom == 0.2 and given.metadata["pixel_size_source"] == "given"


def test_dm4_skips_a_tag_of_unknown_size_dm3_refuses_it(tmp_path):
    """A string-typed tag (info 18, length): DM4 states its length, DM3 does not."""
    for version in (3, 4):
        w = DmWriter(version)
        odd = w.tag("Note", [18, 5], b"hello")
        path = write_dm(tmp_path / f"note.dm{version}", w.image(IMAGE), writer=w, extra=(odd,))
        if version == 4:
            np.testing.assert_array_equal(read(path).intensity, IMAGE)
        else:
            with pytest.raises(InputError, match=r"info words \[18, 5\]: a type of unknown"):
                read(path)


@pytest.mark.parametrize("version", [3, 4])
def test_dm_truncated_anywhere_is_a_clean_error(tmp_path, version):
    w = DmWriter(version)
    whole = w.file(w.image(IMAGE[:8, :8]))
    path = tmp_path / f"cut.dm{version}"
    ends = set()
    for size in range(0, len(whole) - 16, 7):  # DM3's 8, DM4's 16 zeros at the end aside
        path.write_bytes(whole[:size])
        with pytest.raises(InputError) as info:
            read(path)
        assert str(path) in str(info.value)
        ends.add(info.value.problem[:20])
    assert len(ends) > 3  # several checks answered, not one catch-all


@pytest.mark.parametrize("version", [3, 4])
def test_dm_declared_counts_beyond_the_file_are_refused(tmp_path, version):
    """A tag count, an info-word count and an array length near 2³² (DM4: 2⁶⁴) end in one
    line, before anything is allocated."""
    w = DmWriter(version)
    huge = 2**32 - 1 if version == 3 else 2**64 - 1
    cases = {"tags; ": w.sub("x", w.number("a", 1, "u4"), count=huge),
             "info words": w.tag("x", [7], b"", words=huge),
             "bytes of data": w.tag("Data", [20, 7, huge], b"")}
    for words, tag in cases.items():
        path = tmp_path / f"big.dm{version}"
        path.write_bytes(w.file(w.image(IMAGE), extra=(tag,)))
        with pytest.raises(InputError, match=words):
            read(path)


def test_a_file_that_is_not_dm(tmp_path):
    path = tmp_path / "noise.dm3"
    path.write_bytes(b"\0\0\0\x07" + bytes(100))
    with pytest.raises(InputError, match="not a DigitalMicrograph 3 or 4 file"):
        read(path)


def test_real_dm3_read_natively(monkeypatch):
    """The Se-implanted MoS2 .dm3 (GPL file, read in place from ../shared/data): the array
    rosettasciio reads, and the 0.0126953 nm/px its file states."""
    if not REAL_DM3.is_file():
        pytest.skip("the GPL example file is absent")
    image = read(REAL_DM3)
    assert image.shape == (1024, 1024)
    assert image.pixel_size_angstrom == pytest.approx(0.126953125, rel=1e-9)
    assert image.metadata["pixel_size_source"] == "calibrated x axis: 0.0126953 nm"
    assert image.metadata["title"] == "SI Survey Image (active)"
    assert image.metadata["high_tension_v"] == 60e3
    monkeypatch.delitem(sys.modules, "rsciio")
    digitalmicrograph = pytest.importorskip("rsciio.digitalmicrograph")
    (signal,) = digitalmicrograph.file_reader(str(REAL_DM3))
    np.testing.assert_array_equal(image.intensity, signal["data"])
    assert signal["metadata"]["General"]["title"] == image.metadata["title"]


@pytest.mark.parametrize("version", [3, 4])
def test_rosettasciio_reads_the_written_dm_files_alike(tmp_path, monkeypatch, version):
    """The files of ``dm_files`` follow the layout rosettasciio's reader also reads."""
    w = DmWriter(version)
    path = write_dm(tmp_path / f"two.dm{version}", w.image(IMAGE, 0.02, "nm", "BF"),
                    w.image(IMAGE + 1, 0.01062, "\u00b5m", "HAADF"), writer=w)
    image = read(path)
    monkeypatch.delitem(sys.modules, "rsciio")
    digitalmicrograph = pytest.importorskip("rsciio.digitalmicrograph")
    signals = digitalmicrograph.file_reader(str(path))
    assert [s["metadata"]["General"]["title"] for s in signals] == ["BF", "HAADF"]
    np.testing.assert_array_equal(signals[1]["data"], image.intensity)
    assert signals[1]["axes"][-1]["units"] == image.metadata["axis_unit"]
    assert signals[1]["axes"][-1]["scale"] * 1e4 == pytest.approx(image.pixel_size_angstrom)


def _velox_metadata(detector: str | None, pixel_m: float, index: int = 0) -> np.ndarray:
    """A Velox ``Metadata`` dataset: the JSON text NUL padded, one column per frame."""
    binary = {"PixelSize": {"width": f"{pixel_m:.6e}", "height": f"{pixel_m:.6e}"},
              "PixelUnitX": "m", "PixelUnitY": "m", "DetectorIndex": str(index)}
    if detector is not None:
        binary["Detector"] = detector
    info = {"BinaryResult": binary, "Optics": {"AccelerationVoltage": "300000"},
            "Detectors": {"Detector-0": {"DetectorName": "BF"},
                          "Detector-1": {"DetectorName": "HAADF"}}}
    text = np.frombuffer(json.dumps(info).encode(), np.uint8)
    column = np.zeros((text.size + 40, 2), np.uint8)
    column[: text.size] = text[:, None]
    return column


def _write_velox(path: Path, images: dict[str, tuple[np.ndarray, str | None, float, int]]
                 ) -> Path:
    """A Velox .emd: per image id its Data (y, x, frames), detector, pixel size (m) and
    detector index."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("Version", data=[json.dumps({"format": "Velox",
                                                           "version": 2}).encode()])
        for key, (data, detector, pixel_m, index) in images.items():
            group = handle.create_group(f"Data/Image/{key}")
            group.create_dataset("Data", data=data)
            group.create_dataset("Metadata", data=_velox_metadata(detector, pixel_m, index))
    return path


def test_velox_haadf_of_bf_and_haadf(tmp_path, capsys):
    bf, haadf = IMAGE[:, :, None], np.stack([IMAGE + 7, IMAGE], axis=-1)
    path = _write_velox(tmp_path / "velox.emd", {"a1": (bf, "BF", 2e-11, 0),
                                                 "b2": (haadf, "HAADF", 1.062e-11, 1)})
    image = read(path)
    np.testing.assert_array_equal(image.intensity, IMAGE + 7)
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    assert image.metadata["pixel_size_source"] == "calibrated x axis: 1.062e-11 m"
    assert image.metadata["detector"] == "HAADF"
    assert image.metadata["images_in_file"] == ["BF", "HAADF"]
    assert image.metadata["frames"] == 2 and image.metadata["high_tension_v"] == 300e3
    assert image.metadata["format"] == "emd"
    # inspect says which detector of which was read, the beam and the stack
    with pytest.raises(SystemExit) as exit_:
        main(["inspect", str(path)])
    assert exit_.value.code in (0, None)
    assert "beam 300 kV; detector HAADF (of BF, HAADF); first of 2 frames (stem predict " \
           "--frames mean averages them)" in \
        capsys.readouterr().out


def test_velox_detector_from_its_index(tmp_path):
    """Without ``BinaryResult/Detector`` the name comes from ``Detectors/Detector-<index>``."""
    path = _write_velox(tmp_path / "velox.emd", {"a": (IMAGE[:, :, None] + 3, None, 1e-11, 1),
                                                 "b": (IMAGE[:, :, None], None, 1e-11, 0)})
    image = read(path)
    np.testing.assert_array_equal(image.intensity, IMAGE + 3)
    assert image.metadata["images_in_file"] == ["HAADF", "BF"]


def test_velox_refusals(tmp_path):
    path = _write_velox(tmp_path / "velox.emd", {"a": (IMAGE[:, :, None], "HAADF", 1e-11, 0)})
    with h5py.File(path, "r+") as handle:
        del handle["Data/Image/a/Metadata"]
        handle["Data/Image/a/Metadata"] = np.frombuffer(b"{not json" + bytes(8), np.uint8)
    with pytest.raises(InputError, match="metadata is not JSON"):
        read(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(InputError, match="the HDF5 superblock says"):
        read(path)


def test_berkeley_emd(tmp_path):
    """NCEM's layout: a group with emd_group_type 1 holding data and dim1/dim2 (units [n_m])."""
    path = tmp_path / "berkeley.emd"
    with h5py.File(path, "w") as handle:
        handle.attrs.update(version_major=0, version_minor=2)
        for name, offset in (("BF", 5), ("HAADF", 0)):
            group = handle.create_group(f"data/{name}")
            group.attrs["emd_group_type"] = 1
            group.create_dataset("data", data=IMAGE + offset)
            for k, size in ((1, IMAGE.shape[0]), (2, IMAGE.shape[1])):
                dim = group.create_dataset(f"dim{k}", data=np.arange(size) * 0.01062)
                dim.attrs.update(name="[y]" if k == 1 else "[x]", units="[n_m]")
    image = read(path)
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    assert image.metadata["detector"] == "HAADF" and image.metadata["axis_unit"] == "nm"


def test_emd_with_neither_layout(tmp_path):
    path = tmp_path / "other.emd"
    with h5py.File(path, "w") as handle:
        handle["x"] = np.zeros((4, 4))
    with pytest.raises(InputError, match="no Velox /Data/Image and no 2-D Berkeley"):
        read(path)


def test_ser_still_needs_the_gpl_extra(tmp_path):
    path = tmp_path / "image.ser"
    path.write_bytes(struct.pack("<HHH", 0x4949, 0x0197, 0x0210) + bytes(100))
    with pytest.raises(InputError, match=r"pip install tmdlearn\[gpl\]"):
        read(path)


def test_prismatic_emd_reads_the_full_thickness_haadf(tmp_path):
    """Prismatic's simulation output (Berkeley EMD): 2-D ``realslice`` arrays stored (x, y)
    with ``dim1`` named R_x; of the annular detector's depths the last is read, the right way
    round (rosettasciio reads the real Si100_2x1x1_3D.emd of hyperspy's test data as our
    transpose does, docs/io.md)."""
    path = tmp_path / "prismatic.emd"
    with h5py.File(path, "w") as handle:
        slices = handle.create_group("4DSTEM_simulation/data/realslices")
        for k in range(2):
            group = slices.create_group(f"annular_detector_depth000{k}")
            group.attrs["emd_group_type"] = 1
            group["realslice"] = (IMAGE + k).T
            for d, (name, size) in enumerate((("R_x", IMAGE.shape[1]),
                                              ("R_y", IMAGE.shape[0])), start=1):
                dim = group.create_dataset(f"dim{d}", data=np.arange(size) * 0.025)
                dim.attrs.update(name=np.bytes_(name), units=np.bytes_("[n_m]"))
    image = read(path)
    np.testing.assert_array_equal(image.intensity, IMAGE + 1)
    assert image.pixel_size_angstrom == pytest.approx(0.25)
    assert image.metadata["detector"] == "annular_detector_depth0001"
