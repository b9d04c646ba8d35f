"""Scores of the explain workflow: the random split, MAPE and R² per PL parameter, the
overfitting verdict, the ranking of the Raman modes and ICE slopes per truth region.

Overfitting verdict (per PL parameter): flagged when ``R²_train - R²_val > overfit.max_gap``
(0.1) or ``R²_val < overfit.min_val_r2`` (0.5): the model either memorises the training pixels
or finds no relation that carries to unseen pixels; either way its PDPs are not to be read.

Mode ranking: a mode's importance is the PDP range (max - min over the 5-95 % grid) of the
target PL parameter over the mode's height (its intensity; ``interpret.rank_by: any`` takes the
largest over centre, FWHM and height); rank 1 = largest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_percentage_error, r2_score

from tmdlearn.errors import InputError

#: The PL parameters (the columns of Y) and their units.
PL_NAMES = ("position", "fwhm", "intensity")
PL_UNITS = ("eV", "eV", "counts")
#: What :func:`mode_ranking` ranks the modes by.
RANK_BY = ("height", "any")


def random_split(n: int, val_fraction: float = 0.3, seed=0) -> np.ndarray:
    """Boolean (n,) True for the training share (7:3 by default), drawn with ``seed``.

    Parameters
    ----------
    n : int
        Number of samples (pixels).
    val_fraction : float
        Validation share, in (0, 1).
    seed : int or numpy Generator
        Same seed, same split.

    Returns
    -------
    (n,) bool array
        True for training samples.
    """
    if not 0.0 < val_fraction < 1.0:
        raise InputError(f"split.val_fraction must be in (0, 1), got {val_fraction}")
    train = np.zeros(n, dtype=bool)
    n_train = int(round((1.0 - val_fraction) * n))
    train[np.random.default_rng(seed).permutation(n)[:n_train]] = True
    return train


def scores_table(Y, prediction, train: np.ndarray) -> pd.DataFrame:
    """MAPE (%) and R² of each PL parameter on the training and validation pixels.

    Parameters
    ----------
    Y : (N, P) array
        True PL parameters (:data:`PL_NAMES` order: position (eV), FWHM (eV), intensity
        (counts)).
    prediction : (N, P) array
        Predicted PL parameters, same units.
    train : (N,) bool array
        True for training pixels, False for validation.

    Returns
    -------
    DataFrame
        One row per parameter and part: parameter, part ("train" / "val"), n, mape_percent, r2.
    """
    rows = []
    for part, rows_of in (("train", train), ("val", ~train)):
        for j, name in enumerate(PL_NAMES[:Y.shape[1]]):
            true, pred = Y[rows_of, j], prediction[rows_of, j]
            rows.append({"parameter": name, "part": part, "n": int(rows_of.sum()),
                         "mape_percent": 100.0 * mean_absolute_percentage_error(true, pred),
                         "r2": float(r2_score(true, pred))})
    return pd.DataFrame(rows)


def overfit_verdict(scores: pd.DataFrame, max_gap: float = 0.1,
                    min_val_r2: float = 0.5) -> pd.DataFrame:
    """Per parameter: flagged when R²_train - R²_val > ``max_gap`` or R²_val < ``min_val_r2``.

    Parameters
    ----------
    scores : DataFrame
        The table of :func:`scores_table`.
    max_gap : float
        Largest accepted R²_train - R²_val.
    min_val_r2 : float
        Smallest accepted validation R².

    Returns
    -------
    DataFrame
        One row per PL parameter: parameter, r2_train, r2_val, gap, flagged.
    """
    wide = scores.pivot(index="parameter", columns="part", values="r2")
    wide = wide.reindex([p for p in PL_NAMES if p in wide.index])
    gap = wide["train"] - wide["val"]
    flagged = (gap > max_gap) | (wide["val"] < min_val_r2)
    return pd.DataFrame({"parameter": wide.index, "r2_train": wide["train"].to_numpy(),
                         "r2_val": wide["val"].to_numpy(), "gap": gap.to_numpy(),
                         "flagged": flagged.to_numpy()})


def mode_ranking(ranges: dict[str, float], modes: list[str],
                 rank_by: str = "height") -> pd.DataFrame:
    """Importance of each mode: the PDP range of its height (``rank_by="height"``, the mode's
    intensity, as the study's Fig. 3) or its largest over centre, FWHM and height (``"any"``).

    Parameters
    ----------
    ranges : dict of str to float
        PDP range (:func:`~tmdlearn.explain.pdp.pdp_range`) of the target by input name
        ``"<mode>_center"``, ``"<mode>_fwhm"``, ``"<mode>_height"``, in target units.
    modes : list of str
        Raman mode names.
    rank_by : str
        "height" or "any".

    Returns
    -------
    DataFrame
        One row per mode, most important first: mode, rank (1 = largest), importance,
        range_center, range_fwhm, range_height.
    """
    if rank_by not in RANK_BY:
        raise InputError(f"interpret.rank_by must be one of {', '.join(RANK_BY)}, got "
                         f"{rank_by!r}")
    rows = []
    for mode in modes:
        parts = {p: ranges.get(f"{mode}_{p}", np.nan) for p in ("center", "fwhm", "height")}
        importance = parts["height"] if rank_by == "height" else np.nanmax(list(parts.values()))
        rows.append({"mode": mode, "importance": importance,
                     **{f"range_{p}": v for p, v in parts.items()}})
    table = pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable")
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def region_slope_table(slope_map: np.ndarray, truth: np.ndarray, regions: dict[int, str],
                       ignore=()) -> pd.DataFrame:
    """Mean, median and pixel count of an ICE-slope map in each labelled truth region.

    Parameters
    ----------
    slope_map : (ny, nx) array
        ICE slopes per pixel (NaN off the sample).
    truth : (ny, nx) int array
        Region label of each pixel.
    regions : dict of int to str
        Region name by label.
    ignore : collection of str
        Region names left out.

    Returns
    -------
    DataFrame
        One row per region: region, pixels, mean_slope, median_slope (slope units).
    """
    rows = []
    for label, name in sorted(regions.items()):
        if name in ignore:
            continue
        values = slope_map[(truth == label) & np.isfinite(slope_map)]
        rows.append({"region": name, "pixels": int(values.size),
                     "mean_slope": float(values.mean()) if values.size else np.nan,
                     "median_slope": float(np.median(values)) if values.size else np.nan})
    return pd.DataFrame(rows)
