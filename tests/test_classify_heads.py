"""Feature heads: planted classes, feature transforms, nested selection, voting, pooling, and
the real AFM features baseline."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from tmdlearn.classify.evaluate import (
    CVResult,
    cross_validate,
    per_sample,
    pool_by_group,
    select_per_fold,
    soft_vote,
    summarise,
)
from tmdlearn.classify.heads import (
    BASE_HEADS,
    BaggedRefit,
    FeatureTransform,
    MLPClassifier,
    accuracy_and_balanced,
    describe_choice,
    fit_head,
    make_head,
)
from tmdlearn.errors import InputError


def _planted(n=240, d=32, seed=0):
    """Non-negative 'pooled activation' features whose class sets which 4 channels are high."""
    rng = np.random.default_rng(seed)
    y = np.array(["MoS2", "WS2", "WSe2"])[rng.integers(0, 3, n)]
    x = rng.gamma(1.0, 0.5, (n, d))
    for k, name in enumerate(["MoS2", "WS2", "WSe2"]):
        x[y == name, 4 * k:4 * k + 4] += 1.5
    return x, y, np.arange(n) // 2


@pytest.mark.parametrize("name", (*BASE_HEADS, "mlp-bag"))
def test_heads_learn_planted_classes(name):
    torch.set_num_threads(1)
    x, y, groups = _planted()
    params = {"epochs": 30} if name.startswith("mlp") else {}
    head = make_head(name, seed=0, device="cpu", **params)
    fit_head(head, x[:160], y[:160], groups[:160])
    assert (head.predict(x[160:]) == y[160:]).mean() > 0.9
    proba = head.predict_proba(x[160:])
    assert proba.shape == (80, 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_mlp_bag_averages_its_seeds_and_beats_its_weakest_member():
    torch.set_num_threads(1)
    x, y, _ = _planted(n=300, seed=5)
    x += np.random.default_rng(5).gamma(1.0, 1.2, x.shape)  # noisy: members disagree
    z = FeatureTransform("standardise").fit(x[:200])
    train, test = z.transform(x[:200]), z.transform(x[200:])
    settings = {"epochs": 15, "noise": 0.0, "device": "cpu"}
    bag = MLPClassifier(n_models=3, seed=0, **settings).fit(train, y[:200])
    members = [MLPClassifier(seed=k, **settings).fit(train, y[:200]) for k in range(3)]
    probas = [m.predict_proba(test) for m in members]
    # the bag of seeds 0, 1, 2 is the mean of the three single MLPs trained with those seeds
    assert np.allclose(bag.predict_proba(test), np.mean(probas, axis=0), atol=1e-5)
    codes = np.searchsorted(bag.classes_, y[200:])
    losses = [-np.log(p[np.arange(100), codes]).mean() for p in probas]
    bag_loss = -np.log(bag.predict_proba(test)[np.arange(100), codes]).mean()
    assert bag_loss <= np.mean(losses) and bag_loss < max(losses)
    accuracies = [(m.predict(test) == y[200:]).mean() for m in members]
    assert (bag.predict(test) == y[200:]).mean() >= min(accuracies)
    assert min(accuracies) > 0.5


def test_tuned_mlp_bag_picks_on_one_model_and_refits_the_bag():
    torch.set_num_threads(1)
    x, y, groups = _planted(n=180, seed=2)
    head = make_head("mlp-bag", tune=True, n_models=2, epochs=10, device="cpu")
    assert isinstance(head, BaggedRefit)
    fit_head(head, x, y, groups)
    searched = head.search.param_grid[0]
    assert searched["clf__class_weight"] == ["balanced", None]
    assert searched["clf"][0].n_models == 1  # inner folds fit one MLP per setting
    clf = head.best_estimator_.named_steps["clf"]
    assert len(clf.models_) == 2 and clf.class_weight == head.best_params_["clf__class_weight"]
    choice = describe_choice(head)
    assert choice["head"] == "mlp-bag" and choice["n_models"] == 2
    assert choice["transform"] in ("standardise", "power-l2") and 0.9 < choice["inner_score"]


def test_inner_scoring_is_the_mean_of_accuracy_and_balanced_accuracy():
    # accuracy 3/4, balanced accuracy (1 + 0) / 2 = 1/2
    assert accuracy_and_balanced(["a", "a", "a", "b"], ["a", "a", "a", "a"]) == 0.625


def test_feature_transforms():
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 1.0, (200, 12))
    assert np.array_equal(FeatureTransform("none").fit_transform(x), x)
    z = FeatureTransform("standardise").fit_transform(x)
    assert np.allclose(z.mean(axis=0), 0) and np.allclose(z.std(axis=0), 1)
    # power + L2 removes the image-wide activation level: rows scaled by any factor map alike
    power = FeatureTransform("power-l2").fit(x)
    assert np.allclose(power.transform(x * rng.uniform(0.1, 10, (200, 1))), power.transform(x))
    white = FeatureTransform("pca-whiten", variance=0.999).fit_transform(x)
    assert np.allclose(np.cov(white, rowvar=False), np.eye(white.shape[1]), atol=1e-6)
    with pytest.raises(InputError, match="unknown feature transform"):
        FeatureTransform("log").fit(x)


def test_tuning_searches_transforms_in_inner_grouped_folds():
    x, y, groups = _planted()
    x[:, :4] *= 1000.0  # channels of a huge scale: an unscaled RBF SVM sees only those
    head = make_head("svm", tune=True, transforms=("none", "standardise"))
    assert isinstance(head, GridSearchCV)
    fit_head(head, x, y, groups)
    assert head.best_params_["transform__kind"] == "standardise"
    # the inner folds were grouped: no sample on both sides of any inner split
    for train, test in head.cv.split(x, y, groups):
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(InputError, match="unknown head"):
        make_head("forest")
    with pytest.raises(InputError, match="unknown feature transform"):
        make_head("svm", tune=True, transforms=("log",))


def test_select_per_fold_equals_the_selected_head():
    x, y, groups = _planted(n=180, seed=3)
    x[:, 8:12] = 0.3 * x[:, 8:12] + 0.7 * np.random.default_rng(3).gamma(1.0, 0.5, (180, 4))
    among, kinds = ("logreg", "lda", "knn"), ("standardise", "power-l2")
    tuned = {name: cross_validate(lambda n=name: make_head(n, tune=True, transforms=kinds), x,
                                  y, groups, n_splits=3) for name in among}
    picked = select_per_fold(tuned)
    direct = cross_validate(lambda: make_head("selected", among=among, transforms=kinds), x, y,
                            groups, n_splits=3)
    assert np.array_equal(picked.y_pred, direct.y_pred)
    assert np.allclose(picked.proba, direct.proba)
    assert [c["head"] for c in picked.choices] == [c["head"] for c in direct.choices]
    for k, choice in enumerate(picked.choices):
        best = max(tuned[n].choices[k]["inner_score"] for n in among)
        assert choice["inner_score"] == best
    with pytest.raises(ValueError, match="tuned heads"):
        select_per_fold({"logreg": cross_validate(lambda: make_head("logreg"), x, y, groups,
                                                  n_splits=3)})


def _result(proba, y, groups, fold):
    classes = np.array(["a", "b"])
    proba = np.asarray(proba, float)
    return CVResult(classes, np.array(y), classes[proba.argmax(axis=1)], proba,
                    np.array(fold), np.array(groups))


def test_soft_vote_and_per_sample_pooling():
    one = _result([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]], ["a", "b", "a"], ["s", "t", "s"],
                  [0, 1, 0])
    two = _result([[0.5, 0.5], [0.0, 1.0], [0.9, 0.1]], ["a", "b", "a"], ["s", "t", "s"],
                  [0, 1, 0])
    vote = soft_vote([one, two])
    assert np.allclose(vote.proba, [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    assert list(vote.y_pred) == ["a", "b", "a"]
    samples = per_sample(one)  # sample s: mean (0.6, 0.4) -> a; sample t -> b
    assert list(samples.groups) == ["s", "t"] and list(samples.y_pred) == ["a", "b"]
    assert np.allclose(samples.proba, [[0.6, 0.4], [0.4, 0.6]])
    assert np.allclose(one.pooled().proba, [[0.6, 0.4], [0.4, 0.6], [0.6, 0.4]])
    assert np.allclose(pool_by_group(one.proba, one.groups), one.pooled().proba)
    with pytest.raises(InputError, match="one label per sample"):
        per_sample(_result(one.proba, ["a", "b", "b"], ["s", "t", "s"], [0, 1, 0]))
    with pytest.raises(ValueError, match="same items and folds"):
        soft_vote([one, _result(one.proba, ["a", "b", "a"], ["s", "t", "s"], [1, 0, 1])])


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


def test_real_afm_features_beat_published_baselines(test_data):
    from threadpoolctl import threadpool_limits

    data = np.load(test_data / "tmd-afm-features" / "resnet18_imagenet_512.npz")
    x, y, groups = data["features"].astype(float), data["targets"], data["sample_id"]
    with threadpool_limits(1):  # BLAS threads thrash on small problems
        result = cross_validate(lambda: make_head("logreg"), x, y, groups, n_splits=5, seed=0)
    image = summarise(result, n_boot=200)
    pooled = summarise(result.pooled(), n_boot=200)
    assert len(np.unique(groups)) == 626 and len(y) == 1026
    # plain logistic-regression baseline on these features (grouped 5-fold): accuracy about
    # 0.75, balanced accuracy about 0.73; sqrt + L2 + class weights lift the balanced accuracy
    assert image["accuracy"]["pooled"] > 0.75 and image["balanced_accuracy"]["pooled"] > 0.75
    assert pooled["accuracy"]["pooled"] > 0.80 and pooled["balanced_accuracy"]["pooled"] > 0.80
    acc = image["accuracy"]
    assert acc["ci_low"] < acc["pooled"] < acc["ci_high"]
