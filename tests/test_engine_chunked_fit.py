"""A zarr map store fitted a chunk at a time: the same numbers as the in-memory path whatever
the scheduler and the chunking, resumable after a crash or a full disk, one writer at a time."""

from __future__ import annotations

import copy
import errno

import numpy as np
import pytest
import zarr

from tmdlearn.engine import results as results_module
from tmdlearn.engine.lock import output_lock
from tmdlearn.engine.results import ResultStore, chunk_log
from tmdlearn.engine.zarrstore import write_map_store
from tmdlearn.errors import InputError
from tmdlearn.report.outdir import prepare_out
from tmdlearn.spectra import load_model, workflow
from tmdlearn.synth.maps import flake_maps


@pytest.fixture(scope="module")
def flake(tmp_path_factory):
    """A 16 x 16 WSe2 flake map (planted A1' centres) and its map store, 3 rows per chunk."""
    maps = flake_maps(pixels=16, seed=3)
    store = tmp_path_factory.mktemp("flake") / "map.zarr"
    write_map_store(store, maps.raman, chunk_pixels=48)
    return maps, store


@pytest.fixture(scope="module")
def reference(flake, tmp_path_factory):
    """The flake store fitted in one go (threads, 1 worker, 4 rows per chunk)."""
    store = tmp_path_factory.mktemp("reference") / "whole.zarr"
    _fit(flake[1], store)
    return store


def _config(source, store, **run):
    cfg = copy.deepcopy(workflow.DEFAULTS)
    cfg["data"].update(inputs=[str(source)], model="wse2-raman")
    cfg["mask"]["method"] = "corners"
    cfg["run"].update({"store": str(store), "scheduler": "threads", "workers": 1,
                       "chunk_pixels": 64, **run})
    return cfg


def _fit(source, store, **run):
    cfg = _config(source, store, **run)
    return workflow.run(workflow.load(cfg), cfg, progress=False)


def _arrays(store) -> dict[str, np.ndarray]:
    """Every result array of a store (not the done flags: one per chunk)."""
    group = zarr.open_group(store, mode="r")
    return {name: group[name][:] for name in sorted(group.array_keys()) if name != "done"}


def _assert_same(first, second, exact=False):
    a, b = _arrays(first), _arrays(second)
    assert a.keys() == b.keys()
    for name in a:
        if exact or a[name].dtype.kind != "f":
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        else:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.slow  # a local cluster's start-up: about 15 s on two busy cores
def test_two_processes_and_another_chunking_give_the_same_store(flake, reference, tmp_path):
    _, source = flake
    one = _fit(source, tmp_path / "again.zarr")
    processes = _fit(source, tmp_path / "processes.zarr", scheduler="processes", workers=2,
                     chunk_pixels=16 * 2)
    _assert_same(reference, tmp_path / "processes.zarr")
    assert zarr.open_array(tmp_path / "processes.zarr" / "r2").chunks == (2, 16)
    assert processes.metrics == {**one.metrics, "chunks": 8, "chunks_fitted": 8}


