"""Partial dependence (PDP) for any regressor, and a ranking of inputs by it.

The WSe2 study's eq. 1 (Friedman, Ann. Stat. 29, 1189 (2001)): the average prediction over the
samples with feature i set to each grid value, ``PD_i(v) = 1/N Σ_n f(v, x_n,-i)`` (the mean of
the ICE curves, :func:`tmdlearn.explain.ice.ice_curves`).
"""

from __future__ import annotations

import numpy as np

from tmdlearn.explain.ice import grid_values, ice_curves


def partial_dependence(model, X, feature: int, grid=None, *, percentiles=(0.05, 0.95),
                       resolution: int = 100, n_samples: int | None = None, seed=0,
                       chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Partial dependence of ``model`` on column ``feature`` of ``X`` (N, D).

    Parameters
    ----------
    model : callable or regressor
        ``f(X) -> predictions`` or an object with ``predict``.
    X : (N, D) array
        Feature matrix the model was trained on: the rows averaged over.
    feature : int
        Column of ``X`` varied.
    grid : (G,) array, optional
        Values of the feature, in its unit; default :func:`grid_values` of the column of the
        rows averaged over.
    percentiles, resolution
        Quantile range and points of the default grid.
    n_samples : int, optional
        Average over a random subset of that many rows (None: all).
    seed : int or numpy Generator
        Seed of that subset.
    chunk_rows : int
        Rows predicted at once (memory).

    Returns
    -------
    grid : (G,) array
        The grid, given or default, in the feature's unit.
    average : (G,) or (G, n_outputs) array
        Mean prediction at each grid value, in output units.
    """
    X = np.asarray(X, dtype=float)
    if n_samples is not None and n_samples < len(X):
        X = X[np.random.default_rng(seed).choice(len(X), n_samples, replace=False)]
    if grid is None:
        grid = grid_values(X[:, feature], percentiles, resolution)
    grid, curves = ice_curves(model, X, feature, grid, chunk_rows=chunk_rows)
    return grid, curves.mean(axis=0)


def pdp_range(average) -> np.ndarray:
    """Spread (max - min over the grid) of a partial dependence (G,) or (G, n_outputs): the
    size of the effect of the feature on the prediction, in output units.

    Parameters
    ----------
    average : (G,) or (G, n_outputs) array
        A partial dependence (:func:`partial_dependence`).

    Returns
    -------
    float or (n_outputs,) array
        Range, in output units (NaN values ignored).
    """
    average = np.asarray(average, dtype=float)
    return np.nanmax(average, axis=0) - np.nanmin(average, axis=0)


__all__ = ["grid_values", "partial_dependence", "pdp_range"]
