"""Cross-validation splits grouped by sample: no sample on both sides of a split.

Images (or spectra) of one physical sample are correlated; a split that puts one image of a
sample in training and another in testing overstates accuracy. These helpers wrap
:class:`sklearn.model_selection.StratifiedGroupKFold` (stratified by class, grouped by sample).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from tmdlearn.errors import InputError


def grouped_folds(targets, groups, n_splits: int = 5,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold splits grouped by ``groups`` (e.g. sample ids).

    Parameters
    ----------
    targets : array (N,)
        Class labels, used for stratification (any hashable values).
    groups : array (N,)
        Group of each item (sample id); all items of a group fall on the same side.
    n_splits : int
        Number of folds K (>= 2, at most the number of groups and the size of the largest
        class).
    seed : int
        Seed of the shuffling; same seed, same folds.

    Returns
    -------
    list of (train_index, test_index) integer arrays, one pair per fold; each item is in
    exactly one test fold.
    """
    targets, groups = np.asarray(targets), np.asarray(groups)
    if targets.shape != groups.shape or targets.ndim != 1:
        raise InputError(f"targets {targets.shape} and groups {groups.shape} must be equal 1-D")
    n_groups = len(np.unique(groups))
    largest = int(np.unique(targets, return_counts=True)[1].max()) if len(targets) else 0
    if n_splits < 2 or n_splits > min(n_groups, largest):
        raise InputError(f"n_splits={n_splits} needs 2 <= n_splits <= {min(n_groups, largest)} "
                         "(the number of groups and of items in the largest class)")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    placeholder = np.zeros((len(targets), 1))
    return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(placeholder, targets, groups)]


def grouped_holdout(targets, groups, fraction: float = 0.2,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One stratified grouped split: (train_index, held_out_index) with about ``fraction`` held out.

    Used for a validation split inside a training fold (early stopping). With few items the
    held-out share grows (at most one of two folds); with fewer than two groups there is
    nothing to hold out: all items train and the held-out index is empty.

    Parameters
    ----------
    targets : array (N,)
        Class labels, used for stratification.
    groups : array (N,)
        Group of each item (sample id); all items of a group fall on the same side.
    fraction : float
        Share of items to hold out, in (0, 1).
    seed : int
        Seed of the shuffling; same seed, same split.

    Returns
    -------
    train_index, held_out_index : integer arrays
        Sorted item indices on each side.
    """
    targets, groups = np.asarray(targets), np.asarray(groups)
    if not 0.0 < fraction < 1.0:
        raise InputError(f"fraction must lie in (0, 1), got {fraction}")
    n_groups = len(np.unique(groups))
    largest = int(np.unique(targets, return_counts=True)[1].max()) if len(targets) else 0
    n_splits = min(max(2, round(1.0 / fraction)), n_groups, largest)
    if n_splits < 2:
        return np.arange(len(targets)), np.array([], dtype=int)
    return grouped_folds(targets, groups, n_splits=n_splits, seed=seed)[0]
