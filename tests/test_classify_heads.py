"""Feature heads: planted classes, grouped tuning, and the real AFM features baseline."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from tmdlearn.classify.evaluate import cross_validate, pool_by_group, summarise
from tmdlearn.classify.heads import HEADS, fit_head, make_head
from tmdlearn.errors import InputError


def _planted(n=240, d=32, seed=0):
    """Non-negative 'pooled activation' features whose class sets which 4 channels are high."""
    rng = np.random.default_rng(seed)
    y = np.array(["MoS2", "WS2", "WSe2"])[rng.integers(0, 3, n)]
    x = rng.gamma(1.0, 0.5, (n, d))
    for k, name in enumerate(["MoS2", "WS2", "WSe2"]):
        x[y == name, 4 * k:4 * k + 4] += 1.5
    return x, y, np.arange(n) // 2


@pytest.mark.parametrize("name", HEADS)
def test_heads_learn_planted_classes(name):
    torch.set_num_threads(1)
    x, y, groups = _planted()
    params = {"epochs": 30} if name == "mlp" else {}
    head = make_head(name, seed=0, device="cpu", **params)
    fit_head(head, x[:160], y[:160], groups[:160])
    assert (head.predict(x[160:]) == y[160:]).mean() > 0.9
    proba = head.predict_proba(x[160:])
    assert proba.shape == (80, 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_tuning_searches_inner_grouped_folds():
    x, y, groups = _planted()
    head = make_head("logreg", tune=True)
    assert isinstance(head, GridSearchCV)
    fit_head(head, x, y, groups)
    assert head.best_params_["clf__C"] in (0.01, 0.1, 1.0)
    # the inner folds were grouped: no sample on both sides of any inner split
    for train, test in head.cv.split(x, y, groups):
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(InputError, match="unknown head"):
        make_head("forest")


def test_pooling_averages_within_samples():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    pooled = pool_by_group(proba, ["a", "b", "a"])
    assert np.allclose(pooled, [[0.6, 0.4], [0.2, 0.8], [0.6, 0.4]])


def test_grouped_cv_gives_no_credit_for_memorising_samples():
    # Each sample's images share a feature vector and a random label: a 1-NN model would score
    # 100 % if one sample fell on both sides of a split; grouped CV must give chance level.
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(150), 2)
    x = np.repeat(rng.normal(size=(150, 5)), 2, axis=0)
    y = np.repeat(rng.integers(0, 2, 150), 2)
    result = cross_validate(lambda: KNeighborsClassifier(1), x, y, groups, n_splits=5)
    assert summarise(result, n_boot=100)["accuracy"]["pooled"] < 0.62


def test_real_afm_features_svm_reaches_published_baseline(test_data):
    data = np.load(test_data / "tmd-afm-features" / "resnet18_imagenet_512.npz")
    x, y, groups = data["features"].astype(float), data["targets"], data["sample_id"]
    result = cross_validate(lambda: make_head("svm"), x, y, groups, n_splits=5, seed=0)
    image = summarise(result, n_boot=200)
    pooled = summarise(result.pooled(), n_boot=200)
    assert len(np.unique(groups)) == 626 and len(y) == 1026
    # plain RBF-SVM baseline on these features: about 0.78 accuracy (grouped 5-fold)
    assert image["accuracy"]["pooled"] > 0.78
    assert pooled["accuracy"]["pooled"] > 0.81 and pooled["balanced_accuracy"]["pooled"] > 0.78
    acc = image["accuracy"]
    assert acc["ci_low"] < acc["pooled"] < acc["ci_high"]
