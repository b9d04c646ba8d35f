"""`tmdlearn classify features|run`: run folders from features and from images; bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app, main

pytestmark = [pytest.mark.filterwarnings("ignore:.*random initialisation"),
              pytest.mark.usefixtures("one_torch_thread")]




@pytest.fixture(scope="module")
def small_features(tmp_path_factory, test_data):
    data = np.load(test_data / "tmd-afm-features" / "resnet18_imagenet_512.npz")
    keep = np.isin(data["sample_id"], np.unique(data["sample_id"])[::3])
    path = tmp_path_factory.mktemp("feat") / "small.npz"
    np.savez(path, features=data["features"][keep], targets=data["targets"][keep],
             sample_id=data["sample_id"][keep])
    return path


def test_features_command_writes_run_folder(small_features, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["classify", "features", str(small_features), "--out",
                                      str(out), "--head", "logreg", "--head", "lda", "--head",
                                      "selected", "--set", "transforms=[standardise]",
                                      "--set", "cv.n_boot=50", "--set", "cv.n_splits=3"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["logreg"]["accuracy"]["pooled"] > 0.6  # five classes: chance is ~0.46
    assert metrics["logreg"]["n_splits"] == 3
    assert {"logreg", "logreg (sample-pooled, per image)", "logreg (sample-pooled, per sample)",
            "lda", "selected", "best"} <= set(metrics)
    # nested: every outer fold names the transform and head its inner CV picked
    assert len(metrics["selected"]["choices"]) == 3
    assert {c["head"] for c in metrics["selected"]["choices"]} <= {"logreg", "lda"}
    assert metrics["logreg (sample-pooled, per sample)"]["n_items"] == metrics["logreg"]["n_groups"]
    assert "not computed" in metrics["latent_correlation"]
    for name in ("comparison", "per_class_logreg", "confusion_counts_logreg", "latent_pca"):
        assert (out / "tables" / f"{name}.csv").is_file()
        assert (out / "tables" / f"{name}.md").is_file()
    assert (out / "figures" / "confusion_logreg.png").is_file()
    assert (out / "figures" / "comparison.png").is_file()
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["heads"] == ["logreg", "lda", "selected"]


def _texture_images(path, n_samples=9, size=32, seed=0, **extra):
    """Two images per sample; classes differ in step density (more steps, more roughness);
    ``extra`` arrays are stored beside them (e.g. ``pixel_size_nm``)."""
    rng = np.random.default_rng(seed)
    names = np.array(["MoS2", "WS2", "WSe2"])
    heights, targets, groups = [], [], []
    for s in range(n_samples):
        k = s % 3
        for _ in range(2):
            x = np.cumsum(rng.random((size, size)) < 0.05 * (k + 1), axis=1) * 0.65
            heights.append(x - x.mean() + rng.normal(0, 0.05, (size, size)))
            targets.append(names[k])
            groups.append(f"s{s}")
    np.savez(path, heights=np.array(heights, np.float32), targets=np.array(targets),
             sample_id=np.array(groups), coverage=rng.random(len(targets)), **extra)


def _run_on_images(images, out, *sets):
    """`classify run` on the texture images with a small random ResNet18 (and ``sets``)."""
    args = ["classify", "run", "--out", str(out), "--set", f"data.images={images}"]
    for item in ("image.backbone=resnet18", "image.weights=null", "image.size=32",
                 "tune=false", "cv.n_splits=2", "cv.n_boot=20", "device=cpu", *sets):
        args += ["--set", item]
    return CliRunner().invoke(app, args)


def test_run_command_compares_all_strategies_from_images(tmp_path):
    images = tmp_path / "images.npz"
    _texture_images(images)
    out = tmp_path / "run"
    result = _run_on_images(images, out, "image.epochs=1", "image.batch_size=8")
    assert result.exit_code == 0, result.output
    table = (out / "tables" / "comparison.csv").read_text()
    for name in ("frozen + logreg", "finetune-last", "finetune-full", "sequential"):
        assert name in table
    corr = (out / "tables" / "latent_correlation.csv").read_text()
    # afm.morphology of the levelled maps (pixel units: no pixel_size_nm) and the given array
    for name in ("rms_vs_smoothed_nm", "step_edge_count", "coverage", "coverage (given)"):
        assert f",{name}," in corr
    assert "domain_density_um2" not in corr
    assert (out / "figures" / "latent_correlation.png").is_file()


def test_bad_inputs_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, features=np.zeros((4, 3)))
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "features", str(bad), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "missing arrays" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "features", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_run_saves_the_classifier_and_predict_applies_it(tmp_path, capsys):
    images = tmp_path / "images.npz"
    _texture_images(images, pixel_size_nm=np.array(2.0))
    out = tmp_path / "run"
    result = _run_on_images(images, out, "strategies=[frozen]")
    assert result.exit_code == 0, result.output
    card = json.loads((out / "models" / "classifier" / "model.json").read_text())
    assert card["workflow"] == "classify" and card["classes"] == ["MoS2", "WS2", "WSe2"]
    assert card["inputs"]["image_size_px"] == 32 and "accuracy" in card["metrics"]
    # 32-px images of 2 nm pixels resized to 32 px: 2 nm per backbone pixel
    assert card["inputs"]["pixel_size_nm"] == [2.0, 2.0]
    assert card["inputs"]["input_pixel_nm"] == [2.0, 2.0]
    [saved] = json.loads((out / "run.json").read_text())["models"]
    assert (saved["path"], saved["role"], saved["weights"]) == (
        "models/classifier", "saved", "estimators.skops")
    assert saved["sha256"] == card["files"]["estimators.skops"]
    # new images as .npy height maps (nm; pixel size given): one row each, probabilities sum to 1
    with np.load(images) as data:
        heights, targets = data["heights"], data["targets"]
    files = []
    for k in (0, 2, 4):
        files.append(tmp_path / f"img{k}.npy")
        np.save(files[-1], heights[k])
    result = CliRunner().invoke(app, ["classify", "predict", *map(str, files), "--model",
                                      str(out / "models" / "classifier"), "--out",
                                      str(tmp_path / "pred"), "--device", "cpu",
                                      "--pixel-size", "2"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    [loaded] = json.loads((tmp_path / "pred" / "run.json").read_text())["models"]
    assert loaded["role"] == "loaded" and loaded["sha256"] == saved["sha256"]
    assert loaded["path"] == str((out / "models" / "classifier").resolve())
    # the same file at 10x the pixel size: refused in one line, exit 2, nothing written
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "predict", str(files[0]), "--model", str(out / "models" /
              "classifier"), "--out", str(tmp_path / "far"), "--pixel-size", "20"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(files[0]) in err and "pixel size 20 nm" in err
    assert not (tmp_path / "far").exists()
    proba = table[["p_MoS2", "p_WS2", "p_WSe2"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert list(table["prediction"]) == [c[p.argmax()] for c, p in
                                         zip([["MoS2", "WS2", "WSe2"]] * 3, proba, strict=True)]
    # the same images through the Python API: identical probabilities
    from tmdlearn.classify.saved import load_classifier, predict_heights

    tree, _ = load_classifier(out / "models" / "classifier")
    again = predict_heights([heights[k] for k in (0, 2, 4)], tree, "cpu")
    np.testing.assert_allclose(again[["p_MoS2", "p_WS2", "p_WSe2"]].to_numpy(), proba,
                               rtol=1e-6)
    assert (table["prediction"] == targets[[0, 2, 4]]).mean() >= 2 / 3


@pytest.mark.parametrize(("pixel_nm", "side", "ok"), [
    (3.9, 32, True),     # 3.9 nm per backbone pixel: within 2x of the training's 2 nm
    (4.1, 32, False),    # just beyond 2x
    (0.9, 32, False),    # finer than half
    (1.0, 64, True),     # half the pixel size, twice the pixels: the same 64 nm field of view
    (2.0, 128, False),   # the training pixel size over 4x the field of view
])
def test_predict_refuses_images_far_from_the_training_scale(tmp_path, capsys, pixel_nm, side,
                                                            ok):
    """What the backbone sees is the field of view over its 32 px input: an image is refused
    when that input pixel is more than 2x outside the training's (2 nm), whatever its pixel
    count; one line naming the file and both pixel sizes, exit 2, nothing written."""
    from tmdlearn.classify.saved import check_scale
    from tmdlearn.data import HeightMap
    from tmdlearn.errors import InputError

    card = {"inputs": {"image_size_px": 32, "pixel_size_nm": [2.0, 2.0],
                       "input_pixel_nm": [2.0, 2.0]}}
    item = HeightMap(np.zeros((side, side)), pixel_nm)
    if ok:
        check_scale(item, card, "new.npy")
        return
    with pytest.raises(InputError, match="outside the classifier's training range") as err:
        check_scale(item, card, "new.npy")
    assert str(err.value.path) == "new.npy" and f"pixel size {pixel_nm:g} nm" in str(err.value)
    assert "pixel sizes 2-2 nm" in str(err.value) and "\n" not in str(err.value)
