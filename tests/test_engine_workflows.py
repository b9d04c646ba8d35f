"""Every batch workflow gives the same tables and metrics on threads and on a local Dask
cluster of two processes, and a scheduler address that does not answer is one line, exit 2,
within seconds. The cluster tests are slow (``-m slow``): a cluster's workers import torch and
compile the numba kernels once each."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pandas as pd
import pytest

from tmdlearn.cli import main
from tmdlearn.engine import scheduler as scheduler_module
from tmdlearn.io import write_height_map
from tmdlearn.synth.film import film_state, render_afm, sample_growth

pytestmark = pytest.mark.usefixtures("one_torch_thread")

THREADS = ["--scheduler", "threads", "--workers", "2"]


@pytest.fixture(scope="module")
def cluster():
    """The address of a local cluster of two single-threaded worker processes, shared by the
    tests of this module (the same cluster ``--scheduler processes --workers 2`` starts)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local:
        yield ["--scheduler", local.scheduler_address]


def _run(argv) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code or 0


def _same_tables(first, second, names):
    for name in names:
        pd.testing.assert_frame_equal(pd.read_csv(first / name), pd.read_csv(second / name),
                                      rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def afm_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    for i in range(5):
        rng = np.random.default_rng(i)
        hm, _ = render_afm(film_state(sample_growth(rng), "center", rng), 1.0, 96, rng)
        write_height_map(folder / f"m{i}.npz", hm)
    return folder


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_afm_features_are_the_same_on_threads_and_processes(afm_folder, tmp_path):
    engines = {"threads": THREADS, "processes": ["--scheduler", "processes", "--workers", "2"]}
    for name, engine in engines.items():
        assert _run(["afm", "features", str(afm_folder), "-o", str(tmp_path / name),
                     *engine]) == 0
    _same_tables(tmp_path / "threads", tmp_path / "processes", ["features.csv"])


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_afm_embed_is_the_same_on_threads_and_a_cluster(afm_folder, cluster, tmp_path):
    outs = []
    for i, engine in enumerate((THREADS, cluster)):
        out = tmp_path / str(i)
        assert _run(["afm", "embed", str(afm_folder), "-o", str(out), *engine,
                     "--set", "embed.n_boot=50", "--set", "embed.size=64",
                     "--set", "embed.device=cpu", "--set", "embed.batch_size=2",
                     "--set", "embed.methods=[pca]", "--set", "embed.cache=false"]) == 0
        outs.append(out)
    _same_tables(*outs, ["features.csv", "embedding.csv", "correlations.csv"])


def test_an_address_that_does_not_answer_is_one_line_and_exit_2(afm_folder, tmp_path,
                                                                 monkeypatch, capsys):
    monkeypatch.setattr(scheduler_module, "CONNECT_TIMEOUT_S", 2)
    started = time.monotonic()
    assert _run(["afm", "features", str(afm_folder), "-o", str(tmp_path / "out"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no Dask scheduler answers at tcp://127.0.0.1:9" in err
    assert "\n" not in err
    assert not (tmp_path / "out" / "features.csv").exists()




@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_classify_folds_are_the_same_on_threads_and_a_cluster(test_data, cluster, tmp_path):
    data = np.load(test_data / "tmd-afm-features" / "resnet18_imagenet_512.npz")
    keep = np.isin(data["sample_id"], np.unique(data["sample_id"])[::3])
    path = tmp_path / "small.npz"
    np.savez(path, features=data["features"][keep], targets=data["targets"][keep],
             sample_id=data["sample_id"][keep])
    outs = []
    for i, engine in enumerate((THREADS, cluster)):
        out = tmp_path / str(i)
        assert _run(["classify", "features", str(path), "-o", str(out), *engine,
                     "--head", "logreg", "--head", "mlp", "--no-tune", "--set", "mlp.epochs=5",
                     "--set", "transforms=[standardise]", "--set", "cv.n_boot=50",
                     "--set", "cv.n_splits=3"]) == 0
        outs.append(out)
    _same_tables(*(o / "tables" for o in outs), ["comparison.csv", "per_class_mlp.csv"])
    first, second = (json.loads((o / "metrics.json").read_text()) for o in outs)
    assert first["mlp"]["accuracy"]["folds"] == pytest.approx(second["mlp"]["accuracy"]["folds"],
                                                              abs=1e-6)


def _frames_equal(first: dict, second: dict):
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_crossmodal_searches_are_the_same_on_threads_and_a_cluster(cluster):
    from crossmodal_planted import planted
    from tmdlearn.crossmodal.workflow import run

    data, _ = planted(n_samples=12, seed=0)
    cfg = {"device": "cpu", "embedding": {"methods": ["pca"]},
           "regression": {"inputs": ["raman"], "models": ["mlp"], "physical": [],
                          "mlp": {"trials": 1, "epochs": 5}},
           "generation": {"tasks": ["afm->raman"], "trials": 1, "folds": 2, "epochs": 3},
           "heads": {"epochs": 3}}
    outcomes = [run(data, {**cfg, "run": {"scheduler": scheduler, "workers": 2}})
                for scheduler in ("threads", cluster[1])]
    _frames_equal(*(o.tables for o in outcomes))
    assert outcomes[0].metrics == pytest.approx(outcomes[1].metrics, abs=1e-6)


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_explain_pairs_are_the_same_on_threads_and_a_cluster(cluster):
    from explain_planted import planted_pair
    from tmdlearn.explain.workflow import DEFAULTS, run

    pairs = [{"name": f"p{seed}", **planted_pair(n=16, seed=seed)} for seed in (1, 2)]
    cfg = json.loads(json.dumps(DEFAULTS))
    cfg["model"].update(epochs=2, width=4)
    cfg["interpret"].update(grid_resolution=4, pdp_samples=20, ice_curves=5)
    outcomes = []
    for scheduler in ("threads", cluster[1]):
        cfg["run"] = {"scheduler": scheduler, "workers": 2}
        outcomes.append(run(pairs, cfg, progress=False))
    _frames_equal(*(o.tables for o in outcomes))
    assert outcomes[0].metrics == pytest.approx(outcomes[1].metrics, abs=1e-6)


@pytest.mark.slow  # local cluster start-up and imports on each worker: 20-50 s
def test_stem_predict_on_a_folder_is_the_same_on_threads_and_a_cluster(cluster, tmp_path):
    from tmdlearn.data.containers import StemImage
    from tmdlearn.io.write import write_stem
    from tmdlearn.synth.stem import StemSimConfig, simulate_image

    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(3):
        sample = simulate_image(StemSimConfig(size_px=64), seed=k)
        write_stem(folder / f"img{k}.tif", StemImage(sample.image, sample.pixel_size_angstrom))
    outs = []
    for i, engine in enumerate((THREADS, cluster)):
        out = tmp_path / str(i)
        assert _run(["stem", "predict", str(folder), "--out", str(out), "--device", "cpu",
                     *engine]) == 0
        outs.append(out)
    _same_tables(*outs, ["summary.csv", *(f"img{k}.tif/atoms.csv" for k in range(3))])


def test_auto_keeps_small_work_on_one_thread_and_bad_workers_are_refused():
    from tmdlearn.engine import workflow_engine
    from tmdlearn.errors import InputError

    with workflow_engine({"scheduler": "auto", "workers": None}, 10, 256) as engine:
        assert (engine.scheduler, engine.workers, engine.client) == ("threads", 1, None)
    with workflow_engine({"scheduler": "threads", "workers": 4}, 10, 256) as engine:
        assert engine.workers == 4
    with workflow_engine({"scheduler": "threads", "workers": 4}, 10, 256,
                         parallel_threads=False) as engine:
        assert engine.workers == 1  # torch seeds and pyplot are per process
    for bad in (0, 2.5, True, "2"):
        with pytest.raises(InputError, match="'run.workers' must be a positive integer"):
            with workflow_engine({"scheduler": "threads", "workers": bad}, 10, 256):
                pass
