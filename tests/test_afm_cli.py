"""`tmdlearn afm level|features|embed` on real Bruker files and a small synthetic set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmdlearn.cli import main
from tmdlearn.io import write_height_map
from tmdlearn.synth.film import film_state, render_afm, sample_growth

BRUKER = ("di-1.di", "di-5.di")


def _run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_level_and_features_on_real_bruker_files(test_data, tmp_path):
    files = [str(test_data / "afm-bruker" / name) for name in BRUKER]
    assert _run(["afm", "level", *files, "-o", str(tmp_path)]) in (0, None)
    rms = pd.read_csv(tmp_path / "rms.csv")
    assert (rms.levelled_sq_nm < rms.raw_sq_nm).all()
    assert np.isfinite(rms[["raw_sq_nm", "levelled_sq_nm"]].to_numpy()).all()
    assert (tmp_path / "previews" / "di-1.png").stat().st_size > 1000
    assert (tmp_path / "levelled" / "di-5.npz").is_file()
    assert _run(["afm", "features", *files, "-o", str(tmp_path / "f")]) in (0, None)
    features = pd.read_csv(tmp_path / "f" / "features.csv")
    assert len(features) == 2
    assert np.isfinite(features.drop(columns="image").to_numpy(dtype=float)).all()
    assert (tmp_path / "f" / "features.md").read_text().startswith("| image |")
    threaded = tmp_path / "threaded"
    assert _run(["afm", "features", *files, "-o", str(threaded), "--set", "run.workers=2"]) in (
        0, None)
    pd.testing.assert_frame_equal(pd.read_csv(threaded / "features.csv"), features)


def test_bad_inputs_exit_2_with_one_line(test_data, tmp_path, capsys):
    assert _run(["afm", "features", str(test_data / "afm-bruker" / "di_corrupted.di"),
                 "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "di_corrupted.di" in err and "\n" not in err
    assert _run(["afm", "level", str(tmp_path / "missing.spm"), "-o", str(tmp_path)]) == 2
    assert _run(["afm", "level", str(test_data / "afm-bruker" / "di-5.di"), "-o",
                 str(tmp_path), "--set", "level.nonsense=1"]) == 2
    assert _run(["afm", "level", str(test_data / "afm-bruker" / "di-5.di"), "-o",
                 str(tmp_path), "--set", "run.workers=0"]) == 2
    assert not (tmp_path / "rms.csv").exists()


def test_embed_on_a_folder_of_synthetic_maps(tmp_path):
    folder = tmp_path / "maps"
    for i in range(5):
        rng = np.random.default_rng(i)
        hm, _ = render_afm(film_state(sample_growth(rng), "center", rng), 1.0, 128, rng)
        write_height_map(folder / f"m{i}.npz", hm)
    out = tmp_path / "out"
    code = _run(["afm", "embed", str(folder), "-o", str(out), "--set", "embed.n_boot=50",
                 "--set", "embed.size=64", "--set", "embed.device=cpu",
                 "--set", "embed.methods=[pca]"])
    assert code in (0, None)
    embedding = pd.read_csv(out / "embedding.csv")
    assert list(embedding.columns) == ["image", "pca_1", "pca_2"]
    assert len(embedding) == 5
    corr = pd.read_csv(out / "correlations.csv")
    assert set(corr.axis) == {"pca_1", "pca_2"}
    assert set(corr.feature) >= {"coverage", "sq_nm"}
    # a count and its density over scans of one size: one row naming both
    assert any("domain_density_um2" in name and " = " in name for name in corr.feature)
    for name in ("thumbnails_pca.png", "correlations_pca.png"):
        assert (out / name).stat().st_size > 1000
    assert any((out / "cache").rglob("*.npy"))


def test_features_warn_on_an_image_that_is_no_thin_film(test_data, tmp_path, capsys):
    """di-1 (Sq 7.5 nm after levelling, a ±30 nm surface) is warned about, di-5 (1.75 nm)
    not: the film features assume a few-layer film on a flat substrate."""
    files = [str(test_data / "afm-bruker" / name) for name in BRUKER]
    assert _run(["afm", "features", *files, "-o", str(tmp_path)]) in (0, None)
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: di-1.di: Sq 7.49 nm")


def _row_jump_nm(height: np.ndarray) -> float:
    """Mean |median height difference| of adjacent rows (nm): bands the levelling added."""
    return float(np.mean(np.abs(np.median(np.diff(height, axis=0), axis=1))))


def test_a_rough_surface_is_levelled_without_bands(test_data, tmp_path, capsys):
    """di-1 (a ±30 nm granular surface, no film) is levelled by row alignment and a
    quadratic surface only, said in a note: adjacent rows agree (the layer-aware refit's
    per-line fits left bands); di-5 (Sq 1.75 nm) keeps the film model
    and its Sq."""
    from tmdlearn.io import read

    files = [str(test_data / "afm-bruker" / name) for name in BRUKER]
    assert _run(["afm", "level", *files, "-o", str(tmp_path)]) in (0, None)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note")]
    assert len(notes) == 1 and notes[0].startswith("note: di-1.di: Sq 7.49 nm")
    rms = pd.read_csv(tmp_path / "rms.csv")
    assert list(rms.film_model) == [False, True]
    assert rms.levelled_sq_nm[1] == pytest.approx(1.751, abs=0.005)
    rough = read(tmp_path / "levelled" / "di-1.npz").height_nm
    assert _row_jump_nm(rough) < 0.03  # 0.013 (the film model on it: 0.10)


def test_a_corrupt_file_of_a_folder_is_named_and_the_others_are_measured(test_data, tmp_path,
                                                                        capsys):
    """A folder with a truncated .di: its error line and exit 2, the good image's features
    written (the corrupt file stopped the folder); a file named itself still stops the run."""
    folder = tmp_path / "afm"
    folder.mkdir()
    for name in ("di-5.di", "di_corrupted.di"):
        (folder / name).write_bytes((test_data / "afm-bruker" / name).read_bytes())
    assert _run(["afm", "features", str(folder), "-o", str(tmp_path / "f")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {folder / 'di_corrupted.di'}: ")
    assert list(pd.read_csv(tmp_path / "f" / "features.csv").image) == ["di-5.di"]
    assert _run(["afm", "level", str(folder / "di_corrupted.di"), "-o",
                 str(tmp_path / "l")]) == 2
    assert not (tmp_path / "l").exists()


def test_a_plain_tiff_needs_a_pixel_size_and_its_heights_are_said_to_be_assumed(tmp_path,
                                                                               capsys):
    """A height image exported as a plain TIFF (no scan size, no height unit): one error line
    naming --pixel-size, exit 2; with --pixel-size its features are those of the same heights
    in a calibrated file, and a note says the values are taken as nm."""
    import tifffile

    image, _ = render_afm(film_state(sample_growth(3), seed=4), scan_size_um=0.5, pixels=128,
                          seed=5)
    tifffile.imwrite(tmp_path / "film.tif", image.height_nm.astype(np.float32))
    write_height_map(tmp_path / "film.npz", image.with_values(
        image.height_nm.astype(np.float32).astype(float)))
    assert _run(["afm", "features", str(tmp_path / "film.tif"), "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "stores no pixel size" in err and "--pixel-size of the afm commands" in err
    assert _run(["afm", "features", str(tmp_path / "film.tif"), "-o", str(tmp_path / "b"),
                 "--pixel-size", str(image.pixel_size_nm)]) in (0, None)
    err = capsys.readouterr().err
    assert "note: film.tif: the file states no height unit: its values are taken as nm" in err
    assert _run(["afm", "features", str(tmp_path / "film.npz"), "-o", str(tmp_path / "c")]) in (
        0, None)
    assert "note" not in capsys.readouterr().err
    given = pd.read_csv(tmp_path / "b" / "features.csv").drop(columns="image")
    calibrated = pd.read_csv(tmp_path / "c" / "features.csv").drop(columns="image")
    pd.testing.assert_frame_equal(given, calibrated)


def test_a_rerun_on_fewer_images_leaves_no_stale_outputs(test_data, tmp_path):
    """`afm level` rerun into its folder on one of its two images: the other's levelled map and
    preview (recorded in run.json's outputs) are removed; a file the user put there stays."""
    import json

    files = [str(test_data / "afm-bruker" / name) for name in BRUKER]
    assert _run(["afm", "level", *files, "-o", str(tmp_path)]) in (0, None)
    outputs = json.loads((tmp_path / "run.json").read_text())["outputs"]
    assert {"levelled/di-1.npz", "previews/di-1.png", "rms.csv"} <= set(outputs)
    (tmp_path / "notes.txt").write_text("AFM session 12 May")
    assert _run(["afm", "level", files[1], "-o", str(tmp_path)]) in (0, None)
    assert not (tmp_path / "levelled" / "di-1.npz").exists()
    assert not (tmp_path / "previews" / "di-1.png").exists()
    assert (tmp_path / "levelled" / "di-5.npz").is_file()
    assert (tmp_path / "notes.txt").is_file()
    assert list(pd.read_csv(tmp_path / "rms.csv").image) == ["di-5.di"]
