"""Config keys: every workflow checks them against its DEFAULTS (a misspelt key is one line
naming the closest known key, exit 2), and the docs' config tables are generated from them."""

from pathlib import Path

import pytest
import yaml

from tmdlearn.cli import main
from tmdlearn.config import Open, fill_config_tables, load_config, validate
from tmdlearn.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_a_misspelt_key_names_the_closest_known_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("fit: {solver: lm, max_itr: 10}\n")
    with pytest.raises(InputError) as err:
        load_config(path, None, {"fit": {"solver": "lm", "max_iter": None}})
    assert str(err.value) == f"{path}: unknown config key 'fit.max_itr'; did you mean " \
                             "'fit.max_iter'?"
    with pytest.raises(InputError, match="'sed'; did you mean 'seed'"):
        load_config(None, ["sed=1"], {"seed": 0})


def test_open_sections_and_none_defaults_take_any_keys():
    defaults = {"space": {"lr": 1}, "stages": None, "model": {"width": 4}}
    defaults["space"] = Open(defaults["space"])
    validate({"space": {"units": 3}, "stages": {"a": 1}}, defaults)
    with pytest.raises(InputError, match="'model.widht'; did you mean 'model.width'"):
        validate({"model": {"widht": 3}}, defaults)


#: (arguments before --config, the misspelt YAML, the closest key the error must name)
MISSPELT = {
    "spectra": (["spectra", "fit", "x.txt", "--model", "mos2-raman", "--out", "f.csv"],
                {"preprocess": {"despik": "map"}}, "'preprocess.despike'"),
    "afm": (["afm", "features", "x.npy"], {"level": {"methd": "plane"}}, "'level.method'"),
    "stem": (["stem", "train"], {"train": {"step": 3}}, "'train.steps'"),
    "classify": (["classify", "run"], {"cv": {"n_split": 3}}, "'cv.n_splits'"),
    "crossmodal": (["crossmodal", "run", "--data", "."], {"regresion": {"bootstrap": 2}},
                   "'regression'"),
    "explain": (["explain", "run"], {"interpret": {"taget": "fwhm"}}, "'interpret.target'"),
}


@pytest.mark.parametrize("workflow", list(MISSPELT))
def test_a_misspelt_yaml_key_exits_2_for_every_workflow(workflow, tmp_path, capsys):
    args, config, closest = MISSPELT[workflow]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--config", str(path), "--out", str(tmp_path / "out")]
             if "--out" not in args else [*args, "--config", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "unknown config key" in err
    assert f"did you mean {closest}" in err and str(path) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, module", [
    ("classify.yaml", "tmdlearn.classify.workflow"),
    ("crossmodal.yaml", "tmdlearn.crossmodal.workflow"),
    ("crossmodal-study.yaml", "tmdlearn.crossmodal.workflow"),
    ("explain.yaml", "tmdlearn.explain.workflow"),
    ("stem-graphene.yaml", "tmdlearn.stem.train"),
    ("stem-graphene-paper.yaml", "tmdlearn.stem.train"),
    ("stem-ws2.yaml", "tmdlearn.stem.train"),
])
def test_shipped_configs_pass_the_check(name, module):
    import importlib

    workflow = importlib.import_module(module)
    load_config(ROOT / "configs" / name, None, workflow.DEFAULTS)


@pytest.mark.parametrize("page", ["spectra", "afm", "stem", "classify", "crossmodal",
                                  "explain"])
def test_docs_config_tables_match_the_defaults(page):
    text = (ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")
    assert "<!-- config: tmdlearn." in text
    assert fill_config_tables(text) == text, \
        f"docs/{page}.md: run `python -m tmdlearn.config docs/*.md`"


def test_merged_updates_every_depth_and_shares_nothing():
    from tmdlearn.config import merged

    base = {"a": {"b": {"c": 1, "d": [1, 2]}, "e": 2}, "f": 3}
    update = {"a": {"b": {"c": 10}}, "g": {"h": [4]}}
    out = merged(base, update)
    assert out == {"a": {"b": {"c": 10, "d": [1, 2]}, "e": 2}, "f": 3, "g": {"h": [4]}}
    out["a"]["b"]["d"].append(3)
    out["g"]["h"].append(5)
    assert base["a"]["b"]["d"] == [1, 2] and update["g"]["h"] == [4]


@pytest.mark.parametrize("override, key", [
    ("data.exit_layer_dimming=abc", "key 'data.exit_layer_dimming'"),
    ("data.twist_deg=[1, 2, 3]", "key 'data.twist_deg'"),
    ("data.microscope={defocus_angstrom: abc}", "key 'data.microscope.defocus_angstrom'"),
])
def test_a_simulator_range_that_is_not_numbers_exits_2_before_training(override, key, tmp_path,
                                                                        capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stem", "train", "--out", str(tmp_path / "out"), "--set", "train.steps=1",
              "--set", override])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert f"{key} must be a number or a pair of numbers" in err
    assert not (tmp_path / "out").exists()


