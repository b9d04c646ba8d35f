"""Grouped stratified folds: no group on both sides, every item tested once, reproducible."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tmdlearn.errors import InputError
from tmdlearn.learn import grouped_folds, grouped_holdout


@settings(max_examples=40, deadline=None)
@given(st.integers(6, 60), st.integers(2, 4), st.integers(2, 5), st.integers(0, 10_000))
def test_no_group_on_both_sides(n_groups, n_classes, k, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    targets = np.repeat(rng.integers(0, n_classes, n_groups), sizes)
    # grouped_folds refuses more folds than items in the largest class (tested below)
    assume(min(k, n_groups) <= np.unique(targets, return_counts=True)[1].max())
    folds = grouped_folds(targets, groups, n_splits=min(k, n_groups), seed=seed)
    tested = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(targets)))  # each item tested once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(targets)


def test_stratified_and_reproducible():
    groups = np.arange(100)
    targets = np.array([0] * 80 + [1] * 20)
    folds = grouped_folds(targets, groups, n_splits=5, seed=3)
    assert [int((targets[te] == 1).sum()) for _, te in folds] == [4] * 5
    again = grouped_folds(targets, groups, n_splits=5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = grouped_folds(targets, groups, n_splits=5, seed=4)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_holdout_fraction_and_errors():
    groups = np.repeat(np.arange(50), 2)
    targets = np.repeat(np.arange(50) % 2, 2)
    train, held = grouped_holdout(targets, groups, fraction=0.2, seed=0)
    assert len(held) == 20 and not set(groups[train]) & set(groups[held])
    with pytest.raises(InputError):
        grouped_folds(targets, groups, n_splits=51)
    with pytest.raises(InputError, match="largest class"):
        grouped_folds(np.array([0, 0, 1, 2, 3, 4]), np.arange(6), n_splits=5)
    with pytest.raises(InputError):
        grouped_holdout(targets, groups, fraction=1.5)
