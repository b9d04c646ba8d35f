"""Per-worker throughput of the engine's batch workflows: AFM levelling + features (images/s)
and classification folds (folds/s), on one thread and on a local Dask cluster of 1 and 2
single-threaded worker processes.

Prints one JSON object (also written to ``--json``). Each engine is started once, warmed up
(imports, numba compilation on every worker) and then timed on the same work, so the rates are
the steady throughput a long archive run sees; the cluster's start-up is reported apart. The
CPU seconds per image / fold (this process's or the workers' process time, which other jobs on
the machine barely change) give the rate of one dedicated core, and the client's CPU seconds
what this process spends sending each task and receiving its result; the load average at the start
says how busy the machine was (the wall-clock rates fall when other jobs share the cores).
Run: ``nice -n 10 PYTHONPATH=src python benchmarks/scale_workflows.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

import numpy as np

from tmdlearn.afm.batch import map_images
from tmdlearn.afm.workflow import level_and_featurise
from tmdlearn.classify.evaluate import cross_validate_many
from tmdlearn.classify.heads import make_head
from tmdlearn.engine import open_engine
from tmdlearn.synth.film import film_state, render_afm, sample_growth

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ROOT / "tests" / "data" / "tmd-afm-features" / "resnet18_imagenet_512.npz"
ENGINES = (("threads", 1), ("processes", 1), ("processes", 2))


def afm_images(n: int) -> list:
    """``n`` synthetic 512 x 512 px AFM height maps (2 µm scans), image i drawn from seed i."""
    return [render_afm(film_state(sample_growth(rng), "center", rng), 2.0, 512, rng)[0]
            for rng in map(np.random.default_rng, range(n))]


def write_result(result: dict, path: Path) -> dict:
    """Write ``result`` as JSON to ``path`` and print it on one line; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return result


def _afm(engine, images) -> None:
    """``afm features`` as the workflow runs it: each image levelled and featurised in one
    task, only its features coming back."""
    map_images(partial(level_and_featurise, level_options={}, feature_options={}), images,
               engine=engine)


def _folds(engine, data) -> None:
    models = {name: (partial(make_head, name, tune=False, transform="standardise"),
                     data["features"]) for name in ("logreg", "svm")}
    cross_validate_many(models, data["targets"], data["sample_id"], n_splits=5, seed=0,
                        engine=engine)


def _cpu_s(engine) -> float:
    """Process CPU seconds so far of the engine's workers (this process for threads)."""
    if engine.client is None:
        return time.process_time()
    return sum(engine.client.run(time.process_time).values())


def _timed(fn, engine, repeats: int) -> tuple[float, float, float]:
    """Best wall seconds of ``fn()`` over ``repeats`` runs, its mean CPU seconds on the
    workers, and in this process (sending the tasks, receiving the results)."""
    best, cpu, here = np.inf, _cpu_s(engine), time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    here = (time.process_time() - here) / repeats
    return best, (_cpu_s(engine) - cpu) / repeats, here if engine.client is not None else 0.0


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="AFM images (512 x 512)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path,
                        default=ROOT / "benchmarks" / "results" / "scale-workflows.json")
    args = parser.parse_args()
    images = afm_images(args.images)
    data = dict(np.load(FEATURES))
    n_folds = 2 * 5
    result = {"cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
              "afm_images": args.images, "afm_size_px": 512, "classify_folds": n_folds,
              "classify_items": len(data["targets"]), "engines": {}}
    for scheduler, workers in ENGINES:
        started = time.perf_counter()
        with open_engine(scheduler, workers) as engine:
            start_s = time.perf_counter() - started
            _afm(engine, images[:max(2, workers)])  # warm-up: imports and numba on each worker
            _folds(engine, data)
            afm_s, afm_cpu, afm_here = _timed(partial(_afm, engine, images), engine,
                                              args.repeats)
            folds_s, folds_cpu, folds_here = _timed(partial(_folds, engine, data), engine,
                                                    args.repeats)
        result["engines"][f"{scheduler}-{workers}"] = {
            "start_s": round(start_s, 2),
            "afm_images_per_s": round(args.images / afm_s, 2),
            "afm_cpu_s_per_image": round(afm_cpu / args.images, 4),
            "afm_client_cpu_s_per_image": round(afm_here / args.images, 4),
            "classify_folds_per_s": round(n_folds / folds_s, 2),
            "classify_cpu_s_per_fold": round(folds_cpu / n_folds, 4),
            "classify_client_cpu_s_per_fold": round(folds_here / n_folds, 4)}
    one, two = result["engines"]["processes-1"], result["engines"]["processes-2"]
    result["speedup_2_vs_1_processes"] = {
        "afm": round(two["afm_images_per_s"] / one["afm_images_per_s"], 2),
        "classify": round(two["classify_folds_per_s"] / one["classify_folds_per_s"], 2)}
    return write_result(result, args.json)


if __name__ == "__main__":
    main()
