"""Regression metrics: R², and per-row RMSE and Pearson R between generated and true spectra."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score


def r2(y_true, y_pred) -> float:
    """Coefficient of determination (1 - SS_res / SS_tot); NaN pairs are ignored.

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted values.

    Returns
    -------
    float
        R² (at most 1); NaN with fewer than two finite pairs.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    good = np.isfinite(y_true) & np.isfinite(y_pred)
    if good.sum() < 2:
        return float("nan")
    return float(r2_score(y_true[good], y_pred[good]))


def rmse_rows(true, pred) -> np.ndarray:
    """Root-mean-square error of each row (N,) of (N, L) arrays.

    Parameters
    ----------
    true, pred : (N, L) array
        True and predicted rows (e.g. spectra), in the same unit.

    Returns
    -------
    (N,) array
        RMSE of each row, in the unit of the values.
    """
    diff = np.asarray(true, dtype=float) - np.asarray(pred, dtype=float)
    return np.sqrt(np.mean(diff ** 2, axis=1))


def pearson_rows(true, pred) -> np.ndarray:
    """Pearson correlation of each row (N,) of (N, L) arrays (NaN for a constant row).

    Parameters
    ----------
    true, pred : (N, L) array
        Rows correlated pairwise (e.g. true and generated spectra); any scale.

    Returns
    -------
    (N,) array
        Pearson R of each row, in [-1, 1].
    """
    a = np.asarray(true, dtype=float)
    b = np.asarray(pred, dtype=float)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def safe_scale(x, axis: int = 0, floor: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the columns of ``x`` for standardisation, with the
    deviation floored at ``floor`` x its mean over columns (1 for all-constant data): a
    column (nearly) constant in training cannot blow up new data by dividing by ~0.

    Parameters
    ----------
    x : array
        Training data, e.g. (N, F).
    axis : int
        Axis of the items reduced over.
    floor : float
        Smallest deviation, as a fraction of the mean deviation over columns.

    Returns
    -------
    mean, std : float32 array
        Per-column mean and floored standard deviation, in the unit of ``x``.
    """
    x = np.asarray(x, dtype=np.float32)
    mean, std = x.mean(axis), x.std(axis)
    level = float(std.mean()) if std.size and std.mean() > 0 else 1.0
    return mean, np.maximum(std, floor * level).astype(np.float32)
