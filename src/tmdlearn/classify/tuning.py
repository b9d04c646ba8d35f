"""What tuned heads search and how they are scored: the classifiers' grids, the transforms the
MLP searches, the inner-CV criterion (:data:`SCORING`, the mean of accuracy and balanced
accuracy), :class:`BaggedRefit` (an MLP search refitted as a bag of seeds) and
:func:`fit_head`, which hands the sample groups to the searches that take them.
"""

from __future__ import annotations

import inspect
import warnings

from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from tmdlearn.classify.mlp_head import MLPClassifier

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
            Raw training features: the search's inner folds and the bag's refit both use all
            rows.
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
            Raw features: the refitted pipeline applies the search's chosen transform first.

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
            Raw features (transformed by the pipeline), one row per item to score.

        Returns
        -------
        (N, n_classes) array
            Probabilities in the order of ``classes_``.
        """
        return self.best_estimator_.predict_proba(X)


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
