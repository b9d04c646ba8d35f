"""Map stores: written chunk by chunk with their axis, units and provenance, read back lazily
and whole; bad stores named in one line; the output lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import zarr

from tmdlearn import __version__
from tmdlearn.data import Spectra
from tmdlearn.engine.convert import convert_to_store
from tmdlearn.engine.lock import lock_path, output_lock
from tmdlearn.engine.zarrstore import open_map_store, write_map_store
from tmdlearn.errors import InputError
from tmdlearn.interop.nexus import write_nexus
from tmdlearn.io import read
from tmdlearn.io.digest import sha256
from tmdlearn.synth.maps import flake_maps


@pytest.fixture(scope="module")
def raman():
    return flake_maps(pixels=12, seed=5).raman


def test_a_map_file_round_trips_through_a_store(raman, tmp_path):
    source = tmp_path / "map.nxs"
    write_nexus(source, raman)
    store = convert_to_store(source, tmp_path / "map.zarr", chunk_pixels=40)
    original, back = read(source), read(tmp_path / "map.zarr")
    np.testing.assert_array_equal(back.intensity, original.intensity)
    np.testing.assert_array_equal(back.axis, original.axis)
    assert (back.unit, back.step_um, back.excitation_nm, back.origin_um) == \
        (original.unit, original.step_um, original.excitation_nm, original.origin_um)
    assert store.kind == "spectral_map" and store.shape == (12, 12) and store.chunk_rows == 3
    assert zarr.open_array(tmp_path / "map.zarr" / "intensity").chunks == (3, 12, raman.axis.size)
    provenance = store.attrs["provenance"]
    assert provenance["tmdlearn"] == __version__
    assert provenance["sources"] == [{"path": str(source.resolve()), "sha256": sha256(source)}]
    np.testing.assert_array_equal(store.read(slice(4, 6)), original.intensity[4:6])
    # a store copied into another chunking, a chunk at a time, holds the same map
    copy = convert_to_store(tmp_path / "map.zarr", tmp_path / "copy.zarr", chunk_pixels=60)
    assert copy.chunk_rows == 5 and len(copy.attrs["provenance"]["sources"]) == 2
    np.testing.assert_array_equal(read(tmp_path / "copy.zarr").intensity, original.intensity)
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, renamed


def test_a_folder_of_spectra_becomes_a_stack_and_needs_one_axis(tmp_path):
    x = np.linspace(350, 450, 101)
    folder = tmp_path / "spectra"
    folder.mkdir()
    for i in range(5):
        np.savetxt(folder / f"s{i}.txt", np.column_stack([x, 10 + i + np.sin(x / 7)]))
    store = convert_to_store(folder, tmp_path / "stack.zarr", chunk_pixels=2)
    stack = read(tmp_path / "stack.zarr")
    assert isinstance(stack, Spectra) and stack.intensity.shape == (5, 101)
    assert store.kind == "spectra" and store.chunk_rows == 2
    np.testing.assert_allclose(stack.intensity[3], 13 + np.sin(x / 7))
    assert [s["path"] for s in store.attrs["provenance"]["sources"]][0].endswith("s0.txt")
    np.savetxt(folder / "s9.txt", np.column_stack([x[:-1], x[:-1]]))
    with pytest.raises(InputError, match="one common axis") as caught:
        convert_to_store(folder, tmp_path / "bad.zarr")
    assert caught.value.path.name == "s9.txt" and not (tmp_path / "bad.zarr").exists()


def test_bad_stores_are_named_in_one_line(raman, tmp_path):
    bare = zarr.open_group(tmp_path / "bare.zarr", mode="w")
    bare.create_array("intensity", shape=(4, 4, 10), dtype="float64")
    with pytest.raises(InputError, match="no axis metadata") as caught:
        read(tmp_path / "bare.zarr")
    assert caught.value.path.name == "bare.zarr"
    bare.attrs.update(axis=list(range(9)), unit="cm-1", step_um=1.0)
    with pytest.raises(InputError, match="last axis has 10 points but the axis 9"):
        open_map_store(tmp_path / "bare.zarr")
    zarr.open_group(tmp_path / "empty.zarr", mode="w")
    with pytest.raises(InputError, match="no 'intensity' array"):
        open_map_store(tmp_path / "empty.zarr")
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(InputError, match="not a zarr store"):
        write_map_store(tmp_path / "file.zarr", raman)


def test_one_writer_holds_the_lock_and_a_dead_one_is_taken_over(tmp_path):
    target = tmp_path / "fits.zarr"
    with output_lock(target) as held:
        holder = json.loads(held.read_text())
        assert holder == {"host": socket.gethostname(), "pid": os.getpid()}
        with pytest.raises(InputError, match=f"pid {os.getpid()} on") as caught:
            with output_lock(target):
                pass
        assert caught.value.path == target
    assert not lock_path(target).exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid no longer runs
    lock_path(target).write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    with output_lock(target) as held:
        assert json.loads(held.read_text())["pid"] == os.getpid()
    lock_path(target).write_text(json.dumps({"host": "elsewhere", "pid": dead.pid}))
    with pytest.raises(InputError, match="elsewhere"):  # another host's run: never taken over
        with output_lock(target):
            pass
