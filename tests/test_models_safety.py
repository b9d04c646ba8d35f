"""Saved models are data, never code (issue #24): every loader refuses a model file carrying a
pickled callable (exit 2, the callable never runs); cards are checked (hash, material, grid,
version); save/load round trips give identical predictions; no pickle in src/."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tmdlearn.cli import main
from tmdlearn.errors import InputError
from tmdlearn.models.card import make_card
from tmdlearn.models.store import read_model, write_model
from tmdlearn.models.unet import UNet
from tmdlearn.stem.inference import load_model, save_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from robustness_models import META, Payload  # noqa: E402  (the benchmark's payload)


def _malicious(path: Path, marker: Path) -> Path:
    """A torch file shaped like an old tmdlearn STEM model, with the payload in its meta."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"unet": {}, "state_dict": {}, "meta": Payload(marker)}, path)
    return path


def _exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in args])
    return exit_.value.code


def _tiny_unet(seed: int = 0) -> UNet:
    torch.manual_seed(seed)
    return UNet(1, 1, 2, 2, 4, 0.0, "batch").eval()


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    return save_model(tmp_path / "tiny", _tiny_unet(), META)


def test_the_payload_runs_when_fully_unpickled(tmp_path):
    # the check below could not fail without this: torch's full unpickler does run it
    marker = tmp_path / "pwned"
    torch.load(_malicious(tmp_path / "evil.pt", marker), weights_only=False)  # test only
    assert marker.exists()


def _crossmodal_run(folder: Path) -> Path:
    from tmdlearn.crossmodal.workflow import DEFAULTS

    (folder / "models").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"config": DEFAULTS}))
    return folder


@pytest.mark.parametrize("loader", ["crossmodal predict", "stem predict", "stem train --init",
                                    "classify predict", "models convert", "models show"])
