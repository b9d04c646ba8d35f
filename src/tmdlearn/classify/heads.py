"""Classification heads on frozen features, scikit-learn style.

Every head is a :class:`sklearn.pipeline.Pipeline`: a feature transform suited to ReLU-pooled
CNN features (power transform, L2 row normalisation, standardisation) then a classifier:
logistic regression, RBF SVM, a small torch MLP, or a soft-voting ensemble of the three.
Hyper-parameters can be tuned by grid search over inner folds grouped by sample
(``tune=True``): fit with ``fit_head(head, X, y, groups)`` so that the groups reach the search.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler
from sklearn.svm import SVC

from tmdlearn.errors import InputError
from tmdlearn.learn import TrainConfig, grouped_holdout, predict, train_model
from tmdlearn.models.mlp import MLP

HEADS = ("logreg", "svm", "mlp", "ensemble")

# Grids searched over inner grouped folds when tune=True (step names of the pipeline).
GRIDS = {
    "logreg": {"clf__C": [0.01, 0.1, 1.0]},
    "svm": {"clf__C": [1.0, 3.0, 10.0], "clf__gamma": ["scale", 0.5 / 512]},
    "mlp": {"clf__noise": [0.1, 0.3], "clf__dropout": [0.3, 0.5]},
}


def _signed_power(x, power):
    return np.sign(x) * np.abs(x) ** power


def feature_transform(power: float | None = 0.5, l2: bool = True) -> list[tuple[str, object]]:
    """Pipeline steps for ReLU-pooled CNN features.

    ``power``: signed power transform x -> sign(x)|x|^power (0.5: square root, which tames the
    heavy tails of average-pooled activations; None: off). ``l2``: scale each row to unit norm
    (removes the image-wide activation level). Standardisation always follows.
    """
    steps: list[tuple[str, object]] = []
    if power is not None:
        steps.append(("power", FunctionTransformer(_signed_power, kw_args={"power": power})))
    if l2:
        steps.append(("l2", Normalizer()))
    steps.append(("scale", StandardScaler()))
    return steps


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A small torch MLP (``tmdlearn.models.MLP``) with the scikit-learn classifier API.

    Training uses ``tmdlearn.learn.train_model``: AdamW, label smoothing, class weights
    ("balanced") or oversampling, Gaussian noise of standard deviation ``noise`` added to the
    (standardised) features of each training batch, and, with ``val_fraction`` > 0, early
    stopping on a validation split grouped by ``groups``.
    """

    def __init__(self, hidden=(256,), dropout=0.5, input_dropout=0.2, noise=0.3,
                 label_smoothing=0.1, epochs=150, batch_size=64, lr=1e-3, weight_decay=1e-3,
                 class_weight="balanced", oversample=False, val_fraction=0.0, patience=15,
                 seed=0, device="auto"):
        self.hidden, self.dropout, self.input_dropout = hidden, dropout, input_dropout
        self.noise, self.label_smoothing, self.epochs = noise, label_smoothing, epochs
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.class_weight, self.oversample = class_weight, oversample
        self.val_fraction, self.patience, self.seed, self.device = (
            val_fraction, patience, seed, device)

    def fit(self, X, y, groups=None):
        X = np.asarray(X, dtype=np.float32)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        train, val = np.arange(len(X)), np.array([], dtype=int)
        if self.val_fraction > 0:
            groups = np.arange(len(X)) if groups is None else np.asarray(groups)
            train, val = grouped_holdout(codes, groups, self.val_fraction, seed=self.seed)
        torch.manual_seed(self.seed)
        self.model_ = MLP(X.shape[1], len(self.classes_), hidden=tuple(self.hidden),
                          dropout=self.dropout, input_dropout=self.input_dropout)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, patience=self.patience,
                             label_smoothing=self.label_smoothing,
                             class_weight=self.class_weight, oversample=self.oversample,
                             seed=self.seed, device=self.device)
        noise = self.noise

        def jitter(batch, generator):
            return batch + noise * torch.randn(batch.shape, generator=generator)

        self.history_ = train_model(self.model_, X[train], codes[train], config=config,
                                    x_val=X[val] if len(val) else None, y_val=codes[val],
                                    augment=jitter if noise > 0 else None,
                                    description="MLP head")
        return self

    def predict_proba(self, X):
        logits = predict(self.model_, np.asarray(X, dtype=np.float32), device=self.device)
        return torch.softmax(torch.as_tensor(logits), dim=1).numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        """The hidden representation of the trained MLP (for latent analysis)."""
        self.model_.eval()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(X, dtype=np.float32))
            return self.model_.embed(x.to(next(self.model_.parameters()).device)).cpu().numpy()


