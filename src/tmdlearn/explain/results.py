"""What a run of the explain workflow reports from its analysed pairs: the headline metrics,
the tables and the per-pixel maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.explain.ice import slope_maps
from tmdlearn.explain.pairs import PairResult
from tmdlearn.explain.scores import PL_NAMES


def metrics(results: list[PairResult]) -> dict:
    """All headline figures of a run, by name (see docs/explain.md).

    Parameters
    ----------
    results : list of PairResult
        The analysed pairs, whose headline metrics are merged.

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
        The analysed pairs, one column each (named after the pair).

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
        The analysed pairs, stacked into each table with a ``pair`` column.

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


def save_maps(path: Path, result: PairResult) -> None:
    """The per-pixel arrays of one pair as maps (ny, nx, ...) in an .npz file.

    Parameters
    ----------
    path : Path
        The .npz file, written atomically (its folder is made).
    result : PairResult
        The analysed pair: its mask, ICE slopes, Raman and PL vectors and predictions.
    """
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
