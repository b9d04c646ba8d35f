"""Nion Swift files (.nhdf / Swift .h5, .ndata1): image, pixel size from the calibrations,
sequences, refusals, a truncated file on the command line (the mutation fuzz of
test_io_bad_input covers both layouts)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cli_checks import inspect_fails_in_one_line
from nion_files import properties, write_ndata, write_nhdf
from tmdlearn.data import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io import read

IMAGE = np.random.default_rng(0).poisson(50, (48, 64)).astype(np.uint16)


@pytest.mark.parametrize("name, write", [("a.nhdf", write_nhdf), ("swift.h5", write_nhdf),
                                          ("a.ndata1", write_ndata), ("a.ndata", write_ndata)])
def test_an_image_with_its_calibrated_pixel_size(tmp_path, name, write):
    path = write(tmp_path / name, IMAGE, properties(IMAGE.shape))
    image = read(path)
    assert isinstance(image, StemImage)
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.pixel_size_angstrom == pytest.approx(0.1062)
    assert image.metadata["format"] == "nion" and image.metadata["high_tension_v"] == 60000.0
    assert image.metadata["pixel_size_source"] == "calibrated x axis: 0.01062 nm"


def test_older_files_keep_spatial_calibrations_under_data_source(tmp_path):
    props = properties(IMAGE.shape, scales=(12.5, 12.5), units="pm")
    props = {"data_source": {"spatial_calibrations": props.pop("dimensional_calibrations")}}
    image = read(write_ndata(tmp_path / "old.ndata", IMAGE, props))
    assert image.pixel_size_angstrom == pytest.approx(0.125)


def test_a_sequence_gives_its_first_frame(tmp_path):
    frames = np.stack([IMAGE, IMAGE + 1, IMAGE + 2])
    image = read(write_nhdf(tmp_path / "seq.nhdf", frames, properties(frames.shape, sequence=True)))
    np.testing.assert_array_equal(image.intensity, IMAGE)
    assert image.metadata["frames"] == 3 and image.pixel_size_angstrom == pytest.approx(0.1062)


def test_a_given_pixel_size_wins_and_an_uncalibrated_file_needs_one(tmp_path):
    path = write_nhdf(tmp_path / "raw.nhdf", IMAGE, properties(IMAGE.shape, units=""))
    with pytest.raises(InputError, match="stores no pixel size") as info:
        read(path)
    assert str(path) in str(info.value)
    image = read(path, pixel_size_angstrom=0.2)
    assert image.pixel_size_angstrom == 0.2 and image.metadata["pixel_size_source"] == "given"


@pytest.mark.parametrize("data, props, match", [
    (np.zeros((8, 8, 100)), {"is_sequence": False}, "not one 2-D image"),
    (np.zeros((4, 4, 8, 8)), {"is_sequence": False}, "not one 2-D image"),
    (np.zeros((16, 100)), {"datum_dimension_count": 1, "collection_dimension_count": 1},
     "not one 2-D image"),
    (IMAGE, properties(IMAGE.shape, scales=(0.02, 0.01)), "non-square pixels"),
    (IMAGE, [1, 2], "not a JSON object"),
])
def test_what_is_not_one_image_is_refused(tmp_path, data, props, match):
    path = write_ndata(tmp_path / "bad.ndata1", data, props)
    with pytest.raises(InputError, match=match) as info:
        read(path)
    assert str(path) in str(info.value)


def test_an_hdf5_file_of_another_layout_is_not_taken_for_nion(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("data").create_dataset("x", data=IMAGE)  # no properties
    with pytest.raises(InputError) as info:
        read(path)
    assert "Nion" not in str(info.value)


def test_a_dataset_declaring_more_than_it_can_hold_is_refused_unread(tmp_path):
    """A compressed dataset of 10^5 x 10^5 float64 (80 GB) in a small file: refused from its
    declared shape before anything is allocated."""
    path = tmp_path / "huge.nhdf"
    with h5py.File(path, "w") as handle:
        dataset = handle.create_group("data").create_dataset(
            "k", shape=(100_000, 100_000), dtype="f8", chunks=(64, 64), compression="gzip")
        dataset.attrs["properties"] = json.dumps(properties((100_000, 100_000)))
    with pytest.raises(InputError, match="declares shape") as info:
        read(path)
    assert str(path) in str(info.value)


def test_cli_truncated_file_is_one_line_and_exit_2(tmp_path, capsys):
    good = write_nhdf(tmp_path / "good.nhdf", IMAGE, properties(IMAGE.shape))
    cut = tmp_path / "cut.nhdf"
    cut.write_bytes(good.read_bytes()[:2000])
    inspect_fails_in_one_line(cut, capsys)
