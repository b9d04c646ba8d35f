"""Grouped splits: all measurements of one sample fall on the same side, always.

Thin wrappers over scikit-learn's GroupShuffleSplit, GroupKFold and StratifiedGroupKFold
returning index arrays, with the same seed giving the same split.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from tmdlearn.errors import InputError


def _check(groups, stratify, n_needed: int) -> tuple[np.ndarray, np.ndarray | None]:
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise InputError("groups must be a non-empty 1-D sequence of sample ids")
    n_groups = np.unique(groups).size
    if n_groups < n_needed:
        raise InputError(f"need at least {n_needed} distinct samples (groups), got {n_groups}")
    if stratify is not None:
        stratify = np.asarray(stratify)
        if stratify.shape != groups.shape:
            raise InputError(
                f"stratify has {stratify.size} labels but there are {groups.size} groups"
            )
    return groups, stratify


def grouped_kfold(groups, n_splits: int = 5, seed: int = 0,
                  stratify=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds of (train_indices, test_indices) with no sample on both sides.

    Parameters
    ----------
    groups : (N,) array-like
        Sample id of each measurement.
    n_splits : int
        Number of folds.
    seed : int
        Random seed of the shuffle.
    stratify : (N,) array-like, optional
        Class label of each measurement: keeps class proportions similar across folds
        (StratifiedGroupKFold); otherwise groups are shuffled (GroupKFold).

    Returns
    -------
    list of (train, test) int arrays
        Measurement indices of each fold, sorted.
    """
    groups, stratify = _check(groups, stratify, n_splits)
    index = np.zeros((groups.size, 1))
    if stratify is None:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(index, groups=groups)
    else:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(index, stratify, groups=groups)
    return [(np.sort(train), np.sort(test)) for train, test in folds]


def grouped_holdout(groups, test_size: float = 0.2, seed: int = 0,
                    stratify=None) -> tuple[np.ndarray, np.ndarray]:
    """One (train_indices, test_indices) split holding out about ``test_size`` of the samples.

    Parameters
    ----------
    groups : (N,) array-like
        Sample id of each measurement.
    test_size : float
        Fraction of the samples held out, in (0, 1).
    seed : int
        Random seed.
    stratify : (N,) array-like, optional
        Class label of each measurement: the test side is then one fold of a
        StratifiedGroupKFold with ``round(1 / test_size)`` folds, so class proportions are kept.

    Returns
    -------
    train, test : int arrays
        Measurement indices, sorted.
    """
    if not 0 < test_size < 1:
        raise InputError(f"test_size must be between 0 and 1, got {test_size}")
    groups, stratify = _check(groups, stratify, 2)
    if stratify is not None:
        n_splits = max(2, round(1 / test_size))
        return grouped_kfold(groups, n_splits, seed, stratify)[0]
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train, test = next(splitter.split(np.zeros((groups.size, 1)), groups=groups))
    return np.sort(train), np.sort(test)