def _config_error(command, text, tmp_path, capsys):
    """``command -c CONFIG --out OUT`` with ``text`` as CONFIG: exit 2, OUT not created; the
    config path and the one error line."""
    config = tmp_path / "mine.yaml"
    config.write_text(text + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "-c", str(config), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return config, err


@pytest.mark.parametrize("data, problem", [
    ("{material: ws2, exit_layer_dimming: abc}", "must be a number or a pair of numbers"),
    ("{material: ws2, twsit_deg: [0, 30]}", "'data.twsit_deg'; did you mean 'data.twist_deg'"),
    ("{microscope: {defocus: [-30, 30]}}", "'data.microscope.defocus'; did you mean"),
])
def test_a_bad_simulator_key_in_a_config_file_names_the_file(data, problem, tmp_path, capsys):
    config, err = _config_error(["stem", "train"], f"data: {data}", tmp_path, capsys)
    assert err.startswith(f"error: {config}: ") and problem in err


@pytest.mark.parametrize("section, problem", [
    ("train: {steps: many}", "config key 'train.steps' must be a whole number, got 'many'"),
    ("loss: {per_species: 3}", "config key 'loss.per_species' must be true or false"),
    ("train: [1, 2]", "config key 'train' must be a section of key: value lines"),
])
def test_a_value_of_the_wrong_kind_names_the_file_and_key(section, problem, tmp_path, capsys):
    """Checked against the default's kind before any work (was a TypeError traceback, exit 1,
    once training reached the value)."""
    config, err = _config_error(["stem", "train"], section, tmp_path, capsys)
    assert err.startswith(f"error: {config}: {problem}")


def test_yaml_exponents_without_a_point_are_numbers():
    """PyYAML reads 1e-3 as a string; where the default is a number it becomes one."""
    from tmdlearn.config import load_config

    cfg = load_config(None, ["train.lr=1e-3", "train.steps=2e3", "train.minutes=null"],
                      {"train": {"lr": 0.1, "steps": 10, "minutes": None}})
    assert cfg["train"] == {"lr": 0.001, "steps": 2000, "minutes": None}
    assert isinstance(cfg["train"]["steps"], int)


@pytest.mark.parametrize("command, section, problem", [
    (["spectra", "fit", "nothing.txt", "-m", "mos2-raman"], "fit: {chunk_size: -1}",
     "config key 'fit.chunk_size' must be at least 1, got -1"),
    (["stem", "train"], "train: {steps: -5}", "config key 'train.steps' must be at least 1"),
    (["afm", "embed", "nothing"], "embed: {n_boot: -1}",
     "config key 'embed.n_boot' must be at least 1, got -1"),
    (["afm", "embed", "nothing"], "embed: {methods: [tsne]}",
     "config key 'embed.methods': unknown 'tsne'; one of umap, pca"),
    (["stem", "train"], "train: {val_images: 0}", "config key 'train.val_images' must be at"),
    (["stem", "train"], "train: {minutes: abc}", "config key 'train.minutes' must be a number"),
    (["stem", "train"], "model: {dropout: 2.0}", "config key 'model.dropout' must be below 1"),
    (["stem", "train"], "model: {norm: batchnorm}", "config key 'model.norm': unknown"),
    (["stem", "train"], "loss: {name: focal}", "config key 'loss.name': unknown 'focal'"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {inputs: [xray]}",
     "config key 'regression.inputs': unknown 'xray'; one of raman, pl"),
    (["crossmodal", "run", "--data", "nothing"], "split: {folds: 1}",
     "config key 'split.folds' must be at least 2"),
    (["crossmodal", "run", "--data", "nothing"], "split: {test_size: 3.5}",
     "config key 'split.test_size' must be a fraction"),
    (["crossmodal", "run", "--data", "nothing"], "split: {test_size: null}",
     "config key 'split.test_size' must be a fraction"),
    (["crossmodal", "run", "--data", "nothing"], "generation: {tasks: [afm->xray]}",
     "config key 'generation.tasks': unknown 'afm->xray'"),
    # counts of classify and explain (trained nothing, or crashed at the end)
    (["classify", "run"], "cv: {n_boot: 0}", "config key 'cv.n_boot' must be at least 1, got 0"),
    (["classify", "run"], "cv: {n_splits: 1}", "config key 'cv.n_splits' must be at least 2"),
    (["classify", "run"], "mlp: {epochs: 0}", "config key 'mlp.epochs' must be at least 1"),
    (["classify", "run"], "image: {epochs: -1}", "config key 'image.epochs' must be at least 1"),
    (["classify", "run"], "image: {batch_size: 0}",
     "config key 'image.batch_size' must be at least 1"),
    (["explain", "run"], "model: {epochs: 0}", "config key 'model.epochs' must be at least 1"),
    (["explain", "run"], "model: {batch_size: -4}",
     "config key 'model.batch_size' must be at least 1"),
    # names checked with the config, not after reading (afm) or training (explain)
    (["afm", "features", "nothing"], "level: {method: planar}",
     "config key 'level.method': unknown 'planar'; one of two-pass, lines, plane"),
    (["afm", "features", "nothing"], "level: {threshold: median}",
     "config key 'level.threshold': unknown 'median'; one of otsu"),
    (["afm", "features", "nothing"], "features: {domain_method: watershed}",
     "config key 'features.domain_method': unknown 'watershed'"),
    (["afm", "features", "nothing"], "features: {threshold: mean}",
     "config key 'features.threshold': unknown 'mean'; one of step, otsu"),
    (["explain", "run"], "interpret: {target: width}",
     "config key 'interpret.target': unknown 'width'; one of position, fwhm, intensity"),
    (["explain", "run"], "interpret: {rank_by: all}", "config key 'interpret.rank_by': unknown"),
    (["explain", "run"], "interpret: {mode: A2}",
     "config key 'interpret.mode': unknown 'A2'; one of M220, Ep, A1p"),
    (["classify", "run"], "latent: {method: tsne}", "config key 'latent.method': unknown"),
    # run.* and spectra preprocess.* (named no file)
    (["afm", "features", "nothing"], "run: {workers: 0}",
     "config key 'run.workers' must be a positive integer or null, got 0"),
    (["classify", "run"], "run: {scheduler: thread}",
     "config key 'run.scheduler': unknown 'thread'; one of auto, threads, processes"),
    (["spectra", "fit", "nothing.txt", "-m", "mos2-raman"], "run: {workers: -2}",
     "config key 'run.workers' must be a positive integer"),
    (["spectra", "fit", "nothing.txt", "-m", "mos2-raman"], "preprocess: {despike: median}",
     "config key 'preprocess.despike': unknown 'median'"),
    (["spectra", "fit", "nothing.txt", "-m", "mos2-raman"], "preprocess: {baseline: arpl}",
     "config key 'preprocess.baseline': unknown 'arpl'; one of none, "),
    (["spectra", "fit", "nothing.txt", "-m", "mos2-raman"], "preprocess: {normalise: l2}",
     "config key 'preprocess.normalise': unknown 'l2'; one of none, minmax, max, area"),
    # a name where a list of names goes, and a list where one name goes
    (["classify", "run"], "heads: logreg",
     "config key 'heads' must be a list of names, e.g. [logreg], got 'logreg'"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {inputs: pl}",
     "config key 'regression.inputs' must be a list of names, e.g. [raman]"),
    (["stem", "train"], "loss: {name: [gomb]}",
     "config key 'loss.name' must be one name, e.g. gomb, got ['gomb']"),
    (["classify", "run"], "transform: [none]", "config key 'transform' must be one name"),
    # crossmodal windows and SVR grid
    (["crossmodal", "run", "--data", "nothing"], "data: {raman_window_cm1: [480, 360]}",
     "config key 'data.raman_window_cm1' must be [low, high] with low < high, got [480, 360]"),
    (["crossmodal", "run", "--data", "nothing"], "data: {pl_window_ev: 1.6}",
     "config key 'data.pl_window_ev' must be [low, high]"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {svr_grid: {C: [1, 0]}}",
     "config key 'regression.svr_grid.C' must be at least 1e-12, got 0"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {svr_grid: {gamma: [scale, -1]}}",
     "config key 'regression.svr_grid.gamma' must be at least 1e-12, got -1"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {svr_grid: {epsilon: [-0.1]}}",
     "config key 'regression.svr_grid.epsilon' must be at least 0"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {svr_grid: {kernel: rbf}}",
     "config key 'regression.svr_grid.kernel' must be a list of values"),
    (["crossmodal", "run", "--data", "nothing"], "regression: {svr_grid: {gama: [1]}}",
     "unknown config key 'regression.svr_grid.gama'; did you mean 'regression.svr_grid.gamma'"),
])
def test_a_value_out_of_range_names_the_file_and_key(command, section, problem, tmp_path,
                                                     capsys):
    """Ranges and names checked with the config, before any input is read (were tracebacks
    or a finished run with no model / NaN fits / PL fitted as 'xray', or the afm embedding's
    cache written before a failure at its end)."""
    config, err = _config_error(command, section, tmp_path, capsys)
    assert err.startswith(f"error: {config}: {problem}")


def test_names_numbers_and_addresses_that_the_workflows_take_pass():
    """The checks refuse only what the code refuses: a threshold number, a pybaselines
    method, a Dask address, gamma scale, epsilon 0."""
    from tmdlearn.afm.workflow import DEFAULTS as AFM
    from tmdlearn.crossmodal.workflow import DEFAULTS as CROSSMODAL
    from tmdlearn.spectra.workflow import DEFAULTS as SPECTRA

    load_config(None, ["level.threshold=1.5", "features.threshold=0.3", "level.method=plane",
                       "run.scheduler=tcp://host:8786", "run.workers=4"], AFM)
    load_config(None, ["preprocess.baseline=arpls", "preprocess.despike=map"], SPECTRA)
    load_config(None, ["regression.svr_grid={C: [1], gamma: [scale, 0.1], epsilon: [0]}",
                       "data.pl_window_ev=[1.5, 2.0]"], CROSSMODAL)


def test_check_among_takes_lists_and_check_one_among_one_name():
    from tmdlearn.config import check_among, check_one_among

    check_among({"m": ["a", "b"], "n": None}, "s.", m="abc", n="abc")
    check_one_among({"m": "a", "n": None}, "s.", m="abc", n="abc")
    with pytest.raises(InputError, match=r"^config key 's.m' must be a list of names, e.g. \[a\]"):
        check_among({"m": "a"}, "s.", m="abc")
    with pytest.raises(InputError, match="^config key 's.m' must be one name, e.g. a, got"):
        check_one_among({"m": ["a"]}, "s.", m="abc")
    with pytest.raises(InputError, match="^config key 's.m': unknown 'd'; one of a, b, c$"):
        check_one_among({"m": "d"}, "s.", m="abc")


@pytest.mark.parametrize("device, problem", [("tpu", "unknown device 'tpu'"),
                                              ("cuda", "torch sees no CUDA GPU")])
def test_a_device_torch_cannot_use_is_an_input_error(device, problem):
    import torch

    from tmdlearn.learn.train import resolve_device

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here")
    with pytest.raises(InputError, match=problem):
        resolve_device(device)


def test_counts_must_be_whole_numbers_and_set_errors_name_the_option(tmp_path):
    """An int default is a count: 2.0 is taken as 2, 1.5 is refused in one line; an error in a
    --set value names the --set item, not the config file the rest came from."""
    from tmdlearn.explain.workflow import DEFAULTS

    config = tmp_path / "explain.yaml"
    config.write_text("model:\n  epochs: 3\n")
    cfg = load_config(config, ["model.epochs=2.0"], DEFAULTS)
    assert cfg["model"]["epochs"] == 2 and isinstance(cfg["model"]["epochs"], int)
    with pytest.raises(InputError) as err:
        load_config(config, ["model.epochs=1.5"], DEFAULTS)
    assert str(err.value) == ("--set model.epochs=1.5: config key 'model.epochs' must be a "
                              "whole number, got 1.5")
    with pytest.raises(InputError) as err:
        load_config(config, ["model.epochz=3"], DEFAULTS)
    assert str(err.value).startswith("--set model.epochz=3: unknown config key 'model.epochz'")
    config.write_text("model:\n  epochs: 1.5\n")
    with pytest.raises(InputError, match=r"explain.yaml: config key 'model.epochs' must be a "
                                         r"whole number"):
        load_config(config, [], DEFAULTS)


def test_relative_paths_in_a_config_file_also_hold_from_another_folder(tmp_path, monkeypatch):
    """configs/classify.yaml names its features file relative to itself: it works from the
    repository and from any other working folder; a path that exists from the working
    folder keeps that meaning."""
    from tmdlearn.classify.workflow import DEFAULTS

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    cfg = load_config(repo / "configs" / "classify.yaml", [], DEFAULTS)
    assert Path(cfg["data"]["features"]).is_file()
    (tmp_path / "here.npz").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "here.npz").write_bytes(b"")
    (tmp_path / "sub" / "c.yaml").write_text("data:\n  features: here.npz\n  latent_features: "
                                             "../sub/here.npz\n")
    cfg = load_config(tmp_path / "sub" / "c.yaml", [], DEFAULTS)
    assert cfg["data"]["features"] == "here.npz"  # the working folder's
    assert cfg["data"]["latent_features"] == str(tmp_path / "sub" / "here.npz")  # beside c.yaml
    monkeypatch.chdir(tmp_path / "sub")
    cfg = load_config(Path("c.yaml"), [], DEFAULTS)
    assert cfg["data"]["latent_features"] == "../sub/here.npz"
