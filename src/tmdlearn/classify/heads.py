"""Classification heads on frozen features, scikit-learn style.

Every head is a :class:`sklearn.pipeline.Pipeline` with two steps: ``transform``, a
:class:`FeatureTransform` of the ReLU-pooled CNN features (none, standardise, power + L2 +
standardise, or standardise + PCA whitening), and ``clf``: logistic regression, RBF SVM, a small
torch MLP (``mlp-bag``: a bag of them over seeds; :mod:`tmdlearn.classify.mlp_head`), linear
discriminant analysis or k nearest neighbours.

``tune=True`` makes the head a grouped grid search: an inner stratified K-fold grouped by sample,
run on the training data it is fitted on, picks the feature transform and the classifier's
hyper-parameters (fit with ``fit_head(head, X, y, groups)`` so that the groups reach the
search), scored by :data:`SCORING` (the mean of accuracy and balanced accuracy); the grids and
the scoring are in :mod:`tmdlearn.classify.tuning`. The ``selected`` head searches every head's
grid at once: the inner CV picks the head too. In an outer cross-validation this is the nested
protocol: nothing is chosen on a test fold.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.svm import SVC

from tmdlearn.classify.mlp_head import MLPClassifier
from tmdlearn.classify.tuning import (
    GRIDS,
    HEAD_TRANSFORMS,
    SCORING,
    BaggedRefit,
    accuracy_and_balanced,
    fit_head,
)
from tmdlearn.errors import InputError

__all__ = ["BASE_HEADS", "GRIDS", "HEADS", "HEAD_TRANSFORMS", "SCORING", "TRANSFORMS",
           "BaggedRefit", "FeatureTransform", "MLPClassifier", "accuracy_and_balanced",
           "describe_choice", "fit_head", "make_head"]

#: Single heads; "selected" is the inner-CV pick among them (and their grids).
BASE_HEADS = ("logreg", "svm", "mlp", "lda", "knn")
#: "mlp-bag": the MLP tuned on one model per setting, refitted as a bag of seeds.
HEADS = (*BASE_HEADS, "mlp-bag", "selected")
TRANSFORMS = ("none", "standardise", "power-l2", "pca-whiten")


class FeatureTransform(TransformerMixin, BaseEstimator):
    """Transform of ReLU-pooled CNN features (N, D), fitted on training rows only.

    ``kind``: "none"; "standardise" (zero mean, unit variance per feature); "power-l2" (signed
    power x -> sign(x)|x|^``power``, 0.5 taming the heavy tails of average-pooled activations,
    then unit L2 norm per row, removing the image-wide activation level, then standardise);
    "pca-whiten" (standardise, then PCA keeping ``variance`` of the variance, whitened).
    """

    def __init__(self, kind: str = "power-l2", power: float = 0.5, variance: float = 0.95):
        self.kind, self.power, self.variance = kind, power, variance

    def fit(self, X, y=None):
        """Fit the scaler (and PCA) on training features.

        Parameters
        ----------
        X : (N, D) array
            Pooled CNN features.
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        FeatureTransform
            ``self``, fitted.
        """
        if self.kind not in TRANSFORMS:
            raise InputError(f"unknown feature transform {self.kind!r}: choose one of "
                             f"{', '.join(TRANSFORMS)}")
        X = self._powered(X)
        self.scaler_ = StandardScaler().fit(X) if self.kind != "none" else None
        self.pca_ = None
        if self.kind == "pca-whiten":
            self.pca_ = PCA(n_components=self.variance, whiten=True, svd_solver="full",
                            random_state=0).fit(self.scaler_.transform(X))
        return self

    def _powered(self, X):
        X = np.asarray(X, dtype=float)
        if self.kind == "power-l2":
            X = normalize(np.sign(X) * np.abs(X) ** self.power)
        return X

    def transform(self, X):
        """Transform features with the fitted steps.

        Parameters
        ----------
        X : (N, D) array
            Pooled CNN features.

        Returns
        -------
        (N, D) or (N, n_components) array
            Transformed features (n_components for "pca-whiten").
        """
        X = self._powered(X)
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        return self.pca_.transform(X) if self.pca_ is not None else X


class _PlattSVC(ClassifierMixin, BaseEstimator):
    """RBF SVC with kernel width gamma = ``gamma_scale`` / (D var(X)) (1: scikit-learn's
    "scale") whose probabilities come from sigmoid calibration on 3 internal folds, fitted on
    the first ``predict_proba`` call (a search scoring decisions only never pays for it)."""

    def __init__(self, C=10.0, gamma_scale=1.0, class_weight="balanced"):
        self.C, self.gamma_scale, self.class_weight = C, gamma_scale, class_weight

    def _svc(self):
        return SVC(C=self.C, gamma=self.gamma_, class_weight=self.class_weight)

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        self.gamma_ = self.gamma_scale / (X.shape[1] * X.var())
        self.svc_ = self._svc().fit(X, y)
        self.classes_ = self.svc_.classes_
        self.calibrated_, self._train = None, (X, y)
        return self

    def predict(self, X):
        return self.svc_.predict(X)

    def predict_proba(self, X):
        if self.calibrated_ is None:
            self.calibrated_ = CalibratedClassifierCV(self._svc(), method="sigmoid",
                                                      cv=3).fit(*self._train)
        return self.calibrated_.predict_proba(X)


def _classifier(name: str, class_weight, seed: int, device: str, params: dict):
    if name == "logreg":
        return LogisticRegression(**{"C": 0.1, "max_iter": 5000, "class_weight": class_weight,
                                     **params})
    if name == "svm":
        # Platt scaling gives the class probabilities used for voting and sample pooling.
        return _PlattSVC(**{"C": 10.0, "class_weight": class_weight, **params})
    if name in ("mlp", "mlp-bag"):
        return MLPClassifier(**{"class_weight": class_weight, "seed": seed, "device": device,
                                **params})
    if name == "lda":
        return LinearDiscriminantAnalysis(**{"solver": "lsqr", "shrinkage": "auto", **params})
    if name == "knn":
        return KNeighborsClassifier(**{"n_neighbors": 15, "weights": "distance", **params})
    raise InputError(f"unknown head {name!r}: choose one of {', '.join(HEADS)}")


def make_head(name: str, *, transform: str = "power-l2", class_weight: str | None = "balanced",
              tune: bool = False, transforms=TRANSFORMS, among=BASE_HEADS, inner_splits: int = 3,
              scoring=SCORING, seed: int = 0, device: str = "auto", **params):
    """A head by name: one of ``HEADS``.

    Parameters
    ----------
    name : str
        One of ``HEADS``. "mlp-bag" is an MLP of ``n_models`` seeds (default 5); tuned, its
        inner folds fit one MLP per setting and the pick is refitted as the bag
        (:class:`BaggedRefit`).
    transform : str
        :class:`FeatureTransform` kind of an untuned head.
    class_weight : str, optional
        "balanced" or None, for the classifiers that take it.
    tune : bool
        Return a grid search over ``transforms`` (those of ``HEAD_TRANSFORMS`` for the MLP) x
        ``GRIDS[name]`` (for "selected": over the heads in ``among``, each with its grid);
        always True for "selected".
    transforms : sequence of str
        Transform kinds searched when tuned.
    among : sequence of str
        Heads searched by "selected".
    inner_splits : int
        Folds of the inner stratified CV grouped by sample, inside the training data only.
    scoring : scorer
        Inner-CV criterion (default :data:`SCORING`).
    seed : int
        Seed of the inner folds and the MLP.
    device : str
        Torch device of the MLP, "auto" picks CUDA when available.
    **params
        Updates of the classifier's defaults (e.g. ``C=10`` for svm, ``epochs=50`` for mlp);
        for "selected" they go to the MLP only.

    Returns
    -------
    Pipeline, GridSearchCV or BaggedRefit
        Untuned: the pipeline ``transform`` then ``clf``; tuned: the search (fit it with
        :func:`fit_head` so that the groups reach it).
    """
    unknown = sorted({transform, *transforms} - set(TRANSFORMS))
    if unknown:
        raise InputError(f"unknown feature transform(s) {unknown}: choose from "
                         f"{', '.join(TRANSFORMS)}")
    if name == "selected":
        tune = True
        names = list(among)
    else:
        names = [name]
    n_bag = params.pop("n_models", 5) if name == "mlp-bag" else 1
    if name == "mlp-bag" and not tune:
        params["n_models"] = n_bag
    grids = []
    for head in names:
        head_params = params if name != "selected" or head == "mlp" else {}
        clf = _classifier(head, class_weight, seed, device, head_params)
        kinds = [t for t in transforms if t in HEAD_TRANSFORMS.get(head, TRANSFORMS)]
        grids.append({"transform__kind": kinds or list(transforms), "clf": [clf],
                      **GRIDS[head]})
    pipeline = Pipeline([("transform", FeatureTransform(transform)), ("clf", grids[0]["clf"][0])])
    if not tune:
        return pipeline
    inner = StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    if name == "mlp-bag":
        search = GridSearchCV(pipeline, grids, cv=inner, scoring=scoring, n_jobs=1, refit=False)
        return BaggedRefit(search, n_models=n_bag)
    return GridSearchCV(pipeline, grids, cv=inner, scoring=scoring, n_jobs=1)


_NAMES = {LogisticRegression: "logreg", _PlattSVC: "svm", MLPClassifier: "mlp",
          LinearDiscriminantAnalysis: "lda", KNeighborsClassifier: "knn"}


def describe_choice(search: GridSearchCV | BaggedRefit) -> dict:
    """The pick of a fitted grid search in words: head, transform, classifier parameters and
    the inner-CV score.

    Parameters
    ----------
    search : GridSearchCV or BaggedRefit
        A fitted tuned head.

    Returns
    -------
    dict
        head, transform, the classifier's searched parameters and inner_score.
    """
    params = dict(search.best_params_)
    clf = params.pop("clf")
    choice = {"head": _NAMES.get(type(clf), type(clf).__name__),
              "transform": params.pop("transform__kind")}
    choice.update({key.removeprefix("clf__"): value for key, value in params.items()})
    if isinstance(search, BaggedRefit):
        choice["head"], choice["n_models"] = "mlp-bag", search.n_models
    choice["inner_score"] = float(search.best_score_)
    return choice
