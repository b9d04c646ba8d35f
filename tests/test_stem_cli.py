"""`tmdlearn stem train / predict / simulate` end to end with a tiny model, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch

from tmdlearn.cli import main
from tmdlearn.data.containers import StemImage
from tmdlearn.io import write_stem
from tmdlearn.io.digest import sha256
from tmdlearn.models.store import read_model
from tmdlearn.report.outdir import is_run_folder
from tmdlearn.stem.atoms import other_layer_angstrom
from tmdlearn.stem.inference import shipped_model_path
from tmdlearn.synth.stem import StemSimConfig, simulate_image

TINY = ["data.size_px=32", "model.depth=2", "model.filters=4", "train.steps=2",
        "train.eval_every=2", "train.val_images=1", "train.batch_size=2", "threads=1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    args = ["stem", "train", "--out", str(out)]
    for item in TINY:
        args += ["--set", item]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code in (0, None)
    return out


def test_train_writes_model_and_resumes(tiny_run):
    history = pd.read_csv(tiny_run / "history.csv")
    assert history.step.tolist() == [2]
    assert {"pixel_accuracy", "mean_iou", "precision_layer0", "recall_layer1"} <= set(history)
    args = ["stem", "train", "--out", str(tiny_run), "--resume"]
    for item in [*TINY[:-4], "train.steps=4", "train.eval_every=2", "train.val_images=1",
                 "train.batch_size=2"]:
        args += ["--set", item]
    with pytest.raises(SystemExit):
        main(args)
    assert pd.read_csv(tiny_run / "history.csv").step.tolist() == [2, 4]
    payload, card, _ = read_model(tiny_run / "model")
    assert card["workflow"] == "stem" and card["material"] == "graphene"
    assert payload["meta"]["species"] == ["C"] and payload["unet"]["branches"] == 2
    models = json.loads((tiny_run / "run.json").read_text())["models"]
    assert [(m["path"], m["role"]) for m in models] == [("model", "saved"),
                                                        ("checkpoint", "saved")]
    assert models[0]["sha256"] == card["files"]["weights.safetensors"]


def _train(out, *items, flags=()):
    args = ["stem", "train", "--out", str(out), *flags]
    for item in [*TINY, *items]:
        args += ["--set", item]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return exit_.value.code


def test_interrupted_training_is_refused_without_resume_and_continued_with_it(
        tiny_run, tmp_path, capsys):
    out = tmp_path / "interrupted"  # what a killed training leaves: all but run.json
    shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns("run.json"))
    steps = f"train.steps={pd.read_csv(out / 'history.csv').step.iloc[-1]}"  # nothing to train
    assert _train(out, steps) == 2
    err = capsys.readouterr().err
    assert "unfinished training (its checkpoint/" in err and "pass --resume" in err
    assert not (out / "run.json").exists()
    assert _train(out, steps, flags=["--resume"]) in (0, None)
    assert is_run_folder(out)
    assert pd.read_csv(out / "history.csv").equals(pd.read_csv(tiny_run / "history.csv"))


def test_warm_start_continues_from_the_init_weights(tiny_run, tmp_path, capsys):
    init, _, _ = read_model(tiny_run / "model")
    assert _train(tmp_path / "warm", f"init={tiny_run / 'model'}", "train.lr=1e-12") in (0, None)
    warm, _, _ = read_model(tmp_path / "warm" / "model")
    fresh = init["state_dict"]["encoder.blocks.0.0.weight"]
    torch.testing.assert_close(warm["state_dict"]["encoder.blocks.0.0.weight"], fresh)
    # the CPU time of the init model's training is carried over
    before = pd.read_csv(tiny_run / "history.csv").cpu_minutes.iloc[0]
    assert pd.read_csv(tmp_path / "warm" / "history.csv").cpu_minutes.iloc[-1] >= before > 0
    assert _train(tmp_path / "bad", f"init={tmp_path / 'missing.pt'}") == 2
    assert "init model not found" in capsys.readouterr().err


def _predict(tiny_run, target, out, *extra):
    """Exit code of `tmdlearn stem predict TARGET --out OUT` with the tiny model."""
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(target), "--out", str(out), "--model",
              str(tiny_run / "model"), *extra])
    return exit_.value.code


def test_predict_writes_atoms_masks_overlay(tiny_run, tmp_path, capsys):
    sample = simulate_image(StemSimConfig(size_px=96), seed=0)
    path = write_stem(tmp_path / "img.tif", StemImage(sample.image, sample.pixel_size_angstrom))
    out = tmp_path / "pred"
    assert _predict(tiny_run, path, out) in (0, None)
    atoms = pd.read_csv(out / "atoms.csv")
    assert list(atoms.columns[:4]) == ["x_px", "y_px", "layer", "species"]
    masks = np.load(out / "masks.npz")["masks"]
    assert masks.shape == (2, 1, 96, 96)
    assert (out / "overlay.png").stat().st_size > 1000
    [entry] = json.loads((out / "run.json").read_text())["models"]
    assert entry["path"] == str((tiny_run / "model").resolve()) and entry["role"] == "loaded"
    assert entry["sha256"] == sha256(tiny_run / "model" / "weights.safetensors")


def test_predict_with_the_shipped_ws2_model(tmp_path, capsys):
    """`stem predict --material ws2` at 0.1 Å/px (the model works at 0.15 Å/px)."""
    cfg = StemSimConfig(material="ws2", size_px=160, pixel_size_angstrom=0.1,
                        magnification_jitter=0.0, microscope={"dose": (1000.0, 1000.0)},
                        z_exponent=(1.45, 1.8), metal_z_exponent=(1.2, 1.45),
                        atom_sigma_angstrom=(0.08, 0.18), amorphous_coverage=(0.0, 0.0),
                        contamination=(0.0, 0.1), se_scenario="layer", se_fraction=(0.5, 0.5))
    sample = simulate_image(cfg, seed=2)
    path = tmp_path / "ws2.npy"
    np.save(path, sample.image)
    out = tmp_path / "pred"
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(path), "--pixel-size", "0.1", "--material", "ws2",
              "--out", str(out)])
    assert exit_.value.code in (0, None)
    atoms = pd.read_csv(out / "atoms.csv")
    assert list(atoms.columns[:4]) == ["x_px", "y_px", "layer", "species"]
    assert set(atoms.species) == {"W", "S2", "SSe", "Se2"} and set(atoms.layer) == {0, 1}
    np.testing.assert_allclose(atoms.other_layer_angstrom,
                               other_layer_angstrom(atoms, 0.1), atol=6e-4)  # 3 decimals
    # as many columns as planted (the truth counts those whose centre is in the image)
    assert abs(len(atoms) / len(sample.atoms) - 1) < 0.1
    assert np.load(out / "masks.npz")["masks"].shape == (2, 4, 160, 160)
    assert (out / "overlay.png").stat().st_size > 1000
    # run.json lists the shipped model it loaded, with the sha256 of the file itself
    shipped = shipped_model_path("ws2")
    [entry] = json.loads((out / "run.json").read_text())["models"]
    assert entry["path"] == str(shipped.resolve()) and entry["role"] == "loaded"
    assert (entry["workflow"], entry["material"]) == ("stem", "ws2")
    assert entry["weights"] == "weights.safetensors"
    assert entry["sha256"] == sha256(shipped / "weights.safetensors")
    # `stem analyze` of the prediction's folder takes its pixel size and material from it
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(out), "--out", str(tmp_path / "ana"), "--n-boot", "10"])
    assert exit_.value.code in (0, None)
    assert "pixel_size_angstrom 0.1, material ws2 from the stem predict run" in \
        capsys.readouterr().out
    config = json.loads((tmp_path / "ana" / "run.json").read_text())["config"]
    assert (config["pixel_size_angstrom"], config["material"]) == (0.1, "ws2")
    lattice = pd.read_csv(tmp_path / "ana" / "lattice.csv")
    assert lattice.lattice_constant_angstrom.between(3.1, 3.35).all()  # WS2 to WSe2, in Å
    assert "vegard_se_fraction" in lattice


def test_predict_folder_writes_each_image_and_a_summary(tiny_run, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(2):
        sample = simulate_image(StemSimConfig(size_px=64), seed=k)
        write_stem(folder / f"img{k}.tif", StemImage(sample.image, sample.pixel_size_angstrom))
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "pred"
    assert _predict(tiny_run, folder, out) in (0, None)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.file) == ["img0.tif", "img1.tif"]
    for name, row in zip(summary.file, summary.itertuples(), strict=True):
        atoms = pd.read_csv(out / name / "atoms.csv")
        assert row.atoms == len(atoms) == row.atoms_layer0 + row.atoms_layer1
        assert (out / name / "overlay.png").is_file()
    # a bad file gets its error line and an error row; the others are predicted; exit 2
    np.save(folder / "a_nan.npy", np.full((64, 64), np.nan))
    assert _predict(tiny_run, folder, tmp_path / "again", "--pixel-size", "0.1") == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error:")]
    assert errors == [f"error: {folder / 'a_nan.npy'}: the image contains NaN or infinite "
                      "values"]
    assert (tmp_path / "again" / "img1.tif" / "atoms.csv").is_file()
    again = pd.read_csv(tmp_path / "again" / "summary.csv")
    assert list(again.file) == ["a_nan.npy", "img0.tif", "img1.tif"]
    assert list(again.columns) == list(summary.columns)  # whichever image comes first
    written = pd.read_csv(tmp_path / "again" / "summary.csv", dtype=str)
    assert all(value.isdigit() for value in written.atoms.iloc[1:])  # 145, not 145.0
    assert list(again.trust.iloc[:1]) == ["error"] and again.atoms.iloc[1:].notna().all()


def test_predict_a_frame_store_like_its_folder(tiny_run, tmp_path):
    sim, folder, store = tmp_path / "sim", tmp_path / "frames", tmp_path / "frames.zarr"
    with pytest.raises(SystemExit):
        main(["stem", "simulate", "--out", str(sim), "--n-train", "0", "--n-val", "0",
              "--n-test", "2", "--size", "64", "--tif", "2"])
    folder.mkdir()
    for k in range(2):
        (sim / f"test_{k}.tif").rename(folder / f"frame{k}.tif")
    with pytest.raises(SystemExit):
        main(["convert", str(folder), str(store), "--modality", "stem"])
    threads = ["--scheduler", "threads", "--workers", "2", "--threshold", "otsu"]  # atoms
    assert _predict(tiny_run, folder, tmp_path / "files", *threads) in (0, None)
    assert _predict(tiny_run, store, tmp_path / "store", *threads) in (0, None)
    summary = pd.read_csv(tmp_path / "store" / "summary.csv")
    assert list(summary.file) == ["frame0.tif", "frame1.tif"]
    pd.testing.assert_frame_equal(summary, pd.read_csv(tmp_path / "files" / "summary.csv"))
    for name in summary.file:
        atoms = pd.read_csv(tmp_path / "store" / name / "atoms.csv")
        pd.testing.assert_frame_equal(atoms, pd.read_csv(tmp_path / "files" / name / "atoms.csv"))
        assert (tmp_path / "store" / name / "overlay.png").is_file()
    assert summary.atoms.sum() > 10  # a comparison of atoms, not of empty tables


def _bad_inputs(tmp_path):
    img = simulate_image(StemSimConfig(size_px=96), seed=1).image
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.stack([img] * 3, axis=-1).astype(np.uint8))
    nan = tmp_path / "nan.npy"
    bad = img.copy()
    bad[3, 4] = np.nan
    np.save(nan, bad)
    good = tmp_path / "good.npy"
    np.save(good, img)
    small = tmp_path / "small.npy"
    np.save(small, img[:20, :20])
    overview = write_stem(tmp_path / "overview.tif", StemImage(img, 53.0))  # a survey image
    empty = tmp_path / "empty"
    empty.mkdir()
    spectrum = tmp_path / "pl.txt"
    spectrum.write_text("".join(f"{600 + k} {k % 7}\n" for k in range(50)))
    return [([str(empty), "--pixel-size", "0.1"], "no STEM images"),
            ([str(spectrum), "--pixel-size", "0.1"], "not a STEM image: it holds spectra"),
            ([str(good), "--pixel-size", "0.1", "--material", "mote2"],
             "must be graphene or one of ws2, wse2, ws2-wse2, mos2, mose2, mos2-mose2, got "
             "'mote2'"),
            ([str(good), "--pixel-size", "0.1", "--material", "mose2"],  # the model's: graphene
             "model for material 'graphene', not 'ws2'"),
            ([str(rgb), "--pixel-size", "0.1"], "RGB"),
            ([str(nan), "--pixel-size", "0.1"], "NaN"),
            ([str(good), "--pixel-size", "0.01"], "check the unit (Å, not nm or pm)"),
            ([str(overview)], "the file states it (tmdlearn description): a field of 509 nm "
                              "is no atomic-resolution image"),
            ([str(good), "--pixel-size", "-1"], "positive"),
            ([str(good)], "pixel size"),
            ([str(small), "--pixel-size", "0.1"], "smaller than the model"),
            ([str(good), "--pixel-size", "0.1", "--views", "3"], "views must be 1, 2 or 4"),
            ([str(good), "--pixel-size", "0.1", "--frames", "sum"],
             "frames must be one of first, mean, got 'sum'"),
            ([str(good), "--pixel-size", "0.1", "--lattice-prior", "1.5"], "lattice-prior"),
            ([str(tmp_path / "missing.tif"), "--pixel-size", "0.1"], "no such file")]


def test_predict_bad_input_one_line_exit_2(tiny_run, tmp_path, capsys):
    for args, words in _bad_inputs(tmp_path):
        code = _predict(tiny_run, args[0], tmp_path / "o", *args[1:])
        err = capsys.readouterr().err.strip()
        assert code == 2, args
        assert err.startswith("error:") and "\n" not in err and words in err, err
    assert not (tmp_path / "o" / "atoms.csv").exists()


def test_simulate_command(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "simulate", "--out", str(tmp_path), "--n-train", "2", "--n-val", "1",
              "--n-test", "1", "--size", "32", "--material", "ws2", "--tif", "1"])
    assert exit_.value.code in (0, None)
    data = np.load(tmp_path / "train.npz")
    assert data["image"].shape == (2, 32, 32) and data["labels"].shape == (2, 8, 32, 32)
    atoms = pd.read_csv(tmp_path / "train_atoms.csv")
    assert set(atoms.species) <= {"W", "S2", "SSe", "Se2"} and set(atoms.image) == {0, 1}
    from tmdlearn.io import read

    image = read(tmp_path / "test_0.tif", modality="stem")
    assert np.array_equal(image.intensity, np.load(tmp_path / "test.npz")["image"][0])


def test_analyze_truth_tables(tmp_path):
    flat = {"magnification_jitter": 0.0, "thermal_sigma_angstrom": 0.0, "size_px": 160,
            "hole_probability": 0.0, "edge_probability": 0.0}
    for material, extra in (("graphene", {}), ("ws2", {"se_scenario": "both",
                                                       "se_fraction": (0.5, 0.5)})):
        s = simulate_image(StemSimConfig(material=material, **flat, **extra), seed=3)
        atoms = s.atoms.assign(species=np.array(s.species)[s.atoms.species])
        atoms.to_csv(tmp_path / f"{material}.csv", index=False)
        out = tmp_path / material
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "analyze", str(tmp_path / f"{material}.csv"), "--pixel-size",
                  str(s.pixel_size_angstrom), "--out", str(out), "--material", material,
                  "--n-boot", "20"])
        assert exit_.value.code in (0, None)
        lattice = pd.read_csv(out / "lattice.csv")
        expected = s.params.get("lattice_constant_angstrom", 2.46)  # ws2: Vegard, x = 0.5
        assert np.allclose(lattice.lattice_constant_angstrom, expected, atol=0.01)
        analysis = json.loads((out / "analysis.json").read_text())
        assert analysis["twist_deg"] == pytest.approx(s.params["twist_deg"], abs=0.3)
        if material == "ws2":
            assert np.allclose(lattice.vegard_se_fraction, 0.5, atol=0.05)
            assert np.allclose(lattice.species_se_fraction, 0.5, atol=0.1)
        assert (out / "order_parameter.png").is_file()
    assert (tmp_path / "graphene" / "bond_histogram.png").is_file()
    assert (tmp_path / "ws2" / "se_vs_moire_kde.png").is_file()


def test_analyze_an_empty_atoms_table_is_one_line_exit_2(tmp_path, capsys):
    table = tmp_path / "atoms.csv"
    table.write_text("x_px,y_px,layer,species\n")
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(table), "--pixel-size", "0.1", "--out",
              str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err and "has no atoms" in err, err


def test_analyze_names_a_missing_or_binary_atoms_table_and_warns_on_a_wrong_pixel_size(
        tmp_path, capsys):
    binary = tmp_path / "image.dm3"
    binary.write_bytes(bytes(range(256)) * 8)
    for path, words in ((tmp_path / "missing", "no such file"),
                        (binary, "binary content, not an atoms table")):
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "analyze", str(path), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and "\n" not in err and words in err, err
    s = simulate_image(StemSimConfig(size_px=160, magnification_jitter=0.0), seed=3)
    s.atoms.assign(species="C").to_csv(tmp_path / "atoms.csv", index=False)
    for factor, warned in ((1.0, False), (10.0, True)):
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "analyze", str(tmp_path / "atoms.csv"), "--pixel-size",
                  str(factor * s.pixel_size_angstrom), "--out", str(tmp_path / f"a{factor}"),
                  "--n-boot", "10"])
        assert exit_.value.code in (0, None)
        err = capsys.readouterr().err
        assert ("bond mean 14." in err and "check the pixel size" in err) == warned, err


def test_analyze_without_a_pixel_size_or_a_predict_run_is_one_line_exit_2(tmp_path, capsys):
    table = tmp_path / "atoms.csv"
    table.write_text("x_px,y_px,layer,species\n1,2,0,C\n")
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(table), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err and "give --pixel-size" in err, err
    assert not (tmp_path / "o").exists()
    (tmp_path / "metrics.json").write_text("{broken")
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(table), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.endswith("metrics.json: not readable as JSON "
                                                  "(JSONDecodeError)"), err


@pytest.mark.parametrize("n_boot", ["-1", "0"])
def test_analyze_refuses_a_bootstrap_count_below_1(n_boot, tmp_path, capsys):
    """Checked before any work (-1 and 0 were a traceback once the KDEs were drawn)."""
    table = tmp_path / "atoms.csv"
    table.write_text("x_px,y_px,layer,species\n")
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(table), "--pixel-size", "0.1", "--out",
              str(tmp_path / "o"), "--n-boot", n_boot])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err
    assert err == f"error: --n-boot must be at least 1, got {n_boot}"
    assert not (tmp_path / "o").exists()


def test_analyze_takes_the_material_from_the_species_and_names_an_unmeasurable_layer(
        tmp_path, capsys):
    """WS2 atoms with no predict run beside them: ws2 from the species (was graphene); a
    layer of three lone chalcogen columns is too small to measure (no 'Vegard nan')."""
    from tmdlearn.stem.workflow import material_of

    assert material_of(["W", "S2", "C"]) == "ws2" and material_of(["C", "C", "W"]) == "graphene"
    assert material_of([]) == "graphene"
    s = simulate_image(StemSimConfig(material="ws2", size_px=160, magnification_jitter=0.0),
                       seed=3)
    atoms = s.atoms.assign(species=np.array(s.species)[s.atoms.species])
    lone = pd.DataFrame({"x_px": [10.0, 80.0, 150.0], "y_px": [10.0, 80.0, 150.0],
                         "layer": 1, "species": "S2"})
    pd.concat([atoms[atoms.layer == 0], lone]).to_csv(tmp_path / "atoms.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(tmp_path / "atoms.csv"), "--pixel-size",
              str(s.pixel_size_angstrom), "--out", str(tmp_path / "a"), "--n-boot", "10"])
    assert exit_.value.code in (0, None)
    captured = capsys.readouterr()
    assert "material ws2, from the atoms' species" in captured.out
    assert "layer 1: too few atoms to measure" in captured.err and "nan" not in captured.err
    lattice = pd.read_csv(tmp_path / "a" / "lattice.csv")
    assert lattice.vegard_se_fraction.notna().iloc[0]


def test_analyze_a_folder_prediction_image_by_image(tmp_path, capsys):
    """The output folder of `stem predict FOLDER` (one subfolder per image, each with atoms.csv
    and metrics.json): every image analysed into OUT/<image>/, a summary.csv row each with the
    planted lattice constant, bond length and twist; a broken atoms table is its error row and
    exit code 2 after the others; a folder without atoms tables is one line."""
    flat = {"magnification_jitter": 0.0, "thermal_sigma_angstrom": 0.0, "size_px": 160,
            "hole_probability": 0.0, "edge_probability": 0.0}
    pred = tmp_path / "pred"
    twists = {}
    for seed in (3, 4):
        s = simulate_image(StemSimConfig(**flat), seed=seed)
        folder = pred / f"img{seed}.tif"
        folder.mkdir(parents=True)
        s.atoms.assign(species="C").to_csv(folder / "atoms.csv", index=False)
        (folder / "metrics.json").write_text(json.dumps(
            {"pixel_size_angstrom": s.pixel_size_angstrom}))
        twists[folder.name] = s.params["twist_deg"]
    (pred / "logs").mkdir()
    out = tmp_path / "analysed"
    with pytest.raises(SystemExit) as exit_:  # --bond-max: the edge atoms' long "bonds" out
        main(["stem", "analyze", str(pred), "--out", str(out), "--n-boot", "10",
              "--bond-max", "1.6"])
    assert exit_.value.code in (0, None)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.image) == ["img3.tif", "img4.tif"]
    assert (summary.material == "graphene").all() and summary.error.isna().all()
    for layer in (0, 1):
        assert np.allclose(summary[f"lattice_constant_angstrom_layer{layer}"], 2.46, atol=0.01)
        assert np.allclose(summary[f"bond_mean_angstrom_layer{layer}"], 1.42, atol=0.01)
    assert np.allclose(summary.twist_deg, [twists[n] for n in summary.image], atol=0.3)
    for name in summary.image:
        bonds = pd.read_csv(out / name / "bonds.csv")
        assert bonds.mean_angstrom[0] == pytest.approx(
            summary.set_index("image").loc[name, "bond_mean_angstrom_layer0"])
    assert is_run_folder(out)
    (pred / "img5.tif").mkdir()
    (pred / "img5.tif" / "atoms.csv").write_text("x,y\n1,2\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(pred), "--out", str(out), "--n-boot", "10"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert exit_.value.code == 2 and len(errors) == 1 and "img5.tif" in errors[0]
    again = pd.read_csv(out / "summary.csv")
    assert list(again.image) == ["img3.tif", "img4.tif", "img5.tif"]
    assert again.error.iloc[:2].isna().all() and again.atoms.iloc[:2].tolist() == [
        summary.atoms[0], summary.atoms[1]]
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(pred / "logs"), "--out", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err and "no atoms.csv here" in err, err


def test_material_names_are_case_insensitive(tmp_path, capsys):
    s = simulate_image(StemSimConfig(material="ws2", size_px=128), seed=2)
    atoms = s.atoms.assign(species=np.array(s.species)[s.atoms.species])
    atoms.to_csv(tmp_path / "atoms.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(tmp_path / "atoms.csv"), "--pixel-size",
              str(s.pixel_size_angstrom), "--material", "WS2", "--out", str(tmp_path / "a"),
              "--n-boot", "10"])
    assert exit_.value.code in (0, None)
    assert json.loads((tmp_path / "a" / "run.json").read_text())["config"]["material"] == "ws2"
    assert "vegard_se_fraction" in pd.read_csv(tmp_path / "a" / "lattice.csv")
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(tmp_path / "atoms.csv"), "--material", "MoS3", "--out",
              str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "must be graphene or one of ws2, wse2" in err
    assert "got 'MoS3'" in err


def test_a_pixel_size_given_over_a_different_stored_one_is_noted(tiny_run, tmp_path, capsys):
    """--pixel-size replaces a calibrated file's pixel size: a note when they differ by more
    than 2 %, the file's value in the summary row; none when they agree."""
    sample = simulate_image(StemSimConfig(size_px=64), seed=1)
    path = tmp_path / "img.tif"
    write_stem(path, StemImage(sample.image, 0.1))
    assert _predict(tiny_run, path, tmp_path / "a", "--pixel-size", "0.12") in (0, None)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note")]
    assert notes == [f"note: {path}: --pixel-size 0.12 Å used; the file states 0.1 Å"]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["file_pixel_size_angstrom"] == pytest.approx(0.1)
    assert metrics["pixel_size_angstrom"] == pytest.approx(0.12)
    assert _predict(tiny_run, path, tmp_path / "b", "--pixel-size", "0.1005") in (0, None)
    assert "note" not in capsys.readouterr().err


