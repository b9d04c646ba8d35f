"""Classification heads on frozen features, scikit-learn style.

Every head is a :class:`sklearn.pipeline.Pipeline` with two steps: ``transform``, a
:class:`FeatureTransform` of the ReLU-pooled CNN features (none, standardise, power + L2 +
standardise, or standardise + PCA whitening), and ``clf``: logistic regression, RBF SVM, a small
torch MLP (``mlp-bag``: a bag of them over seeds), linear discriminant analysis or k nearest
neighbours.

``tune=True`` makes the head a grouped grid search: an inner stratified K-fold grouped by sample,
run on the training data it is fitted on, picks the feature transform and the classifier's
hyper-parameters (fit with ``fit_head(head, X, y, groups)`` so that the groups reach the
search), scored by :data:`SCORING` (the mean of accuracy and balanced accuracy). The
``selected`` head searches every head's grid at once: the inner CV picks the head too. In an outer
cross-validation this is the nested protocol: nothing is chosen on a test fold.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.svm import SVC

from tmdlearn.errors import InputError
from tmdlearn.learn import TrainConfig, grouped_holdout, predict, train_model
from tmdlearn.models.mlp import MLP

#: Single heads; "selected" is the inner-CV pick among them (and their grids).
BASE_HEADS = ("logreg", "svm", "mlp", "lda", "knn")
#: "mlp-bag": the MLP tuned on one model per setting, refitted as a bag of seeds.
HEADS = (*BASE_HEADS, "mlp-bag", "selected")
TRANSFORMS = ("none", "standardise", "power-l2", "pca-whiten")

# Classifier grids searched over inner grouped folds when tune=True (with every transform).
GRIDS = {
    "logreg": {"clf__C": [0.01, 0.1, 1.0]},
    "svm": {"clf__C": [1.0, 3.0, 10.0, 30.0], "clf__gamma_scale": [0.5, 1.0, 2.0]},
    "mlp": {},
    "lda": {"clf__shrinkage": ["auto", 0.3, 0.7]},
    "knn": {"clf__n_neighbors": [5, 15, 30]},
    "mlp-bag": {"clf__class_weight": ["balanced", None]},
}
# The MLP needs standardised inputs and costs ~50x an SVM fit: it searches these two only.
HEAD_TRANSFORMS = {"mlp": ("standardise", "power-l2"), "mlp-bag": ("standardise", "power-l2")}


def accuracy_and_balanced(y_true, y_pred) -> float:
    """The mean of accuracy and balanced accuracy (both in [0, 1]).

    An inner fold may lack a class that the model still predicts; balanced accuracy then
    averages the recalls of the classes present, as intended, without sklearn's warning.

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted class labels.

    Returns
    -------
    float
        Score in [0, 1].
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
        balanced = balanced_accuracy_score(y_true, y_pred)
    return 0.5 * (accuracy_score(y_true, y_pred) + balanced)


