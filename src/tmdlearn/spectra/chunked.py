"""Fit a map store a chunk at a time on the engine, into a resumable result store.

Each task is a small descriptor (the stores' paths, a chunk index, the model and settings): it
reads its rows of the map store, masks and preprocesses them spectrum by spectrum, fits them
with :func:`~tmdlearn.spectra.peaks.fit_peaks` (one thread) and writes its chunk of every
result array itself (:class:`~tmdlearn.engine.results.ResultStore`), so the map is never in
memory and the results do not depend on the scheduler or the chunking. A killed run started
again with the same command fits only the chunks not yet done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data import Spectra
from tmdlearn.engine import open_engine
from tmdlearn.engine.lock import output_lock
from tmdlearn.engine.results import ResultStore, open_results
from tmdlearn.engine.zarrstore import MapStore, chunk_rows_for, open_map_store
from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing
from tmdlearn.spectra.peakmodel import PeakModel
from tmdlearn.spectra.peaks import parameter_names

#: Spectra from which ``scheduler: auto`` runs on a local cluster of processes.
LARGE_SPECTRA = 200_000
#: Maps up to this many pixels also get the per-pixel table ``fits`` in their Outcome.
SMALL_TABLE = 100_000
#: Status of a pixel left out by the mask (not fitted).
MASKED = -1
#: Config sections whose values change the fitted numbers (the store's fingerprint).
FIT_SECTIONS = ("read", "preprocess", "mask", "fit", "verdict")


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of a chunked fit: what a worker needs to fit and write it.

    Attributes
    ----------
    source : str
        The map store.
    store : str
        The result store.
    index : int
        The chunk (its rows: ``ResultStore.blocks[index]``).
    chunk_rows : int
        Rows per chunk.
    model : PeakModel
        The peak model.
    settings : dict
        ``preprocess`` and ``fit`` options, ``excitation_nm`` and the mask ``threshold``
        (integrated intensity, counts; None: every pixel).
    """

    source: str
    store: str
    index: int
    chunk_rows: int
    model: PeakModel
    settings: dict


def fit_store(path: Path, data: MapStore, model: PeakModel, config: dict,
              progress: bool | None = None) -> Outcome:
    """Fit every pixel of a map store into the result store ``config["run"]["store"]``.

    Parameters
    ----------
    path : Path
        The map store (for messages and the table's ``source``).
    data : MapStore
        Its lazy handle (:func:`~tmdlearn.engine.zarrstore.open_map_store`).
    model : PeakModel
        The peak model.
    config : dict
        The spectra workflow's config (``run``: scheduler, workers, chunk_pixels, store,
        overwrite).
    progress : bool, optional
        Progress bar on (True), off (False) or on a terminal only (None).

    Returns
    -------
    Outcome
        ``metrics``: pixels, spectra fitted, converged, verdict counts, chunks (all, fitted by
        this run, found done); ``details``: ``model``, ``store`` (the result store's path);
        table ``fits`` only for maps of at most :data:`SMALL_TABLE` pixels.
    """
    from tmdlearn.spectra.prepare import fit_options

    run = config["run"]
    if not run["store"]:
        raise InputError("a zarr map store is fitted into a result store: set run.store "
                         "(e.g. run/fits.zarr)", path)
    if config["preprocess"]["despike"] == "map":
        raise InputError("preprocess.despike map compares every pixel with the whole map and "
                         "cannot run a chunk at a time: use difference or whitaker-hayes", path)
    if config["mask"]["method"] not in ("none", "corners"):
        raise InputError("mask.method must be none or corners")
    store_path = Path(run["store"])
    chunk_rows = chunk_rows_for(data.shape, run["chunk_pixels"])
    names = parameter_names(model)
    judging = config["verdict"]["enabled"]
    settings = {"preprocess": config["preprocess"], "fit": fit_options(config),
                "excitation_nm": data.excitation_nm, "threshold": _threshold(data, config)}
    attrs = {"fingerprint": fingerprint(data, model, config), "source": str(path),
             "model": model.name, "parameters": names, "unit": model.unit,
             "status_names": {str(MASKED): "masked", **_names("regionfit")},
             "verdict_names": _names("quality") if judging else {},
             "step_um": data.step_um, "origin_um": list(data.origin_um)}
    with output_lock(store_path):
        results = open_results(store_path, data.shape, chunk_rows,
                               result_arrays(names, judging), attrs, bool(run["overwrite"]))
        done = results.done()
        tasks = [ChunkTask(str(path), str(store_path), i, chunk_rows, model, settings)
                 for i in np.flatnonzero(~done).tolist()]
        large = data.n_pixels >= LARGE_SPECTRA
        if tasks:
            with showing(progress), \
                    open_engine(run["scheduler"], run["workers"], large) as engine:
                for _ in engine.completed(fit_chunk, tasks, f"fitting {model.name}"):
                    pass
    return _outcome(path, data, model, results, len(tasks), int(done.sum()))


