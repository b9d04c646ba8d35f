"""`tmdlearn convert MAP OUT.zarr` and `tmdlearn spectra fit STORE.zarr --out RUN`: a run
folder with a resumable result store; a SIGKILLed run resumes; bad input exits 2 in one line."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from typer.testing import CliRunner

from tmdlearn.cli import app, main
from tmdlearn.engine.results import chunk_log, log_path
from tmdlearn.interop.nexus import write_nexus
from tmdlearn.synth.maps import flake_maps

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    write_nexus(folder / "map.nxs", flake_maps(pixels=10, seed=7).raman)
    result = RUNNER.invoke(app, ["convert", str(folder / "map.nxs"), str(folder / "map.zarr"),
                                 "--chunk-pixels", "64"])
    assert result.exit_code == 0, result.output
    assert "spectral_map, 10 x 10 spectra" in result.output
    return folder / "map.zarr"


def _argv(store, out, *extra):
    return ["spectra", "fit", str(store), "--model", "wse2-raman", "--out", str(out),
            "--scheduler", "threads", "--workers", "1", "--set", "run.chunk_pixels=50", *extra]


def _fit(store, out, *extra):
    return RUNNER.invoke(app, _argv(store, out, *extra))


def _error(capsys, argv) -> str:
    """The one line that ``tmdlearn ARGV`` prints, exiting 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    return err


def _same_stores(first: Path, second: Path) -> None:
    a, b = zarr.open_group(first, mode="r"), zarr.open_group(second, mode="r")
    assert sorted(a.array_keys()) == sorted(b.array_keys())
    for name in a.array_keys():
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)


def test_fit_a_store_into_a_run_folder_and_run_it_again(store, tmp_path, capsys):
    result = _fit(store, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "fitted 100 of 100 spectra" in result.output and "2 of 2 chunks fitted now" in \
        result.output
    table = pd.read_csv(tmp_path / "run" / "tables" / "fits.csv")  # a small map: its table too
    assert len(table) == 100 and {"A1p_center", "A1p_center_stderr", "verdict"} <= set(table)
    fits = zarr.open_group(tmp_path / "run" / "fits.zarr", mode="r")
    assert fits["A1p_center"].shape == (10, 10) and fits["A1p_center"].chunks == (5, 10)
    assert fits.attrs["verdict_names"]["0"] == "ok" and fits.attrs["status_names"]["-1"] == \
        "masked"
    np.testing.assert_allclose(fits["A1p_center"][:].ravel(), table["A1p_center"])
    again = _fit(store, tmp_path / "run")
    assert again.exit_code == 0 and "0 of 2 chunks fitted now, 2 already done" in again.output
    assert "different command" in _error(capsys, _argv(store, tmp_path / "run",
                                                      "--set", "fit.max_iter=3"))


def test_bad_commands_on_a_store_exit_2_in_one_line(store, tmp_path, capsys):
    fit = ["spectra", "fit", str(store), "-m", "wse2-raman"]
    assert "run folder" in _error(capsys, fit + ["--out", str(tmp_path / "fits.csv")])
    assert "in memory" in _error(capsys, fit + ["--out", str(tmp_path / "r"), "--figure",
                                                str(tmp_path / "f.png")])
    zarr.open_group(tmp_path / "bare.zarr", mode="w").create_array("intensity", shape=(2, 2, 3),
                                                                   dtype="float64")
    assert "bare.zarr: the zarr store has no axis metadata" in _error(
        capsys, ["spectra", "fit", str(tmp_path / "bare.zarr"), "-m", "wse2-raman", "--out",
                 str(tmp_path / "r")])
    assert "spectra fit" in _error(capsys, ["spectra", "features", str(store), "-m",
                                            "wse2-raman", "--out", str(tmp_path / "v.csv")])
    assert not (tmp_path / "fits.csv").exists() and not (tmp_path / "v.csv").exists()


@pytest.mark.slow  # two CLI processes: about 20 s
def test_a_sigkilled_run_resumes_to_the_uninterrupted_store(store, tmp_path):
    command = [sys.executable, "-m", "tmdlearn", "spectra", "fit", str(store), "--model",
               "wse2-raman", "--out", str(tmp_path / "killed"), "--scheduler", "threads",
               "--workers", "1", "--set", "run.chunk_pixels=10"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    log = log_path(tmp_path / "killed" / "fits.zarr")
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(chunk_log(log.parent /
                                                                          "fits.zarr")) < 3):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(chunk_log(tmp_path / "killed" / "fits.zarr"))
    assert 3 <= before < 10  # killed part-way
    resumed = RUNNER.invoke(app, command[3:])
    assert resumed.exit_code == 0, resumed.output
    assert f"{10 - before} of 10 chunks fitted now, {before} already done" in resumed.output
    assert max(collections.Counter(chunk_log(tmp_path / "killed" / "fits.zarr")).values()) == 1
    whole = RUNNER.invoke(app, command[3:8] + ["--out", str(tmp_path / "whole")] + command[10:])
    assert whole.exit_code == 0, whole.output
    _same_stores(tmp_path / "whole" / "fits.zarr", tmp_path / "killed" / "fits.zarr")
