"""Individual conditional expectation (ICE) curves and ICE slopes, for any regressor.

``model`` is a callable ``f(X) -> predictions`` or an object with ``predict`` (a scikit-learn
regressor); ``X`` is the (N, D) feature matrix it was trained on. Predictions may be (N,) or
(N, n_outputs); results keep that trailing axis.

ICE (Goldstein et al., J. Comput. Graph. Stat. 24, 44 (2015)): for each sample n and grid value
v, the prediction with feature i set to v, other features kept: ``ICE_n(v) = f(v, x_n,-i)``.
The ICE slope (the WSe2 study's eq. 3) is the central difference at the sample's own value,
``(f(x_n,i + ε) - f(x_n,i - ε)) / (2ε)`` with ``ε = σ_i`` (the standard deviation of feature i
over ``X``) by default: a local sensitivity per sample that maps back onto the map pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats.mstats import mquantiles

from tmdlearn.errors import InputError


def predictor(model) -> Callable[[np.ndarray], np.ndarray]:
    """``model.predict`` when it has one, else ``model`` itself (a callable).

    Parameters
    ----------
    model : callable or regressor
        ``f(X) -> predictions`` or an object with ``predict``.

    Returns
    -------
    callable
        ``f(X) -> predictions``.
    """
    function = getattr(model, "predict", model)
    if not callable(function):
        raise InputError(f"model must be callable or have predict(), got {type(model).__name__}")
    return function


def grid_values(column, percentiles: tuple[float, float] = (0.05, 0.95),
                resolution: int = 100) -> np.ndarray:
    """Grid of one feature as scikit-learn builds it: its unique values when fewer than
    ``resolution``, else ``resolution`` points evenly between the ``percentiles``.

    Parameters
    ----------
    column : (N,) array
        Values of the feature.
    percentiles : tuple of float
        Lower and upper quantile, in [0, 1].
    resolution : int
        Number of grid points.

    Returns
    -------
    (G,) array
        Grid values, in the feature's unit, G <= ``resolution``.
    """
    column = np.asarray(column, dtype=float)
    uniques = np.unique(column)
    if uniques.size < resolution:
        return uniques
    low, high = mquantiles(column, prob=percentiles)
    if np.isclose(low, high):
        raise InputError(f"percentiles {percentiles} of the feature coincide: widen them")
    return np.linspace(low, high, resolution)


def _as_matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise InputError(f"X must be a non-empty (N, D) matrix, got shape {X.shape}")
    return X


def _evaluate(function, rows: np.ndarray, chunk_rows: int) -> np.ndarray:
    parts = [np.asarray(function(rows[s:s + chunk_rows]), dtype=float)
             for s in range(0, len(rows), chunk_rows)]
    return np.concatenate(parts, axis=0)


def ice_curves(model, X, feature: int, grid=None, *, percentiles=(0.05, 0.95),
               resolution: int = 100, chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """ICE curves of feature column ``feature``.

    Parameters
    ----------
    model : callable or regressor
        ``f(X) -> predictions`` or an object with ``predict``.
    X : (N, D) array
        Feature matrix.
    feature : int
        Column of ``X`` varied.
    grid : (G,) array, optional
        Values of the feature; default :func:`grid_values` of the column.
    percentiles : tuple of float
        Range of the default grid, as quantiles of the column.
    resolution : int
        Points of the default grid.
    chunk_rows : int
        Rows predicted at once (memory).

    Returns
    -------
    grid : (G,) array
        Feature values.
    curves : (N, G) or (N, G, n_outputs) array
        Prediction of each sample at each grid value, in output units.
    """
    X = _as_matrix(X)
    if not 0 <= feature < X.shape[1]:
        raise InputError(f"feature {feature} is outside the {X.shape[1]} columns of X")
    grid = (grid_values(X[:, feature], percentiles, resolution) if grid is None
            else np.asarray(grid, dtype=float).ravel())
    rows = np.repeat(X[None], grid.size, axis=0)          # (G, N, D)
    rows[:, :, feature] = grid[:, None]
    out = _evaluate(predictor(model), rows.reshape(-1, X.shape[1]), chunk_rows)
    out = out.reshape(grid.size, len(X), *out.shape[1:])
    return grid, np.moveaxis(out, 0, 1)


def ice_slopes(model, X, features=None, epsilon=None, *,
               chunk_rows: int = 65536) -> np.ndarray:
    """ICE slope of every sample for each of ``features`` (default: all columns).

    Parameters
    ----------
    model : callable or regressor
        Differentiated numerically (as in :func:`ice_curves`).
    X : (N, D) array
        The samples whose slopes are taken.
    features : sequence of int, optional
        Columns (F of them); default all.
    epsilon : float or (F,) array, optional
        Step of the central difference per feature, in its unit (> 0); default the columns'
        standard deviations σ_i.
    chunk_rows : int
        Rows predicted at once (memory).

    Returns
    -------
    (N, F) or (N, F, n_outputs) array
        Slopes, in output units per feature unit.
    """
    X = _as_matrix(X)
    features = list(range(X.shape[1])) if features is None else [int(f) for f in features]
    epsilon = (X[:, features].std(axis=0) if epsilon is None
               else np.broadcast_to(np.asarray(epsilon, dtype=float), (len(features),)))
    if np.any(epsilon <= 0):
        raise InputError("epsilon must be positive (a constant feature has σ = 0)")
    rows = np.repeat(X[None, None], 2, axis=1).repeat(len(features), axis=0)  # (F, 2, N, D)
    for k, (f, eps) in enumerate(zip(features, epsilon, strict=True)):
        rows[k, 0, :, f] += eps
        rows[k, 1, :, f] -= eps
    out = _evaluate(predictor(model), rows.reshape(-1, X.shape[1]), chunk_rows)
    out = out.reshape(len(features), 2, len(X), *out.shape[1:])
    scale = (2.0 * np.asarray(epsilon)).reshape(-1, *([1] * (out.ndim - 2)))
    return np.moveaxis((out[:, 0] - out[:, 1]) / scale, 0, 1)


def slope_maps(slopes, mask) -> np.ndarray:
    """Per-sample values (N, ...) placed on the pixels of ``mask`` (ny, nx), NaN elsewhere:
    (ny, nx, ...).

    Parameters
    ----------
    slopes : (N, ...) array
        One value (or row) per sample, in the row-major order of the mask's True pixels.
    mask : (ny, nx) bool array
        Pixels of the samples, N of them True.

    Returns
    -------
    (ny, nx, ...) float array
        The map.
    """
    mask = np.asarray(mask, dtype=bool)
    slopes = np.asarray(slopes, dtype=float)
    if mask.sum() != len(slopes):
        raise InputError(f"{len(slopes)} samples for a mask of {int(mask.sum())} pixels")
    out = np.full(mask.shape + slopes.shape[1:], np.nan)
    out[mask] = slopes
    return out