def fit_chunk(task: ChunkTask) -> dict:
    """Fit and write one chunk (run by the engine's workers).

    Parameters
    ----------
    task : ChunkTask

    Returns
    -------
    dict
        ``index`` (the chunk), ``pixels`` and ``fitted`` (spectra in the chunk, and fitted).
    """
    from tmdlearn.spectra import fit_peaks
    from tmdlearn.spectra.prepare import in_model_unit, preprocessed

    data = open_map_store(task.source)
    results = ResultStore(Path(task.store), data.shape, task.chunk_rows)
    rows = results.blocks[task.index]
    block = data.read(rows).reshape(-1, data.axis.size)
    threshold = task.settings["threshold"]
    mask = np.ones(len(block), bool) if threshold is None else \
        np.nansum(block, axis=1) > threshold
    fit = None
    if mask.any():
        spectra = Spectra(block[mask], data.axis, data.unit, task.settings["excitation_nm"])
        spectra = in_model_unit(spectra, task.model.unit, data.path)
        intensity = preprocessed(spectra.intensity, spectra.axis, task.settings["preprocess"])
        try:
            fit = fit_peaks(intensity, task.model, spectra.axis, workers=1, progress=False,
                            **task.settings["fit"])
        except TypeError as err:
            raise InputError(f"bad fit option in the config: {err}") from None
    shape = (rows.stop - rows.start,) + data.shape[1:]
    judging = task.settings["fit"]["verdict"] is not False
    values = chunk_values(fit, mask, shape, parameter_names(task.model), judging)
    results.write_chunk(task.index, values)
    return {"index": task.index, "pixels": int(mask.size), "fitted": int(mask.sum())}


def result_arrays(names: list[str], judging: bool) -> dict[str, tuple[str, object]]:
    """The result store's arrays: name -> (dtype, fill value of a pixel not fitted).

    Parameters
    ----------
    names : list of str
        Fitted parameters (:func:`parameter_names`).
    judging : bool
        Whether the verdict is stored.

    Returns
    -------
    dict
        Each parameter (axis / intensity units) and ``<name>_stderr``, ``r2``, ``rmse``
        (intensity units), ``status`` and ``n_iter``, and ``verdict`` when judged.
    """
    arrays: dict[str, tuple[str, object]] = {}
    for name in names:
        arrays[name] = arrays[f"{name}_stderr"] = ("float64", np.nan)
    arrays.update(r2=("float64", np.nan), rmse=("float64", np.nan), status=("int8", MASKED),
                  n_iter=("int32", 0))
    if judging:
        arrays["verdict"] = ("int8", MASKED)
    return arrays


def chunk_values(fit, mask: np.ndarray, shape: tuple[int, ...], names: list[str],
                 judging: bool) -> dict[str, np.ndarray]:
    """One chunk of every result array from the fit of its unmasked pixels.

    Parameters
    ----------
    fit : PeakFit or None
        The fits of the pixels where ``mask`` is true (None when none is).
    mask : (n,) bool array
        The chunk's pixels that were fitted, row-major.
    shape : tuple of int
        The chunk's spatial shape (rows, ...).
    names : list of str
        The fitted parameters (:func:`parameter_names`).
    judging : bool
        Whether the fits were judged (a ``verdict`` array).

    Returns
    -------
    dict of str to ndarray
        Array name -> the chunk's block (masked pixels hold the arrays' fill values).
    """
    columns = {}
    if fit is not None:
        columns = {"r2": fit.r2, "rmse": fit.rmse, "status": fit.status, "n_iter": fit.n_iter}
        for i, name in enumerate(fit.names):
            columns[name], columns[f"{name}_stderr"] = fit.values[:, i], fit.stderr[:, i]
        if judging:
            columns["verdict"] = fit.quality["verdict"]
    out = {}
    for name, (dtype, fill) in result_arrays(names, judging).items():
        values = np.full(mask.size, fill, dtype=dtype)
        if name in columns:
            values[mask] = columns[name]
        out[name] = values.reshape(shape)
    return out