class SoftVote(ClassifierMixin, BaseEstimator):
    """Soft voting: the mean of the members' class probabilities.

    Unlike :class:`sklearn.ensemble.VotingClassifier`, ``fit`` passes ``groups`` on to members
    that are grouped searches (see :func:`fit_head`).
    """

    def __init__(self, members):
        self.members = members

    def fit(self, X, y, groups=None):
        self.fitted_ = [fit_head(clone(m), X, y, groups) for m in self.members]
        self.classes_ = self.fitted_[0].classes_
        return self

    def predict_proba(self, X):
        return np.mean([m.predict_proba(X) for m in self.fitted_], axis=0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def make_head(name: str, *, power: float | None = 0.5, l2: bool = True,
              class_weight: str | None = "balanced", tune: bool = False, inner_splits: int = 3,
              scoring: str = "balanced_accuracy", seed: int = 0, device: str = "auto",
              **params):
    """A head by name: "logreg", "svm", "mlp" or "ensemble" (soft vote of the three; with
    ``tune=True`` its logreg and svm members are tuned, the MLP keeps its defaults).

    ``params`` go to the classifier (e.g. ``C=10`` for svm, ``epochs=50`` for mlp). With
    ``tune=True`` the grid ``GRIDS[name]`` is searched by ``inner_splits``-fold stratified CV
    grouped by sample inside the training data only (never the test fold), scored by
    ``scoring``.
    """
    if name == "ensemble":
        # The MLP member keeps its defaults: a grid over it would cost ~10x the whole head.
        members = [make_head(n, power=power, l2=l2, class_weight=class_weight,
                             tune=tune and n != "mlp", inner_splits=inner_splits,
                             scoring=scoring, seed=seed, device=device)
                   for n in ("logreg", "svm", "mlp")]
        return SoftVote(members)
    if name == "logreg":
        clf = LogisticRegression(**{"C": 0.1, "max_iter": 5000, "class_weight": class_weight,
                                    **params})
    elif name == "svm":
        svc_params = {"C": 10.0, "class_weight": class_weight, **params}
        # Platt scaling gives the class probabilities used for voting and sample pooling.
        clf = _PlattSVC(**svc_params)
    elif name == "mlp":
        clf = MLPClassifier(**{"class_weight": class_weight, "seed": seed, "device": device,
                               **params})
    else:
        raise InputError(f"unknown head {name!r}: choose one of {', '.join(HEADS)}")
    pipeline = Pipeline([*feature_transform(power, l2), ("clf", clf)])
    if not tune:
        return pipeline
    inner = StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, GRIDS[name], cv=inner, scoring=scoring, n_jobs=1)


class _PlattSVC(ClassifierMixin, BaseEstimator):
    """RBF SVC whose probabilities come from sigmoid calibration on 3 internal folds."""

    def __init__(self, C=10.0, gamma="scale", class_weight="balanced"):
        self.C, self.gamma, self.class_weight = C, gamma, class_weight

    def fit(self, X, y):
        svc = SVC(C=self.C, gamma=self.gamma, class_weight=self.class_weight)
        self.svc_ = svc.fit(X, y)
        self.calibrated_ = CalibratedClassifierCV(SVC(C=self.C, gamma=self.gamma,
                                                      class_weight=self.class_weight),
                                                  method="sigmoid", cv=3).fit(X, y)
        self.classes_ = self.svc_.classes_
        return self

    def predict(self, X):
        return self.svc_.predict(X)

    def predict_proba(self, X):
        return self.calibrated_.predict_proba(X)


def fit_head(head, X, y, groups=None):
    """Fit ``head``, passing ``groups`` to estimators whose ``fit`` takes them (grouped
    searches, ensembles, image classifiers, the MLP); returns the head."""
    if groups is not None and "groups" in inspect.signature(head.fit).parameters:
        return head.fit(X, y, groups=groups)
    if groups is not None and isinstance(head, Pipeline) and isinstance(
            head.steps[-1][1], MLPClassifier):
        return head.fit(X, y, clf__groups=groups)
    return head.fit(X, y)