def test_predict_a_series_as_its_registered_mean(tiny_run, tmp_path):
    """--frames mean: a DM stack of drifting frames is predicted as their registered average
    and metrics.json says so (the atoms lie on the grid cropped by frames_cropped_px)."""
    from scipy import ndimage

    from dm_files import DmWriter, write_dm

    sample = simulate_image(StemSimConfig(size_px=120), seed=2)
    frames = np.array([ndimage.shift(sample.image.astype(float), (k * 0.8, -k * 1.1))[12:108,
                                                                                     12:108]
                       for k in range(4)], np.float32)
    w = DmWriter(4)
    path = write_dm(tmp_path / "series.dm4", w.image(frames, scale=0.01), writer=w)
    for how, cropped in (("first", None), ("mean", 4)):
        out = tmp_path / how
        assert _predict(tiny_run, path, out, "--frames", how) in (0, None)
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["frames"] == 4 and metrics.get("frames_cropped_px") == cropped


@pytest.mark.parametrize("keep", ["best", "last"])
def test_model_folder_keeps_the_best_or_the_last_evaluated_weights(keep, tmp_path):
    """train.keep best: model/ holds the step of the highest validation mean IoU; last: the
    last evaluated step, the checkpoint's weights."""
    assert _train(tmp_path / "run", "train.steps=4", "train.eval_every=1",
                  f"train.keep={keep}") in (0, None)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    model, _, _ = read_model(tmp_path / "run" / "model")
    ckpt, _, _ = read_model(tmp_path / "run" / "checkpoint")
    want = history.step.iloc[-1] if keep == "last" else history.step[history.mean_iou.idxmax()]
    assert model["meta"]["step"] == want
    same = all(torch.equal(model["state_dict"][k], v) for k, v in ckpt["model"].items())
    assert same == (want == history.step.iloc[-1])


def test_train_keep_must_be_best_or_last(tmp_path, capsys):
    assert _train(tmp_path / "run", "train.keep=first") == 2
    assert "train.keep" in capsys.readouterr().err