def test_threads_and_chunkings_give_the_in_memory_fits(flake, reference, tmp_path):
    maps, source = flake
    one = _fit(source, tmp_path / "threads1.zarr")
    two = _fit(source, tmp_path / "threads2.zarr", workers=2, chunk_pixels=16 * 5)
    _assert_same(tmp_path / "threads1.zarr", tmp_path / "threads2.zarr")
    _assert_same(tmp_path / "threads1.zarr", reference, exact=True)  # run to run: bit for bit
    assert zarr.open_array(tmp_path / "threads2.zarr" / "r2").chunks == (5, 16)
    assert one.metrics == two.metrics and one.metrics["pixels"] == 256
    # the in-memory path on the same map: the same pixels, the same numbers, the same verdicts
    cfg = _config(source, None)
    memory = workflow.run({"model": load_model("wse2-raman"), "items": [(source, maps.raman)]},
                          cfg, progress=False)
    chunked, table = one.tables["fits"], memory.tables["fits"]
    fit = memory.details["maps"][0][3]  # the table blanks absent peaks; the store keeps them
    assert len(chunked) == len(table) == one.metrics["spectra"] > 50
    for column in ("x_um", "y_um", "r2"):
        np.testing.assert_allclose(chunked[column], table[column], rtol=1e-6, err_msg=column)
    for i, name in enumerate(fit.names):
        np.testing.assert_allclose(chunked[name], fit.values[:, i], rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(chunked[f"{name}_stderr"], fit.stderr[:, i], rtol=1e-6)
    assert list(chunked["verdict"]) == list(table["verdict"])
    # and the fits find the planted A1' centres of the flake, within the 0.9 cm-1 channel
    ok = (table["verdict"] == "ok").to_numpy()
    rows, cols = (table[["y_um", "x_um"]].to_numpy() / maps.raman.step_um).round().astype(int).T
    error = np.abs(chunked["A1p_center"].to_numpy() - maps.a1_center_cm1[rows, cols])[ok]
    assert ok.sum() > 50 and np.median(error) < 0.5


def test_a_crash_resumes_without_fitting_a_chunk_twice(flake, reference, tmp_path, monkeypatch):
    _, source = flake
    write_chunk, written = ResultStore.write_chunk, []

    def crashing(self, index, values):
        if len(written) == 2:
            raise RuntimeError("planted crash")
        write_chunk(self, index, values)
        written.append(index)

    monkeypatch.setattr(ResultStore, "write_chunk", crashing)
    with pytest.raises(RuntimeError, match="planted crash"):
        _fit(source, tmp_path / "resumed.zarr")
    monkeypatch.setattr(ResultStore, "write_chunk", write_chunk)
    assert ResultStore(tmp_path / "resumed.zarr", (16, 16), 4).done().sum() == 2
    resumed = _fit(source, tmp_path / "resumed.zarr")
    assert resumed.metrics["chunks_found_done"] == 2 and resumed.metrics["chunks_fitted"] == 2
    assert sorted(chunk_log(tmp_path / "resumed.zarr")) == [0, 1, 2, 3]  # none twice, none lost
    _assert_same(reference, tmp_path / "resumed.zarr", exact=True)
    again = _fit(source, tmp_path / "resumed.zarr")  # complete: nothing left to fit
    assert again.metrics["chunks_fitted"] == 0 and again.metrics == {**resumed.metrics,
                                                                     "chunks_fitted": 0,
                                                                     "chunks_found_done": 4}


def test_a_full_disk_keeps_the_chunks_done_and_resumes(flake, reference, tmp_path, monkeypatch):
    _, source = flake
    write_block, calls = results_module._write_block, []

    def filling(array, rows, block):
        calls.append(rows)
        if len(calls) > 150:  # past the first chunks' arrays
            raise OSError(errno.ENOSPC, "No space left on device")
        write_block(array, rows, block)

    monkeypatch.setattr(results_module, "_write_block", filling)
    with pytest.raises(InputError, match="disk is full") as caught:
        _fit(source, tmp_path / "full.zarr")
    assert caught.value.path.name == "full.zarr" and "\n" not in str(caught.value)
    monkeypatch.setattr(results_module, "_write_block", write_block)
    kept = ResultStore(tmp_path / "full.zarr", (16, 16), 4).done()
    assert 0 < kept.sum() < 4
    resumed = _fit(source, tmp_path / "full.zarr")
    assert resumed.metrics["chunks_found_done"] == kept.sum()
    _assert_same(reference, tmp_path / "full.zarr", exact=True)


def test_a_second_writer_another_command_or_chunking_are_refused(flake, tmp_path):
    _, source = flake
    store = tmp_path / "fits.zarr"
    with output_lock(store), pytest.raises(InputError, match="another run .*pid"):
        _fit(source, store)
    _fit(source, store, chunk_pixels=16 * 8)
    assert prepare_out(tmp_path) == tmp_path  # no run.json yet: resumable all the same
    with pytest.raises(InputError, match="not a tmdlearn run folder"):
        prepare_out(source.parent)  # a map store is not a result store
    with pytest.raises(InputError, match="mismatched chunk shapes"):
        _fit(source, store)
    cfg = _config(source, store, chunk_pixels=16 * 8)
    cfg["fit"]["max_iter"] = 5
    with pytest.raises(InputError, match="different command"):
        workflow.run(workflow.load(cfg), cfg, progress=False)
    cfg["run"]["overwrite"] = True
    assert workflow.run(workflow.load(cfg), cfg, progress=False).metrics["chunks_fitted"] == 2
    cfg["preprocess"]["despike"] = "map"
    with pytest.raises(InputError, match="despike map .* chunk at a time"):
        workflow.run(workflow.load(cfg), cfg, progress=False)