#: Inner-CV criterion of tuned heads: targets are set on accuracy and balanced accuracy both.
SCORING = make_scorer(accuracy_and_balanced)


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


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A small torch MLP (``tmdlearn.models.MLP``) with the scikit-learn classifier API.

    Training uses ``tmdlearn.learn.train_model``: AdamW, label smoothing, class weights
    ("balanced") or oversampling, Gaussian noise of standard deviation ``noise`` added to the
    (transformed) features of each training batch, and, with ``val_fraction`` > 0, early
    stopping on a validation split grouped by ``groups``. ``n_models`` > 1 trains a bag of
    MLPs with seeds ``seed``, ``seed + 1``, ... and averages their class probabilities.
    """

    def __init__(self, hidden=(256,), dropout=0.5, input_dropout=0.2, noise=0.3,
                 label_smoothing=0.1, epochs=150, batch_size=64, lr=1e-3, weight_decay=1e-3,
                 class_weight="balanced", oversample=False, val_fraction=0.0, patience=15,
                 n_models=1, seed=0, device="auto"):
        self.hidden, self.dropout, self.input_dropout = hidden, dropout, input_dropout
        self.noise, self.label_smoothing, self.epochs = noise, label_smoothing, epochs
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.class_weight, self.oversample = class_weight, oversample
        self.val_fraction, self.patience, self.seed, self.device = (
            val_fraction, patience, seed, device)
        self.n_models = n_models

    def fit(self, X, y, groups=None):
        """Train ``n_models`` MLPs.

        Parameters
        ----------
        X : (N, D) array
            Features.
        y : (N,) array
            Class labels.
        groups : (N,) array, optional
            Sample ids for the grouped early-stopping split (``val_fraction`` > 0); default:
            each item its own group.

        Returns
        -------
        MLPClassifier
            ``self``, fitted.
        """
        X = np.asarray(X, dtype=np.float32)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.models_ = [self._fit_one(X, codes, groups, self.seed + k)
                        for k in range(self.n_models)]
        self.model_ = self.models_[0]
        return self

    def _fit_one(self, X, codes, groups, seed: int) -> MLP:
        train, val = np.arange(len(X)), np.array([], dtype=int)
        if self.val_fraction > 0:
            groups = np.arange(len(X)) if groups is None else np.asarray(groups)
            train, val = grouped_holdout(codes, groups, self.val_fraction, seed=seed)
        torch.manual_seed(seed)
        model = MLP(X.shape[1], len(self.classes_), hidden=tuple(self.hidden),
                    dropout=self.dropout, input_dropout=self.input_dropout)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, patience=self.patience,
                             label_smoothing=self.label_smoothing,
                             class_weight=self.class_weight, oversample=self.oversample,
                             seed=seed, device=self.device)
        noise = self.noise

        def jitter(batch, generator):
            return batch + noise * torch.randn(batch.shape, generator=generator)

        train_model(model, X[train], codes[train], config=config,
                    x_val=X[val] if len(val) else None, y_val=codes[val],
                    augment=jitter if noise > 0 else None, description="MLP head")
        return model

    def predict_proba(self, X):
        """Class probabilities, averaged over the bag.

        Parameters
        ----------
        X : (N, D) array
            Features.

        Returns
        -------
        (N, n_classes) array
            Probabilities in the order of ``classes_``.
        """
        X = np.asarray(X, dtype=np.float32)
        return np.mean([torch.softmax(torch.as_tensor(predict(m, X, device=self.device)),
                                      dim=1).numpy() for m in self.models_], axis=0)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : (N, D) array
            Features.

        Returns
        -------
        (N,) array
            Class labels.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        """The hidden representation of the (first) trained MLP (for latent analysis).

        Parameters
        ----------
        X : (N, D) array
            Features.

        Returns
        -------
        (N, H) array
            Last hidden layer's activations (the input itself without hidden layers).
        """
        self.model_.eval()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(X, dtype=np.float32))
            return self.model_.embed(x.to(next(self.model_.parameters()).device)).cpu().numpy()


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


class BaggedRefit(ClassifierMixin, BaseEstimator):
    """A grid search over one-MLP heads (``search``, with ``refit=False``) whose pick is refitted
    as a bag of ``n_models`` MLPs: the inner folds pay for one model per setting, the fitted head
    averages the bag's class probabilities. ``best_params_`` / ``best_score_`` are the search's.
    """

    def __init__(self, search=None, n_models=5):
        self.search, self.n_models = search, n_models

    def fit(self, X, y, groups=None):
        """Run the search, then fit the bag of its pick on all of ``X``.

        Parameters
        ----------
        X : (N, D) array
            Features.
        y : (N,) array
            Class labels.
        groups : (N,) array, optional
            Sample ids for the grouped inner folds and early stopping.

        Returns
        -------
        BaggedRefit
            ``self``, fitted.
        """
        search = clone(self.search).fit(X, y, groups=groups)
        self.best_params_, self.best_score_ = search.best_params_, search.best_score_
        self.best_estimator_ = clone(search.estimator).set_params(**self.best_params_)
        self.best_estimator_.set_params(clf__n_models=self.n_models)
        fit_head(self.best_estimator_, X, y, groups)
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict(self, X):
        """Classes predicted by the refitted bag.

        Parameters
        ----------
        X : (N, D) array
            Features.

        Returns
        -------
        (N,) array
            Class labels.
        """
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Class probabilities of the refitted bag.

        Parameters
        ----------
        X : (N, D) array
            Features.

        Returns
        -------
        (N, n_classes) array
            Probabilities in the order of ``classes_``.
        """
        return self.best_estimator_.predict_proba(X)


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


def fit_head(head, X, y, groups=None):
    """Fit ``head``, passing ``groups`` to estimators whose ``fit`` takes them (grouped
    searches, image classifiers, the MLP); returns the head.

    Parameters
    ----------
    head : estimator
        A head of :func:`make_head` or an image classifier.
    X : array
        Training inputs.
    y : (N,) array
        Class labels.
    groups : (N,) array, optional
        Sample ids.

    Returns
    -------
    estimator
        ``head``, fitted.
    """
    takes_groups = isinstance(head, GridSearchCV) or "groups" in inspect.signature(
        head.fit).parameters
    if groups is not None and takes_groups:
        return head.fit(X, y, groups=groups)
    if groups is not None and isinstance(head, Pipeline) and isinstance(
            head.steps[-1][1], MLPClassifier):
        return head.fit(X, y, clf__groups=groups)
    return head.fit(X, y)
