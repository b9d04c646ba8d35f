"""Every batch workflow gives the same tables and metrics on threads and on a local Dask
cluster of two processes, and a scheduler address that does not answer is one line, exit 2,
within seconds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tmdlearn.cli import main
from tmdlearn.engine import scheduler as scheduler_module
from tmdlearn.io import write_height_map
from tmdlearn.synth.film import film_state, render_afm, sample_growth

ENGINES = (["--scheduler", "threads", "--workers", "2"],
           ["--scheduler", "processes", "--workers", "2"])


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


def test_afm_embed_is_the_same_on_threads_and_processes(afm_folder, tmp_path):
    outs = []
    for engine in ENGINES:
        out = tmp_path / engine[1]
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
