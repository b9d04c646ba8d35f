"""AFM image stacks: `tmdlearn convert` writes a folder or a file of AFM images as a zarr
height stack (one image per chunk, names, pixel sizes and provenance in its attributes); the
afm commands read a stack's images on the workers and give the same tables as the files.
STEM frames (``--modality stem``) the same way, as a frame stack."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import zarr

from tmdlearn import __version__
from tmdlearn.cli import main
from tmdlearn.data import HeightMap, StemImage
from tmdlearn.engine.convert import convert_to_store
from tmdlearn.engine.imagestack import STEM, open_image_stack
from tmdlearn.errors import InputError
from tmdlearn.io import read, write_height_map, write_stem
from tmdlearn.io.digest import sha256
from tmdlearn.synth.film import film_state, render_afm, sample_growth


def _run(argv) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code or 0


@pytest.fixture(scope="module")
def afm_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    for i in range(4):
        rng = np.random.default_rng(i)
        hm, _ = render_afm(film_state(sample_growth(rng), "center", rng), 1.0 + i / 4, 64, rng)
        write_height_map(folder / f"m{i}.npz", hm)
    return folder


@pytest.fixture(scope="module")
def stack(afm_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("stack") / "stack.zarr"
    assert _run(["convert", str(afm_folder), str(out), "--modality", "afm"]) == 0
    return out


def test_a_folder_of_afm_images_becomes_a_height_stack(afm_folder, stack):
    files = sorted(afm_folder.glob("*.npz"))
    handle = open_image_stack(stack)
    assert handle.names == [f.name for f in files] and handle.shape == (4, 64, 64)
    assert zarr.open_array(stack / "height").chunks == (1, 64, 64)
    attrs = handle.attrs
    assert attrs["kind"] == "height_stack" and attrs["unit"] == "nm"
    assert attrs["provenance"]["tmdlearn"] == __version__
    assert attrs["provenance"]["sources"] == [
        {"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
    for i, file in enumerate(files):
        original, back = read(file, modality="afm"), handle.read(i)
        assert isinstance(back, HeightMap) and back.pixel_size_nm == original.pixel_size_nm
        np.testing.assert_array_equal(back.height_nm, original.height_nm)
    assert handle.pixel_size_nm == [1000 * (1 + i / 4) / 64 for i in range(4)]  # 1-1.75 µm
    assert not list(stack.parent.glob(".*tmp*"))  # written under a temporary name, renamed
    # the lazy image travels as (store, index), not as its pixels, even once read
    image = handle.image(2)
    np.testing.assert_array_equal(image.height_nm, handle.read(2).height_nm)
    assert len(pickle.dumps(image)) < 2000 < image.height_nm.nbytes
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(image)).height_nm, image.height_nm)
    # a stack given as INPUT is copied an image at a time, its provenance extended
    copy = convert_to_store(stack, stack.parent / "copy.zarr")
    assert copy.names == handle.names and copy.pixel_size_nm == handle.pixel_size_nm
    assert len(copy.attrs["provenance"]["sources"]) == 5
    np.testing.assert_array_equal(copy.read(3).height_nm, handle.read(3).height_nm)


def test_instrument_files_are_found_without_modality_and_a_file_is_a_stack_of_one(
        test_data, tmp_path):
    folder = tmp_path / "bruker"
    folder.mkdir()
    for name in ("di-1.di", "di-5.di"):
        shutil.copy(test_data / "afm-bruker" / name, folder / name)
    assert _run(["convert", str(folder), str(tmp_path / "di.zarr")]) == 0
    handle = open_image_stack(tmp_path / "di.zarr")
    assert handle.names == ["di-1.di", "di-5.di"] and handle.shape == (2, 512, 512)
    assert handle.pixel_size_nm == pytest.approx([0.9765625, 1.953125])
    one = tmp_path / "one.zarr"
    assert _run(["convert", str(folder / "di-5.di"), str(one)]) == 0
    np.testing.assert_array_equal(open_image_stack(one).read(0).height_nm,
                                  read(folder / "di-5.di").height_nm)


def test_images_of_different_shapes_are_refused_naming_the_odd_file(afm_folder, tmp_path,
                                                                    capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(afm_folder, folder)
    write_height_map(folder / "m2.npz", HeightMap(np.zeros((32, 48)), 1.0))
    out = tmp_path / "mixed.zarr"
    assert _run(["convert", str(folder), str(out), "--modality", "afm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert "m2.npz is 32 x 48 px but m0.npz is 64 x 64" in err
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_the_afm_commands_give_the_same_tables_from_a_stack(afm_folder, stack, tmp_path):
    for stage, table in (("level", "rms.csv"), ("features", "features.csv")):
        for name, source in (("files", afm_folder), ("store", stack)):
            assert _run(["afm", stage, str(source), "-o", str(tmp_path / name / stage),
                         "--scheduler", "threads", "--workers", "2"]) == 0
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "store" / stage / table),
                                      pd.read_csv(tmp_path / "files" / stage / table),
                                      rtol=1e-9, atol=1e-9)
    assert (tmp_path / "store" / "level" / "levelled" / "m3.npz").is_file()


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_a_stack_gives_the_same_features_on_two_processes(afm_folder, stack, tmp_path):
    processes = ["--scheduler", "processes", "--workers", "2"]
    assert _run(["afm", "features", str(afm_folder), "-o", str(tmp_path / "files"),
                 "--scheduler", "threads"]) == 0
    assert _run(["afm", "features", str(stack), "-o", str(tmp_path / "store"), *processes]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "store" / "features.csv"),
                                  pd.read_csv(tmp_path / "files" / "features.csv"),
                                  rtol=1e-9, atol=1e-9)


def test_bad_stacks_are_named_in_one_line(stack, tmp_path, capsys):
    with pytest.raises(InputError, match="AFM image stack") as caught:
        read(stack)
    assert caught.value.path == stack
    no_height = zarr.open_group(tmp_path / "no-height.zarr", mode="w")
    no_height.attrs.update(kind="height_stack", pixel_size_nm=[1.0])
    no_sizes = zarr.open_group(tmp_path / "no-sizes.zarr", mode="w")
    no_sizes.create_array("height", shape=(2, 8, 8), dtype="float64")
    no_sizes.attrs.update(kind="height_stack")
    for name, message in (("no-height.zarr", "no 'height' array"),
                          ("no-sizes.zarr", "'pixel_size_nm' attribute per image (2")):
        assert _run(["afm", "features", str(tmp_path / name), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert name in err and message in err and "\n" not in err
    assert not (tmp_path / "out" / "features.csv").exists()


@pytest.fixture(scope="module")
def stem_folder(tmp_path_factory):
    """Three simulated 64 x 64 HAADF frames (``tmdlearn stem simulate --tif``)."""
    sim = tmp_path_factory.mktemp("sim")
    assert _run(["stem", "simulate", "--out", str(sim / "run"), "--n-train", "0", "--n-val",
                 "0", "--n-test", "3", "--size", "64", "--tif", "3"]) == 0
    folder = sim / "frames"
    folder.mkdir()
    for k in range(3):
        shutil.copy(sim / "run" / f"test_{k}.tif", folder / f"frame{k}.tif")
    return folder


def test_a_folder_of_stem_frames_becomes_a_frame_stack(stem_folder, tmp_path, capsys):
    files = sorted(stem_folder.glob("*.tif"))
    out = tmp_path / "frames.zarr"
    assert _run(["convert", str(stem_folder), str(out), "--modality", "stem"]) == 0
    assert "stem_stack, 3 images of 64 x 64 px" in capsys.readouterr().out
    stack = open_image_stack(out, STEM)
    assert stack.names == [f.name for f in files] and stack.shape == (3, 64, 64)
    assert zarr.open_array(out / "intensity").chunks == (1, 64, 64)
    attrs = stack.attrs
    assert attrs["kind"] == "stem_stack" and attrs["provenance"]["tmdlearn"] == __version__
    assert attrs["provenance"]["sources"] == [
        {"path": str(f.resolve()), "sha256": sha256(f)} for f in files]
    for i, file in enumerate(files):
        original, back = read(file, modality="stem"), stack.read(i)
        assert isinstance(back, StemImage) and back.pixel_size_angstrom == pytest.approx(
            original.pixel_size_angstrom, rel=1e-12) and back.pixel_size_angstrom != 1.0
        np.testing.assert_array_equal(back.intensity, original.intensity)
    assert stack.pixel_size_angstrom == attrs["pixel_size_angstrom"]
    with pytest.raises(AttributeError, match="pixel_size_nm"):
        stack.pixel_size_nm  # noqa: B018 - a STEM stack has no nm pixel sizes
    # a frame travels as (store, index) and names itself store/frame
    frame = stack.image(1)
    assert len(pickle.dumps(frame)) < 2000 < frame.intensity.nbytes
    again = pickle.loads(pickle.dumps(frame))
    assert again.source == out / "frame1.tif" and again.shape == (64, 64)
    np.testing.assert_array_equal(again.intensity, stack.read(1).intensity)
    # a single file, and a store given as input (copied, provenance extended)
    assert _run(["convert", str(files[2]), str(tmp_path / "one.zarr"), "--modality",
                 "stem"]) == 0
    np.testing.assert_array_equal(open_image_stack(tmp_path / "one.zarr", STEM).read(0)
                                  .intensity, stack.read(2).intensity)
    copy = convert_to_store(out, tmp_path / "copy.zarr")
    assert copy.kind is STEM and len(copy.attrs["provenance"]["sources"]) == 4
    # an AFM command refuses a frame store, a frame store is no map
    with pytest.raises(InputError, match="a store of STEM frames, not of AFM images"):
        open_image_stack(out)
    with pytest.raises(InputError, match="STEM frame stack"):
        read(out)


def test_stem_frames_of_different_shapes_are_refused_naming_the_odd_file(stem_folder,
                                                                         tmp_path, capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(stem_folder, folder)
    write_stem(folder / "frame1.tif", StemImage(np.ones((48, 64)), 0.1))
    out = tmp_path / "mixed.zarr"
    assert _run(["convert", str(folder), str(out), "--modality", "stem"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert "frame1.tif is 48 x 64 px but frame0.tif is 64 x 64" in err
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_bad_frame_stores_are_named_in_one_line(tmp_path, capsys):
    no_intensity = zarr.open_group(tmp_path / "no-intensity.zarr", mode="w")
    no_intensity.attrs.update(kind="stem_stack", pixel_size_angstrom=[0.1])
    no_sizes = zarr.open_group(tmp_path / "no-sizes.zarr", mode="w")
    no_sizes.create_array("intensity", shape=(2, 64, 64), dtype="float64")
    no_sizes.attrs.update(kind="stem_stack")
    for name, message in (("no-intensity.zarr", "no 'intensity' array"),
                          ("no-sizes.zarr", "'pixel_size_angstrom' attribute per image (2")):
        assert _run(["stem", "predict", str(tmp_path / name), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert name in err and message in err and "\n" not in err
    assert not (tmp_path / "out" / "summary.csv").exists()