def test_every_loader_refuses_a_malicious_model_file(loader, tmp_path, capsys):
    marker, out = tmp_path / "pwned", tmp_path / "out"
    spectrum = tmp_path / "s.txt"
    spectrum.write_text("380 1\n400 2\n420 1\n")
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((32, 32), np.float32))
    if loader == "crossmodal predict":
        run = _crossmodal_run(tmp_path / "run")
        _malicious(run / "models" / "raman_to_umap.pt", marker)
        args = ["crossmodal", "predict", spectrum, "--models", run, "--out", out]
    else:
        evil = _malicious(tmp_path / "model.pt", marker)
        args = {"stem predict": ["stem", "predict", image, "--pixel-size", "0.1", "--out", out,
                                 "--model", evil],
                "stem train --init": ["stem", "train", "--out", out, "--set", f"init={evil}",
                                      "--set", "data.size_px=32", "--set", "model.depth=2",
                                      "--set", "model.filters=4", "--set", "train.steps=1"],
                "classify predict": ["classify", "predict", image, "--model", evil, "--out",
                                     out],
                "models convert": ["models", "convert", evil, out],
                "models show": ["models", "show", evil]}[loader]
    assert _exit_code(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert ("old-format" in err) or ("refused" in err)
    assert not marker.exists()
    assert not out.exists() or not any(out.rglob("*.csv"))


def test_explain_regressor_refuses_a_malicious_model_file(tmp_path):
    from tmdlearn.explain.regressor import RamanPLRegressor

    marker = tmp_path / "pwned"
    with pytest.raises(InputError, match="old-format"):
        RamanPLRegressor.load(_malicious(tmp_path / "cnn.pt", marker))
    assert not marker.exists()


def test_convert_refuses_an_old_structure_with_a_foreign_class(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "regression_raman.pt"
    # a crossmodal-looking bundle whose estimator entry is the payload
    torch.save({"input": "raman", "targets": ["a"], "ridge": {"a": Payload(marker)}}, evil)
    assert _exit_code(["models", "convert", evil]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "io.open" in err
    assert not marker.exists() and not (tmp_path / "regression_raman").exists()


class _Foreign:
    def __init__(self):
        self.value = 1

    def fit(self, X, y=None):
        return self

    def get_params(self, deep=True):
        return {}


def test_an_estimators_file_with_untrusted_types_is_refused(tmp_path, capsys):
    folder = write_model(tmp_path / "m", {"head": _Foreign()}, make_card("classify", "t"))
    with pytest.raises(InputError, match="trusted list.*_Foreign"):
        read_model(folder)


def test_a_pickle_under_the_weights_name_is_refused(tmp_path, tiny_model):
    marker = tmp_path / "pwned"
    weights = tiny_model / "weights.safetensors"
    _malicious(weights, marker)
    card = json.loads((tiny_model / "model.json").read_text())
    from tmdlearn.io.digest import sha256

    card["files"]["weights.safetensors"] = sha256(weights)  # a forger fixes the hash too
    (tiny_model / "model.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="unreadable weight file"):
        load_model(tiny_model, device="cpu")
    assert not marker.exists()


def test_round_trip_gives_identical_outputs(tiny_model):
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, 32, 32)).astype("f4"))
    model, meta = load_model(tiny_model, device="cpu", fast=False)
    with torch.no_grad():
        assert torch.equal(model(x), _tiny_unet()(x))
    assert meta == META
    payload, card, _ = read_model(tiny_model)
    assert card["workflow"] == "stem" and card["material"] == "graphene"
    assert card["inputs"]["pixel_size_angstrom"] == 0.1
    assert set(card["files"]) == {"weights.safetensors", "parameters.json"}


def _card(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text())


def _damage(kind: str, folder: Path) -> None:
    weights = folder / "weights.safetensors"
    if kind == "swapped weights":
        other = save_model(folder.parent / "other", _tiny_unet(seed=1), META)
        weights.write_bytes((other / "weights.safetensors").read_bytes())
    elif kind == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif kind == "missing card":
        (folder / "model.json").unlink()
    elif kind == "malformed card":
        (folder / "model.json").write_text("{not json")
    elif kind == "newer major version":
        (folder / "model.json").write_text(json.dumps({**_card(folder),
                                                       "tmdlearn_version": "99.0.0"}))


@pytest.mark.parametrize("kind, message", [
    ("swapped weights", "sha256"), ("truncated weights", "sha256"),
    ("missing card", "no model card"), ("malformed card", "malformed model card"),
    ("newer major version", "newer than this tmdlearn"), ("wrong material", "material"),
])
def test_bad_model_is_one_line_exit_2_nothing_written(kind, message, tiny_model, tmp_path,
                                                      capsys):
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((32, 32), np.float32))
    _damage(kind, tiny_model)
    out = tmp_path / "out"
    extra = ["--material", "ws2"] if kind == "wrong material" else []
    code = _exit_code(["stem", "predict", image, "--pixel-size", "0.1", "--out", out,
                       "--model", tiny_model, *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "\n" not in err
    assert message in err and str(tiny_model) in err
    assert not out.exists()


def test_trust_mismatch_overrides_the_hash_only_loudly(tiny_model, capsys):
    _damage("swapped weights", tiny_model)
    _, meta = load_model(tiny_model, device="cpu", trust_mismatch=True)
    assert meta["material"] == "graphene"
    assert "WARNING" in capsys.readouterr().err
    _damage("truncated weights", tiny_model)
    with pytest.raises(InputError, match="unreadable weight file"):
        load_model(tiny_model, device="cpu", trust_mismatch=True)


def test_crossmodal_models_round_trip_and_check_the_grid(tmp_path):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tmdlearn.crossmodal.generate import Generator, build_generator
    from tmdlearn.crossmodal.regress import fit_mlp
    from tmdlearn.crossmodal.saved import load_models, save_models
    from tmdlearn.crossmodal.workflow import DEFAULTS

    rng = np.random.default_rng(0)
    x, y = rng.random((30, 202)), rng.random((30, 2))
    params = {"n_layers": 1, "units": 8, "activation": "elu", "dropout": 0.0, "l1": 0.0,
              "lr": 1e-3, "batch_size": 16}
    mlp, _ = fit_mlp(x, y, params, epochs=1, device="cpu")
    bundle = {"input": "raman", "targets": ["UMAP-1", "UMAP-2"], "axis": np.arange(202.0),
              "ridge": {"UMAP-1": make_pipeline(StandardScaler(), Ridge()).fit(x, y[:, 0])},
              "mlp": mlp}
    gen_params = {"n_decoder_layers": 1, "activation": "relu", "dropout": 0.0}
    torch.manual_seed(0)
    generator = Generator("image", (5,), 200, gen_params,
                          build_generator("image", (5,), 200, gen_params).eval(),
                          np.zeros(5, np.float32), np.ones(5, np.float32))
    models = {"regression_raman": bundle, "generator_afm->raman": generator, "head_x": mlp}
    save_models(tmp_path / "models", models, DEFAULTS, {"regression_raman_UMAP-1_r2_test": 0.5})
    loaded = load_models(tmp_path / "models", DEFAULTS)
    assert np.array_equal(loaded["regression_raman"]["ridge"]["UMAP-1"].predict(x),
                          bundle["ridge"]["UMAP-1"].predict(x))
    assert np.array_equal(loaded["regression_raman"]["mlp"].predict(x), mlp.predict(x))
    assert np.array_equal(loaded["head_x"].predict(x), mlp.predict(x))
    z = rng.random((3, 5))
    assert np.array_equal(loaded["generator_afm->raman"].predict(z), generator.predict(z))
    card = _card(tmp_path / "models" / "regression_raman")
    assert card["metrics"] == {"regression_raman_UMAP-1_r2_test": 0.5}
    assert card["inputs"]["raman_points"] == 202
    other = copy.deepcopy(DEFAULTS)
    other["data"]["raman_points"] = 300
    with pytest.raises(InputError, match="raman_points"):
        load_models(tmp_path / "models", other)


def test_models_show_prints_the_shipped_card(capsys):
    from tmdlearn.stem.inference import shipped_model_path

    assert _exit_code(["models", "show", shipped_model_path("ws2")]) in (0, None)
    out = capsys.readouterr().out
    assert '"material": "ws2"' in out and '"pixel_size_angstrom": 0.15' in out
    assert "files match the card" in out


def test_convert_writes_an_equivalent_model_folder(tmp_path, capsys):
    model = _tiny_unet()
    old = tmp_path / "old.pt"
    torch.save({"unet": model.config, "state_dict": model.state_dict(), "meta": META}, old)
    assert _exit_code(["models", "convert", old]) in (0, None)
    converted, meta = load_model(tmp_path / "old", device="cpu", fast=False)
    for key, value in model.state_dict().items():
        assert torch.equal(converted.state_dict()[key], value)
    assert meta == META
    assert _exit_code(["models", "convert", old]) == 2  # exists: --force to replace
    assert "--force" in capsys.readouterr().err


FORBIDDEN = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|joblib|dill|cloudpickle)\b"
                       r"|\bpickle\.(loads?|dumps?|Unpickler)\b|\bjoblib\.|weights_only\s*=\s*False"
                       r"|allow_pickle\s*=\s*True|\.register_pickle|torch\.load\((?![^)]*weights_only"
                       r"\s*=\s*True)", re.M)


def test_no_pickle_anywhere_in_src():
    hits = [f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
            for path in sorted((ROOT / "src").rglob("*.py"))
            for match in FORBIDDEN.finditer(path.read_text(encoding="utf-8"))]
    assert hits == []
    # and the scan finds what it looks for
    assert FORBIDDEN.search("x = torch.load(p, weights_only=False)")
    assert FORBIDDEN.search("import joblib") and FORBIDDEN.search("torch.load(path)")
    assert not FORBIDDEN.search("torch.load(path, map_location='cpu', weights_only=True)")
