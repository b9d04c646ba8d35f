"""Cross-validated evaluation of a classifier: out-of-fold predictions and their summary.

Folds are stratified by class and grouped by sample (``tmdlearn.learn.grouped_folds``).
Tuned heads pick their feature transform and hyper-parameters in inner grouped folds of each
training fold (nested CV); :func:`select_per_fold` picks, per outer fold, the head with the best
inner score. :func:`soft_vote` averages the out-of-fold class probabilities of several heads.
Sample pooling averages the class probabilities of all test images of one sample (sample ids
only, never labels): :meth:`CVResult.pooled` gives that sample decision to each of its images,
:func:`per_sample` scores one row per sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tmdlearn.classify.heads import describe_choice, fit_head
from tmdlearn.errors import InputError
from tmdlearn.learn import (
    accuracy,
    balanced_accuracy,
    bootstrap_ci,
    grouped_folds,
    mean_confusion,
    per_class_scores,
    row_normalised,
)
from tmdlearn.learn.metrics import confusion_counts
from tmdlearn.progress import track


@dataclass
class CVResult:
    """Out-of-fold results: every item predicted by the model of the fold that tested it."""

    classes: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None
    fold: np.ndarray
    groups: np.ndarray
    #: Per outer fold, the inner-CV pick of a tuned head (see ``heads.describe_choice``).
    choices: list[dict] = field(default_factory=list)

    def pooled(self) -> CVResult:
        """Predictions pooled by sample: mean class probabilities over the images of a sample,
        the sample's decision given to each of its images (scored per image).

        Returns
        -------
        CVResult
            A copy with pooled ``proba`` and ``y_pred``.
        """
        proba = pool_by_group(_needs_proba(self), self.groups)
        return replace(self, y_pred=self.classes[proba.argmax(axis=1)], proba=proba)


def _needs_proba(result: CVResult) -> np.ndarray:
    if result.proba is None:
        raise ValueError("sample pooling and voting need class probabilities")
    return result.proba


def pool_by_group(proba: np.ndarray, groups) -> np.ndarray:
    """Replace each row of ``proba`` by the mean over the rows of its group.

    Parameters
    ----------
    proba : (N, K) array
        Class probabilities.
    groups : (N,) array
        Group (sample id) of each row.

    Returns
    -------
    (N, K) array
        The group means, one row per input row.
    """
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.zeros((inverse.max() + 1, proba.shape[1]))
    np.add.at(sums, inverse, proba)
    return (sums / np.bincount(inverse)[:, None])[inverse]


def per_sample(result: CVResult) -> CVResult:
    """One row per sample (group): the mean class probabilities of its test images and the
    sample's label (InputError if the images of one sample carry different labels).

    Parameters
    ----------
    result : CVResult
        Out-of-fold results with class probabilities.

    Returns
    -------
    CVResult
        One row per sample, in sorted sample order.
    """
    proba = pool_by_group(_needs_proba(result), result.groups)
    _, first, inverse = np.unique(result.groups, return_index=True, return_inverse=True)
    if np.any(result.y_true != result.y_true[first][inverse]):
        raise InputError("per-sample scoring needs one label per sample")
    return CVResult(result.classes, result.y_true[first],
                    result.classes[proba[first].argmax(axis=1)], proba[first],
                    result.fold[first], result.groups[first], result.choices)


def soft_vote(results: list[CVResult]) -> CVResult:
    """Soft voting of out-of-fold results of the same items and folds: the mean of the heads'
    class probabilities (no weights fitted, so nothing is chosen on the test folds).

    Parameters
    ----------
    results : list of CVResult
        Results of several heads with class probabilities, same items and folds.

    Returns
    -------
    CVResult
        The first result with the mean probabilities, their argmax and no choices.
    """
    first = results[0]
    for other in results[1:]:
        if not (np.array_equal(other.y_true, first.y_true)
                and np.array_equal(other.fold, first.fold)):
            raise ValueError("soft voting needs results of the same items and folds")
    proba = np.mean([_needs_proba(r) for r in results], axis=0)
    return replace(first, y_pred=first.classes[proba.argmax(axis=1)], proba=proba, choices=[])


def select_per_fold(results: dict[str, CVResult]) -> CVResult:
    """Nested selection among tuned heads: in each outer fold, the out-of-fold predictions of
    the head whose inner-CV score (on that fold's training part) is best; ties go to the first.

    The heads must come from the same outer folds with the same inner folds (same seeds), as
    :func:`cross_validate` of ``make_head(name, tune=True)`` gives; then this equals
    cross-validating ``make_head("selected", among=results)`` without fitting twice.

    Parameters
    ----------
    results : dict of str to CVResult
        Out-of-fold results of tuned heads by name.

    Returns
    -------
    CVResult
        Per fold, the predictions of the picked head; ``choices`` holds the picks.
    """
    names = list(results)
    first = results[names[0]]
    if any(not r.choices for r in results.values()):
        raise ValueError("select_per_fold needs tuned heads (inner-CV scores per fold)")
    y_pred, proba = first.y_pred.copy(), None if first.proba is None else first.proba.copy()
    choices = []
    for k in range(len(first.choices)):
        scores = [results[n].choices[k]["inner_score"] for n in names]
        pick = results[names[int(np.argmax(scores))]]
        test = first.fold == k
        y_pred[test] = pick.y_pred[test]
        if proba is not None:
            proba[test] = _needs_proba(pick)[test]
        choices.append(pick.choices[k])
    return replace(first, y_pred=y_pred, proba=proba, choices=choices)


def cross_validate(make_model: Callable[[], object], X, y, groups, n_splits: int = 5,
                   seed: int = 0, fit: Callable | None = None,
                   description: str = "folds") -> CVResult:
    """Out-of-fold predictions of ``make_model()`` fitted on each training fold.

    Parameters
    ----------
    make_model : callable
        ``make_model()`` returns a new unfitted model (e.g. ``lambda: make_head("svm")``).
    X : (N, ...) array or list
        Features or images (a list is indexed item by item).
    y : (N,) array
        Class labels.
    groups : (N,) array
        Sample id of each item; folds are grouped by it.
    n_splits : int
        Number of outer folds.
    seed : int
        Seed of the folds.
    fit : callable, optional
        ``fit(model, X_train, y_train, groups_train) -> model``; defaults to :func:`fit_head`,
        which gives the training groups to inner grouped searches (tuning never sees the test
        fold).
    description : str
        Label of the progress bar.

    Returns
    -------
    CVResult
        Out-of-fold predictions (probabilities when every fold's model has ``predict_proba``),
        fold of each item and, for tuned heads, each fold's choice.
    """
    y, groups = np.asarray(y), np.asarray(groups)
    fit = fit or fit_head
    classes = np.unique(y)
    y_pred = np.empty_like(y)
    proba = np.zeros((len(y), len(classes)))
    has_proba = True
    fold = np.full(len(y), -1)
    choices = []
    folds = grouped_folds(y, groups, n_splits=n_splits, seed=seed)
    for k, (train, test) in enumerate(track(folds, description)):
        model = fit(make_model(), _take(X, train), y[train], groups[train])
        y_pred[test] = model.predict(_take(X, test))
        if has_proba and hasattr(model, "predict_proba"):
            p = model.predict_proba(_take(X, test))
            index = np.searchsorted(classes, model.classes_)
            proba[np.ix_(test, index)] = p
        else:
            has_proba = False
        fold[test] = k
        if hasattr(model, "best_params_"):
            choices.append(describe_choice(model))
    return CVResult(classes, y, y_pred, proba if has_proba else None, fold, groups, choices)


def _take(X, index):
    return X[index] if not isinstance(X, list) else [X[i] for i in index]


def summarise(result: CVResult, n_boot: int = 1000, level: float = 0.95,
              seed: int = 0) -> dict:
    """Accuracy and balanced accuracy (mean ± std over folds; pooled out-of-fold with a
    bootstrap CI that resamples whole samples), per-class scores, confusion matrices.

    Parameters
    ----------
    result : CVResult
        Out-of-fold results.
    n_boot : int
        Bootstrap resamples.
    level : float
        Coverage of the interval (e.g. 0.95).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        JSON-ready: accuracy and balanced_accuracy (pooled, ci_low, ci_high, fold_mean,
        fold_std, folds), per_class, classes, confusion_mean_counts, confusion_std_counts,
        confusion_row_normalised, n_items, n_groups, n_splits, ci_level and, for tuned heads,
        choices.
    """
    folds = np.unique(result.fold)
    pairs = [(result.y_true[result.fold == k], result.y_pred[result.fold == k]) for k in folds]
    summary: dict = {}
    for name, metric in (("accuracy", accuracy), ("balanced_accuracy", balanced_accuracy)):
        per_fold = np.array([metric(t, p) for t, p in pairs])
        with warnings.catch_warnings():  # a resample may lack a class: harmless there
            warnings.filterwarnings("ignore", "y_pred contains classes", UserWarning)
            ci = bootstrap_ci(metric, result.y_true, result.y_pred, n_boot=n_boot,
                              level=level, groups=result.groups, seed=seed)
        summary[name] = {"pooled": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                         "fold_mean": float(per_fold.mean()), "fold_std": float(per_fold.std()),
                         "folds": per_fold.tolist()}
    labels = list(result.classes)
    mean_counts, std_counts = mean_confusion(pairs, labels)
    summary["per_class"] = per_class_scores(result.y_true, result.y_pred, labels).to_dict(
        orient="records")
    summary["classes"] = labels
    summary["confusion_mean_counts"] = mean_counts.tolist()
    summary["confusion_std_counts"] = std_counts.tolist()
    summary["confusion_row_normalised"] = row_normalised(
        confusion_counts(result.y_true, result.y_pred, labels)).tolist()
    summary["n_items"], summary["n_groups"] = len(result.y_true), len(np.unique(result.groups))
    summary["n_splits"], summary["ci_level"] = len(folds), level
    if result.choices:
        summary["choices"] = result.choices
    return summary

