"""Bootstrap intervals and classification metrics against known answers."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from tmdlearn.learn import (
    bootstrap_ci,
    confusion_counts,
    mean_confusion,
    per_class_scores,
    row_normalised,
)
from tmdlearn.learn.metrics import balanced_accuracy


def test_bootstrap_mean_matches_normal_theory():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, 400)
    ci = bootstrap_ci(np.mean, x, n_boot=2000, seed=1)
    half = 1.96 / np.sqrt(len(x))  # standard error of the mean, sigma = 1
    assert ci.estimate == pytest.approx(x.mean())
    assert ci.low == pytest.approx(x.mean() - half, abs=0.02)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.02)
    assert bootstrap_ci(np.mean, x, n_boot=200, seed=5) == bootstrap_ci(np.mean, x, n_boot=200,
                                                                         seed=5)


def test_group_bootstrap_is_wider_for_correlated_groups():
    # 40 groups of 10 identical items: the effective sample size is 40, not 400.
    rng = np.random.default_rng(2)
    correct = np.repeat(rng.random(40) < 0.7, 10)
    truth = np.ones(400, int)
    pred = correct.astype(int)
    rows = bootstrap_ci(accuracy_score, truth, pred, n_boot=1000, seed=0)
    grouped = bootstrap_ci(accuracy_score, truth, pred, n_boot=1000, seed=0,
                           groups=np.repeat(np.arange(40), 10))
    assert (grouped.high - grouped.low) > 2.5 * (rows.high - rows.low)


def test_metrics_known_answer():
    truth = np.array(["a", "a", "a", "a", "b", "b", "c", "c"])
    pred = np.array(["a", "a", "a", "b", "b", "b", "a", "c"])
    counts = confusion_counts(truth, pred, ["a", "b", "c"])
    assert counts.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert row_normalised(counts)[0].tolist() == [0.75, 0.25, 0.0]
    assert balanced_accuracy(truth, pred) == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    table = per_class_scores(truth, pred, ["a", "b", "c"])
    assert table.loc[0, "precision"] == pytest.approx(0.75)
    assert table.loc[1, "precision"] == pytest.approx(2 / 3)
    assert table.loc[2, "f1"] == pytest.approx(2 / 3)
    assert table["support"].tolist() == [4, 2, 2]
    mean, std = mean_confusion([(truth, pred), (truth, truth)], ["a", "b", "c"])
    assert mean[0].tolist() == [3.5, 0.5, 0.0] and std[0, 1] == 0.5
