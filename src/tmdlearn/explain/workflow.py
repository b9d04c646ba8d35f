"""The explainable correlative workflow of the WSe2 study, for any pair of Raman / PL maps.

Per map pair (same pixels): flake mask from corner statistics (mean + k·σ), first-difference
despiking, piecewise-linear anchor baseline, batched fits (``wse2-raman``: eight Lorentzians in
two windows; ``wse2-pl``: one Gaussian), the 24-value Raman vector X and 3-value PL vector Y
(position eV, FWHM eV, intensity = height counts). Then a 7:3 random split, the CNN trained on
the 70 % (:class:`~tmdlearn.explain.regressor.RamanPLRegressor`), MAPE and R² of each PL
parameter on both parts and the overfitting verdict, retraining on all pixels, PDPs of all 24
inputs, the ranking of the eight modes, and per-pixel ICE slopes as maps. The split, scores,
overfitting verdict and mode ranking are in :mod:`tmdlearn.explain.scores`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data.containers import SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.explain.ice import ice_curves, ice_slopes, slope_maps
from tmdlearn.explain.inputs import load
from tmdlearn.explain.pdp import partial_dependence, pdp_range
from tmdlearn.explain.regressor import CNNSettings, RamanPLRegressor
from tmdlearn.explain.scores import (
    PL_NAMES,
    mode_ranking,
    overfit_verdict,
    random_split,
    region_slope_table,
    scores_table,
)
from tmdlearn.learn import torch_threads
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track
from tmdlearn.spectra import (
    anchor_baseline,
    background_mask,
    despike,
    feature_vector,
    fit_peaks,
    fit_table,
    load_model,
    vector_columns,
)

__all__ = ["DEFAULTS", "Outcome", "PairData", "PairResult", "load", "run", "run_pairs"]

DEFAULTS: dict = {
    # pairs: [{name, raman, pl, truth, regions}] of map files; synth: {seed, pixels, shape}
    "data": {"pairs": [], "synth": None},
    "preprocess": {
        "mask_k": 3.0, "corner": 3, "mask_from": "both", "despike": "map",
        "despike_threshold": 5.0, "despike_spatial_k": 6.0,
        "raman_anchors_cm1": [186.0, 316.0, 408.0], "pl_anchors_ev": [1.47, 1.83],
        "anchor_half_width": 2.0,
    },
    "fit": {"raman_model": "wse2-raman", "pl_model": "wse2-pl", "max_iter": 100,
            "only_ok": True},
    # the CNN (:class:`~tmdlearn.explain.regressor.CNNSettings`)
    "model": asdict(CNNSettings()),
    "split": {"val_fraction": 0.3, "seed": 0},
    "retrain": True,
    "threads": 1,
    "overfit": {"max_gap": 0.1, "min_val_r2": 0.5},
    "interpret": {"target": "intensity", "mode": "A1p", "label": "A1", "rank_by": "height",
                  "grid_resolution": 20,
                  "pdp_samples": 300, "ice_curves": 60, "seed": 0,
                  "pristine": "pristine", "ignore_regions": ["substrate", "background"]},
}


@dataclass
class PairData:
    """Fitted features of one map pair: X (N, 24) Raman, Y (N, 3) PL on the ``mask`` pixels."""

    name: str
    mask: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    columns: list[str]
    modes: list[str]
    truth: np.ndarray | None = None
    regions: dict[int, str] | None = None
    fit_quality: dict = field(default_factory=dict)


@dataclass
class PairResult:
    """Everything the workflow learned about one pair (arrays, tables, models)."""

    data: PairData
    split: np.ndarray                      # (N,) True where the pixel is in the training 70 %
    prediction: np.ndarray                 # (N, 3) of the split model
    scores: pd.DataFrame                   # parameter, part, mape, r2
    verdict: pd.DataFrame                  # parameter, r2_train, r2_val, gap, flagged
    pdp: dict[str, tuple[np.ndarray, np.ndarray]]   # input column -> (grid, (G, 3))
    ranking: pd.DataFrame                  # mode, importance, rank, per-input ranges
    slopes: np.ndarray                     # (N, 24, 3) ICE slopes of the final model
    ice: tuple[np.ndarray, np.ndarray]     # ICE curves of the mode's height (grid, (n, G, 3))
    region_slopes: pd.DataFrame | None
    split_model: RamanPLRegressor
    final_model: RamanPLRegressor
    metrics: dict = field(default_factory=dict)


def prepare_pair(raman: SpectralMap, pl: SpectralMap, config: dict, name: str = "pair",
                 truth=None, regions: dict[int, str] | None = None) -> PairData:
    """Mask, despike, baseline and fit both maps; keep pixels where both fits converged.

    Parameters
    ----------
    raman, pl : SpectralMap
        Raman (cm-1) and PL (eV, or nm converted to eV) maps of the same (ny, nx) pixels.
    config : dict
        Workflow configuration (:data:`DEFAULTS`): its ``preprocess`` and ``fit`` sections.
    name : str
        Name of the pair, in messages and metric names.
    truth : (ny, nx) int array, optional
        Region label of each pixel.
    regions : dict of int to str, optional
        Region name by label.

    Returns
    -------
    PairData
        X (N, 24) Raman vectors (cm-1, cm-1, counts) and Y (N, 3) PL vectors (eV, eV, counts)
        of the N pixels kept (flake pixels whose two fits have an ok verdict, or converged
        with ``fit.only_ok`` false, and a positive PL height), with their mask and the fit
        quality.
    """
    pre, fit = config["preprocess"], config["fit"]
    if raman.shape != pl.shape:
        raise InputError(f"pair {name!r}: Raman map {raman.shape} and PL map {pl.shape} differ "
                         "in shape; they must cover the same pixels")
    sources = {"raman": [raman], "pl": [pl], "both": [raman, pl]}.get(pre["mask_from"])
    if sources is None:
        raise InputError(f"preprocess.mask_from must be raman, pl or both, got "
                         f"{pre['mask_from']!r}")
    mask = np.logical_and.reduce([background_mask(m.intensity, k=pre["mask_k"],
                                                  corner=pre["corner"]) for m in sources])
    if mask.sum() < 20:
        raise InputError(f"pair {name!r}: the flake mask holds {int(mask.sum())} pixels "
                         "(< 20); lower preprocess.mask_k")
    raman_model, pl_model = load_model(fit["raman_model"]), load_model(fit["pl_model"])
    X, raman_ok, raman_r2, raman_not_ok = _fit(raman, mask, "cm-1", pre["raman_anchors_cm1"],
                                               raman_model, pre, fit)
    Y, pl_ok, pl_r2, pl_not_ok = _fit(pl, mask, "eV", pre["pl_anchors_ev"], pl_model, pre, fit)
    keep = raman_ok & pl_ok & (Y[:, 2] > 0)     # a PL height <= 0 is no PL peak
    if keep.sum() < 20:
        raise InputError(f"pair {name!r}: only {int(keep.sum())} pixels fitted in both maps")
    final = mask.copy()
    final[mask] = keep
    columns = vector_columns(raman_model)
    quality = {"pixels_flake": int(mask.sum()), "pixels_used": int(keep.sum()),
               "raman_fit_r2_median": float(np.nanmedian(raman_r2)),
               "pl_fit_r2_median": float(np.nanmedian(pl_r2)),
               # converged fits whose verdict is not ok (dropped unless fit.only_ok is false)
               "raman_not_ok": raman_not_ok, "pl_not_ok": pl_not_ok}
    truth = None if truth is None else np.asarray(truth)
    if truth is not None and truth.shape != raman.shape:
        raise InputError(f"pair {name!r}: truth map {truth.shape} differs from the maps "
                         f"{raman.shape}")
    return PairData(name, final, X[keep], Y[keep], columns, [p.name for p in raman_model.peaks],
                    truth, regions, quality)


def _fit(smap: SpectralMap, mask, unit, anchors, model, pre, fit):
    cube = despike(smap.intensity, pre["despike"], pre["despike_threshold"], mask,
                   pre["despike_spatial_k"])
    spectra = replace(smap, intensity=cube).spectra(mask)
    if spectra.unit != unit:
        try:
            spectra = spectra.to_unit(unit)
        except (ValueError, InputError) as err:
            raise InputError(f"map in {spectra.unit} cannot be converted to {unit}: {err}",
                             smap.source) from None
    y = spectra.intensity
    y = y - anchor_baseline(y, spectra.axis, anchors, pre["anchor_half_width"])
    result = fit_peaks(y, model, axis=spectra.axis, max_iter=fit["max_iter"])
    # the study's vectors keep every band's fitted values; pixels must have an ok verdict
    vectors = feature_vector(fit_table(result, blank_absent=False), model)
    judged = result.verdict == "ok" if fit["only_ok"] else result.converged
    ok = np.asarray(judged, dtype=bool) & np.isfinite(vectors).all(axis=1)
    return vectors, ok, result.r2, int((result.converged & (result.verdict != "ok")).sum())


def analyse_pair(data: PairData, config: dict) -> PairResult:
    """Split, train, score, retrain and interpret one prepared pair.

    Parameters
    ----------
    data : PairData
        The fitted features of :func:`prepare_pair`.
    config : dict
        Workflow configuration (:data:`DEFAULTS`): ``model``, ``split``, ``overfit``,
        ``retrain`` and ``interpret``.

    Returns
    -------
    PairResult
        Scores, overfitting verdict, PDPs, mode ranking, ICE slopes and curves, region slopes,
        both models and the pair's headline metrics.
    """
    settings = CNNSettings.from_dict(config.get("model") or {})
    interp = config["interpret"]
    if interp["target"] not in PL_NAMES:
        raise InputError(f"interpret.target must be one of {PL_NAMES}, got {interp['target']!r}")
    if interp["mode"] not in data.modes:
        raise InputError(f"interpret.mode {interp['mode']!r} is not a Raman mode of the model: "
                         f"{data.modes}")
    target = PL_NAMES.index(interp["target"])
    train = random_split(len(data.X), config["split"]["val_fraction"], config["split"]["seed"])
    split_model = RamanPLRegressor(**asdict(settings)).fit(data.X[train], data.Y[train])
    prediction = split_model.predict(data.X)
    scores = scores_table(data.Y, prediction, train)
    verdict = overfit_verdict(scores, **config["overfit"])
    final = (RamanPLRegressor(**asdict(settings)).fit(data.X, data.Y) if config["retrain"]
             else split_model)

    pdp, ranges = {}, {}
    for j, column in enumerate(track(data.columns, f"PDP {data.name}")):
        grid, average = partial_dependence(final, data.X, j, resolution=interp["grid_resolution"],
                                           n_samples=interp["pdp_samples"], seed=interp["seed"])
        pdp[column] = (grid, average)
        ranges[column] = float(pdp_range(average)[target])
    ranking = mode_ranking(ranges, data.modes, interp["rank_by"])
    slopes = ice_slopes(final, data.X)
    height = data.columns.index(f"{interp['mode']}_height")
    rng = np.random.default_rng(interp["seed"])
    some = rng.choice(len(data.X), min(interp["ice_curves"], len(data.X)), replace=False)
    ice = ice_curves(final, data.X[some], height, pdp[data.columns[height]][0])

    region_slopes, metrics = None, {}
    if data.truth is not None and data.regions:
        slope_map = slope_maps(slopes[:, height, target], data.mask)
        region_slopes = region_slope_table(slope_map, data.truth, data.regions,
                                           interp["ignore_regions"])
        metrics.update(_region_metrics(region_slopes, interp["pristine"], data.name))
    result = PairResult(data, train, prediction, scores, verdict, pdp, ranking, slopes, ice,
                        region_slopes, split_model, final)
    result.metrics = _headline(result, interp, target) | metrics
    return result


def _region_metrics(table: pd.DataFrame, pristine: str, name: str) -> dict:
    if pristine not in set(table["region"]):
        return {}
    pristine_mean = float(table.loc[table["region"] == pristine, "mean_slope"].iloc[0])
    others = table[(table["region"] != pristine) & (table["pixels"] > 0)]
    defect_mean = float(np.average(others["mean_slope"], weights=others["pixels"])) \
        if len(others) else np.nan
    return {f"ice_slope_pristine_{name}": pristine_mean,
            f"ice_slope_defect_{name}": defect_mean,
            f"ice_slope_pristine_vs_defect_{name}": pristine_mean - defect_mean}


def _headline(result: PairResult, interp: dict, target: int) -> dict:
    name, out = result.data.name, {}
    for row in result.scores.itertuples():
        out[f"r2_{row.part}_{row.parameter}_{name}"] = row.r2
        out[f"mape_{row.part}_{row.parameter}_{name}"] = row.mape_percent
    for row in result.verdict.itertuples():
        out[f"overfit_{row.parameter}_{name}"] = bool(row.flagged)
    out[f"overfit_{name}"] = bool(
        result.verdict.loc[result.verdict["parameter"] == PL_NAMES[target], "flagged"].iloc[0])
    ranking = result.ranking
    out[f"pdp_rank_{interp['label']}_{name}"] = int(
        ranking.loc[ranking["mode"] == interp["mode"], "rank"].iloc[0])
    out[f"pdp_top_mode_{name}"] = str(ranking["mode"].iloc[0])
    out[f"pixels_{name}"] = int(len(result.data.X))
    for key in ("raman_not_ok", "pl_not_ok"):  # converged fits left out by their verdict
        if key in result.data.fit_quality:
            out[f"pixels_{key}_{name}"] = result.data.fit_quality[key]
    return out


def run(pairs: list[dict], config: dict, progress: bool | None = None) -> Outcome:
    """The workflow on the pairs of :func:`load`: :func:`run_pairs`, then the run's metrics,
    tables, figures (``fig2_<pair>``, ``fig3_<pair>``), models (``models/cnn_<pair>/``, model
    folders with cards) and maps (``maps/<pair>.npz``); ``details`` holds the
    :class:`PairResult` of each pair.

    Parameters
    ----------
    pairs : list of dict
        The map pairs of :func:`load` (see :func:`run_pairs`).
    config : dict
        Workflow configuration (:data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off, or None (on a terminal).

    Returns
    -------
    Outcome
        Metrics, tables, figures, models and files of the run.
    """
    from tmdlearn.explain import figures

    with showing(progress):
        results = run_pairs(pairs, config)
    headline = metrics(results)
    outcome = Outcome(metrics=headline, tables=tables(results), info={"headline": headline},
                      details=results)
    interp = config["interpret"]
    for result in results:
        name = result.data.name
        outcome.figures[f"fig2_{name}"] = figures.prediction_figure(result)
        outcome.figures[f"fig3_{name}"] = figures.interpretation_figure(
            result, interp["target"], interp["mode"])
        outcome.models[f"cnn_{name}"] = result.final_model
        outcome.files[f"models/cnn_{name}"] = partial(
            result.final_model.save, material=config["fit"]["raman_model"].split("-")[0],
            inputs={k: config["fit"][k] for k in ("raman_model", "pl_model")},
            metrics={k: v for k, v in headline.items() if name in k})
        outcome.files[f"maps/{name}.npz"] = partial(_save_maps, result=result,
                                                    slope_maps=slope_maps)
    return outcome


def run_pairs(pairs: list[dict], config: dict) -> list[PairResult]:
    """Prepare and analyse every pair.

    Parameters
    ----------
    pairs : list of dict
        Dicts with ``name``, ``raman``, ``pl`` (SpectralMaps) and optional ``truth`` (ny, nx)
        labels with ``regions`` {label: name}.
    config : dict
        Workflow configuration (:data:`DEFAULTS`); ``threads`` sets the torch CPU threads.

    Returns
    -------
    list of PairResult
        One per pair, in order.
    """
    if not pairs:
        raise InputError("no map pairs: set data.pairs or data.synth in the config")
    results = []
    with torch_threads(config.get("threads", 1)):
        for pair in pairs:
            data = prepare_pair(pair["raman"], pair["pl"], config, pair["name"],
                                pair.get("truth"), pair.get("regions"))
            results.append(analyse_pair(data, config))
    return results


def metrics(results: list[PairResult]) -> dict:
    """All headline figures of a run, by name (see docs/explain.md).

    Parameters
    ----------
    results : list of PairResult
        The analysed pairs.

    Returns
    -------
    dict
        Metric name (suffixed with the pair's name) to value.
    """
    out: dict = {}
    for result in results:
        out.update(result.metrics)
    return out


def metrics_table(results: list[PairResult]) -> pd.DataFrame:
    """The headline figures side by side: one row per metric (name without the pair suffix),
    one column per pair.

    Parameters
    ----------
    results : list of PairResult
        The analysed pairs.

    Returns
    -------
    DataFrame
        Column "metric", then one column per pair.
    """
    columns = {}
    for r in results:
        suffix = f"_{r.data.name}"
        columns[r.data.name] = {k.removesuffix(suffix): v for k, v in r.metrics.items()}
    table = pd.DataFrame(columns, dtype=object)
    return table.rename_axis("metric").reset_index()


def tables(results: list[PairResult]) -> dict[str, pd.DataFrame]:
    """The run's tables: headline metrics per pair, scores, overfitting verdicts, mode
    rankings, region slopes, PDPs.

    Parameters
    ----------
    results : list of PairResult
        The analysed pairs.

    Returns
    -------
    dict of str to DataFrame
        metrics, scores, overfit, mode_ranking, region_slopes (when any pair has truth
        regions) and pdp, each with a pair column.
    """
    def stack(attribute):
        frames = [getattr(r, attribute).assign(pair=r.data.name) for r in results
                  if getattr(r, attribute) is not None]
        return (pd.concat(frames, ignore_index=True)[["pair", *frames[0].columns[:-1]]]
                if frames else None)

    out = {"metrics": metrics_table(results), "scores": stack("scores"),
           "overfit": stack("verdict"), "mode_ranking": stack("ranking"),
           "region_slopes": stack("region_slopes")}
    rows = []
    for r in results:
        for column, (grid, average) in r.pdp.items():
            for value, row in zip(grid, average, strict=True):
                rows.append({"pair": r.data.name, "input": column, "value": value,
                             **{f"pd_{n}": v for n, v in zip(PL_NAMES, row, strict=False)}})
    out["pdp"] = pd.DataFrame(rows)
    return {k: v for k, v in out.items() if v is not None}


def _save_maps(path: Path, result, slope_maps) -> None:
    """The per-pixel arrays of one pair as maps (ny, nx, ...) in an .npz at ``path``."""
    from tmdlearn.io.atomic import atomic_path

    data = result.data
    arrays = {"mask": data.mask,
              "ice_slopes": slope_maps(result.slopes, data.mask),      # (ny, nx, 24, 3)
              "raman_vector": slope_maps(data.X, data.mask),
              "pl_vector": slope_maps(data.Y, data.mask),
              "pl_predicted": slope_maps(result.prediction, data.mask),
              "raman_columns": np.asarray(data.columns)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
