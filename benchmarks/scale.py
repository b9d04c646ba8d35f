"""Benchmark (#25): a synthetic Raman map in a zarr store, fitted end to end out of core.

The map (``--spectra`` spectra of 202 points, MoS2 E2g / A1g / 2LA Lorentzians on a linear
background with noise, as benchmarks/peak_fit.py, known truth) is synthesised straight into a
zarr map store a chunk at a time, with its truth beside the intensity. ``tmdlearn spectra
fit STORE --out RUN --scheduler processes`` then runs as a subprocess, its whole process tree
(the command and its Dask workers) sampled for peak RSS:

* a quarter of the map with 1 and 2 worker processes (spectra/s and their ratio) and the whole
  map with 2 (wall time and peak RSS against N);
* the median |fitted - true| A1g / E2g centre on the first ``--subset`` spectra, from the
  result store and from the in-memory path (``workflow.run`` on the same spectra in memory);
* a quarter-map run killed (SIGKILL, the whole tree) at about 50 % of its chunks and started
  again with the same command: its store against the uninterrupted one, chunks fitted twice.

Prints ONE JSON object::

    python benchmarks/scale.py                                # 2,000,000 (0.5 M and 2 M)
    nice -n 10 python benchmarks/scale.py --spectra 100000    # a quick check
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import zarr

from peak_fit import AXIS, synthetic  # a sibling script (benchmarks/ on the path)
from tmdlearn.data import SpectralMap
from tmdlearn.engine.results import chunk_log, log_path
from tmdlearn.engine.zarrstore import open_map_store, row_blocks
from tmdlearn.spectra import load_model, workflow

MODEL = "mos2-raman"
TRUTH = ("E2g_center", "A1g_center")


def synth_store(path: Path, n: int, width: int, chunk_pixels: int, seed: int) -> None:
    """A (n / width, width) map store of float32 spectra and its true centres, chunk by chunk;
    chunk i is drawn from seed (seed, i), so a smaller map is the top of a larger one."""
    rows = max(1, chunk_pixels // width)
    ny = n // width
    group = zarr.open_group(path, mode="w")
    intensity = group.create_array("intensity", shape=(ny, width, AXIS.size), dtype="float32",
                                   chunks=(rows, width, AXIS.size))
    truth = {name: group.create_array(f"truth_{name}", shape=(ny, width), dtype="float64",
                                      chunks=(rows, width)) for name in TRUTH}
    for i, block in enumerate(row_blocks(ny, rows)):
        count = (block.stop - block.start) * width
        y, planted = synthetic(count, [seed, i], dtype=np.float32)
        intensity[block] = y.reshape(-1, width, AXIS.size)
        for name, array in truth.items():
            array[block] = planted[name].reshape(-1, width)
    group.attrs.update(kind="spectral_map", axis=AXIS.tolist(), unit="cm-1", step_um=1.0,
                       excitation_nm=532.0,
                       provenance={"synthetic": "benchmarks/scale.py", "seed": seed})


def command(store: Path, out: Path, workers: int, chunk_pixels: int) -> list[str]:
    """The CLI command fitting ``store`` into the run folder ``out``."""
    return [sys.executable, "-m", "tmdlearn", "spectra", "fit", str(store), "--model", MODEL,
            "--out", str(out), "--scheduler", "processes", "--workers", str(workers),
            "--set", f"run.chunk_pixels={chunk_pixels}"]


def tree_rss(process: psutil.Process) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(argv: list[str], kill_at_chunks: int | None = None, log: Path | None = None) -> dict:
    """Run ``argv``; wall time (s) and peak RSS (MB) of its process tree, sampled every 0.1 s.
    With ``kill_at_chunks``, SIGKILL the whole tree once ``log`` lists that many chunks."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    process, peak, killed = psutil.Process(child.pid), 0, False
    while child.poll() is None:
        peak = max(peak, tree_rss(process))
        if kill_at_chunks is not None and log.exists() and \
                len(chunk_log(log.with_suffix(""))) >= kill_at_chunks:
            for p in [*process.children(recursive=True), process]:
                try:
                    p.send_signal(signal.SIGKILL)
                except psutil.Error:
                    pass
            killed = True
            child.wait()
            break
        time.sleep(0.1)
    output = child.stdout.read()
    if not killed and child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{output}")
    return {"wall_s": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(peak / 2**20, 1), "killed": killed,
            "output": output.strip().splitlines()[-2:]}