def fingerprint(data: MapStore, model: PeakModel, config: dict) -> str:
    """sha256 of what decides the fitted numbers: the map store's shape and attributes (axis,
    units, provenance), the model and the config sections :data:`FIT_SECTIONS`.

    Parameters
    ----------
    data : MapStore
    model : PeakModel
    config : dict

    Returns
    -------
    str
        Hex digest.
    """
    payload = {"shape": list(data.shape), "attrs": data.attrs, "model": repr(model),
               **{key: config[key] for key in FIT_SECTIONS}}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _threshold(data: MapStore, config: dict) -> float | None:
    """The corner mask's threshold, from the map's first and last rows only."""
    from tmdlearn.spectra.preprocess import corner_rows, corner_threshold

    if config["mask"]["method"] != "corners" or data.kind != "spectral_map":
        return None
    c = corner_rows(data.shape, int(config["mask"]["corner"]))
    top = np.nansum(data.read(slice(0, c)), axis=2)
    bottom = np.nansum(data.read(slice(data.shape[0] - c, data.shape[0])), axis=2)
    return float(corner_threshold(top, bottom, float(config["mask"]["k"])))


def _names(module: str) -> dict[str, str]:
    """Code -> name of the fit statuses (``regionfit``) or verdicts (``quality``)."""
    from tmdlearn.spectra import quality, regionfit

    names = regionfit.STATUS if module == "regionfit" else quality.VERDICTS
    return {str(code): name for code, name in enumerate(names)}


def _outcome(path: Path, data: MapStore, model: PeakModel, results: ResultStore,
             fitted_now: int, found_done: int) -> Outcome:
    """Metrics (and, for a small map, the table) read back from the result store."""
    status = results.read("status").ravel()
    metrics = {"pixels": data.n_pixels, "spectra": int(np.sum(status != MASKED)),
               "converged": int(np.sum(status == 0)), "chunks": len(results.blocks),
               "chunks_fitted": fitted_now, "chunks_found_done": found_done}
    names = results.attrs()["verdict_names"]
    if names:
        counts = np.bincount(results.read("verdict").ravel()[status != MASKED],
                             minlength=len(names))
        metrics.update({f"verdict_{names[str(i)]}": int(n) for i, n in enumerate(counts)})
    tables = {}
    if data.n_pixels <= SMALL_TABLE:
        tables["fits"] = _table(path, data, results, model)
    return Outcome(metrics=metrics, tables=tables,
                   details={"model": model, "store": results.path, "shown": [], "maps": []})


def _table(path: Path, data: MapStore, results: ResultStore, model: PeakModel) -> pd.DataFrame:
    """One row per fitted pixel of a small map, read from the result store."""
    status = results.read("status").ravel()
    fitted = status != MASKED
    table = pd.DataFrame({"source": path.name, "spectrum": np.arange(int(fitted.sum()))})
    if data.kind == "spectral_map":
        y, x = np.mgrid[0:data.shape[0], 0:data.shape[1]].astype(float)
        table["x_um"] = (data.origin_um[0] + x * data.step_um).ravel()[fitted]
        table["y_um"] = (data.origin_um[1] + y * data.step_um).ravel()[fitted]
    for name in parameter_names(model):
        table[name] = results.read(name).ravel()[fitted]
        table[f"{name}_stderr"] = results.read(f"{name}_stderr").ravel()[fitted]
    table["r2"] = results.read("r2").ravel()[fitted]
    table["rmse"] = results.read("rmse").ravel()[fitted]
    table["converged"] = status[fitted] == 0
    table["status"] = [_names("regionfit")[str(s)] for s in status[fitted]]
    verdict_names = results.attrs()["verdict_names"]
    if verdict_names:
        table["verdict"] = [verdict_names[str(v)] for v in results.read("verdict").ravel()[fitted]]
    return table
