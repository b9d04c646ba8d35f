"""The analysis of one prepared map pair: the 7:3 split, the CNN trained and scored, the
overfitting verdict, the retrained model, PDPs, the mode ranking, ICE slopes and curves, the
region slopes and the pair's headline metrics."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from tmdlearn.errors import InputError
from tmdlearn.explain.ice import ice_curves, ice_slopes, slope_maps
from tmdlearn.explain.pairs import PairData, PairResult
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
from tmdlearn.progress import track


def analyse_pair(data: PairData, config: dict) -> PairResult:
    """Split, train, score, retrain and interpret one prepared pair.

    Parameters
    ----------
    data : PairData
        The fitted features of :func:`prepare_pair`.
    config : dict
        Workflow configuration (:data:`~tmdlearn.explain.workflow.DEFAULTS`): ``model``,
        ``split``, ``overfit``, ``retrain`` and ``interpret``.

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