def fit_run(store: Path, out: Path, workers: int, chunk_pixels: int) -> dict:
    """One measured CLI fit: wall time, peak RSS and spectra per second, end to end (with the
    interpreter's and the cluster's start-up) and steady (between the first and the last chunk
    written, from the chunk log's times)."""
    data = open_map_store(store)
    result = run(command(store, out, workers, chunk_pixels))
    lines = log_path(out / "fits.zarr").read_text(encoding="utf-8").splitlines()
    times = sorted(float(line.split()[2]) for line in lines)
    per_chunk = max(1, chunk_pixels // data.shape[1]) * data.shape[1]
    steady = per_chunk * (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None
    return {"spectra": data.n_pixels, "workers": workers, **result,
            "spectra_per_s": round(data.n_pixels / result["wall_s"], 1),
            "steady_spectra_per_s": round(steady, 1) if steady else None}


def accuracy(store: Path, fits: Path, subset: int) -> dict:
    """Median |fitted - true| centre (cm⁻¹) on the first ``subset`` spectra, from the result
    store and from the in-memory path on the same spectra."""
    data = open_map_store(store)
    rows = slice(0, max(1, subset // data.shape[1]))
    spectral_map = SpectralMap(data.read(rows), data.axis, data.unit, data.step_um,
                               data.excitation_nm)
    cfg = copy.deepcopy(workflow.DEFAULTS)
    cfg["data"]["model"] = MODEL
    memory = workflow.run({"model": load_model(MODEL), "items": [(store, spectral_map)]}, cfg,
                          progress=False)
    fit = memory.details["maps"][0][3]
    group, result = zarr.open_group(store, mode="r"), zarr.open_group(fits, mode="r")
    out = {"spectra": int(fit.values.shape[0])}
    for name in TRUTH:
        truth = group[f"truth_{name}"][rows].ravel()
        chunked = result[name][rows].ravel()
        out[f"median_error_{name}_cm1"] = float(np.nanmedian(np.abs(chunked - truth)))
        out[f"median_error_{name}_in_memory_cm1"] = float(np.nanmedian(np.abs(fit[name] - truth)))
        out[f"max_difference_{name}_cm1"] = float(np.nanmax(np.abs(chunked - fit[name])))
    return out


def same_stores(first: Path, second: Path) -> bool:
    """Whether two result stores hold the same arrays (NaN equal to NaN)."""
    a, b = zarr.open_group(first, mode="r"), zarr.open_group(second, mode="r")
    names = sorted(a.array_keys())
    return names == sorted(b.array_keys()) and all(
        np.array_equal(a[k][:], b[k][:], equal_nan=a[k].dtype.kind == "f") for k in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=2_000_000)
    parser.add_argument("--width", type=int, default=1000, help="map pixels per row")
    parser.add_argument("--chunk-pixels", type=int, default=16384)
    parser.add_argument("--subset", type=int, default=20_000, help="spectra for accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    if args.spectra % (4 * args.width):
        raise SystemExit("--spectra must be a multiple of 4 x --width")
    work = Path(tempfile.mkdtemp(prefix="tmdlearn-scale-", dir=args.workdir))
    try:
        quarter, full = work / "quarter.zarr", work / "full.zarr"
        started = time.perf_counter()
        synth_store(quarter, args.spectra // 4, args.width, args.chunk_pixels, args.seed)
        synth_store(full, args.spectra, args.width, args.chunk_pixels, args.seed)
        synth_s = time.perf_counter() - started
        one = fit_run(quarter, work / "q1", 1, args.chunk_pixels)
        two = fit_run(quarter, work / "q2", 2, args.chunk_pixels)
        whole = fit_run(full, work / "full", 2, args.chunk_pixels)
        reference = work / "q2" / "fits.zarr"
        n_chunks = len(row_blocks(args.spectra // 4 // args.width,
                                  max(1, args.chunk_pixels // args.width)))
        argv = command(quarter, work / "killed", 2, args.chunk_pixels)
        killed_log = log_path(work / "killed" / "fits.zarr")
        killed = run(argv, kill_at_chunks=max(1, n_chunks // 2), log=killed_log)
        before = len(set(chunk_log(work / "killed" / "fits.zarr")))
        resumed = run(argv)
        counts = collections.Counter(chunk_log(work / "killed" / "fits.zarr"))
        report = {
            "benchmark": "scale", "model": MODEL, "points": int(AXIS.size),
            "chunk_pixels": args.chunk_pixels, "cpu_count": os.cpu_count(),
            "synthesis_s": round(synth_s, 1),
            "quarter_1_worker": one, "quarter_2_workers": two, "full_2_workers": whole,
            "speedup_2_vs_1_workers": round(two["spectra_per_s"] / one["spectra_per_s"], 2),
            "steady_speedup_2_vs_1_workers": round(
                two["steady_spectra_per_s"] / one["steady_spectra_per_s"], 2),
            "peak_rss_mb_full_over_quarter": round(whole["peak_rss_mb"] / two["peak_rss_mb"], 2),
            "accuracy": accuracy(quarter, reference, args.subset),
            "resume": {"chunks": n_chunks, "killed_after_chunks": before,
                       "killed": killed["killed"], "resumed_wall_s": resumed["wall_s"],
                       "resumed_output": resumed["output"],
                       "identical_to_uninterrupted": same_stores(reference,
                                                                 work / "killed" / "fits.zarr"),
                       "chunks_fitted_twice": sum(1 for c in counts.values() if c > 1),
                       "chunks_done": int(zarr.open_array(work / "killed" / "fits.zarr" /
                                                          "done")[:].sum())},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
