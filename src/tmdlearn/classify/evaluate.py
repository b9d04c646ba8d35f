"""Cross-validated evaluation of a classifier: out-of-fold predictions and their summary.

Folds are stratified by class and grouped by sample (``tmdlearn.learn.grouped_folds``).
Optional sample pooling averages the class probabilities of all test images of one sample
(sample ids only, never labels): the prediction for a sample, given to each of its images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmdlearn.classify.heads import fit_head
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

    def pooled(self) -> CVResult:
        """Predictions pooled by sample: mean class probabilities over the images of a sample."""
        if self.proba is None:
            raise ValueError("sample pooling needs class probabilities")
        proba = pool_by_group(self.proba, self.groups)
        return CVResult(self.classes, self.y_true, self.classes[proba.argmax(axis=1)], proba,
                        self.fold, self.groups)


def pool_by_group(proba: np.ndarray, groups) -> np.ndarray:
    """Replace each row of ``proba`` by the mean over the rows of its group."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.zeros((inverse.max() + 1, proba.shape[1]))
    np.add.at(sums, inverse, proba)
    return (sums / np.bincount(inverse)[:, None])[inverse]


def cross_validate(make_model: Callable[[], object], X, y, groups, n_splits: int = 5,
                   seed: int = 0, fit: Callable | None = None,
                   description: str = "folds") -> CVResult:
    """Out-of-fold predictions of ``make_model()`` fitted on each training fold.

    ``fit(model, X_train, y_train, groups_train)`` defaults to :func:`fit_head`, which gives
    the training groups to inner grouped searches (tuning never sees the test fold).
    """
    y, groups = np.asarray(y), np.asarray(groups)
    fit = fit or fit_head
    classes = np.unique(y)
    y_pred = np.empty_like(y)
    proba = np.zeros((len(y), len(classes)))
    has_proba = True
    fold = np.full(len(y), -1)
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
    return CVResult(classes, y, y_pred, proba if has_proba else None, fold, groups)


def _take(X, index):
    return X[index] if not isinstance(X, list) else [X[i] for i in index]


def summarise(result: CVResult, n_boot: int = 1000, level: float = 0.95,
              seed: int = 0) -> dict:
    """Accuracy and balanced accuracy (mean ± std over folds; pooled out-of-fold with a
    bootstrap CI that resamples whole samples), per-class scores, confusion matrices."""
    folds = np.unique(result.fold)
    pairs = [(result.y_true[result.fold == k], result.y_pred[result.fold == k]) for k in folds]
    summary: dict = {}
    for name, metric in (("accuracy", accuracy), ("balanced_accuracy", balanced_accuracy)):
        per_fold = np.array([metric(t, p) for t, p in pairs])
        ci = bootstrap_ci(metric, result.y_true, result.y_pred, n_boot=n_boot, level=level,
                          groups=result.groups, seed=seed)
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
    return summary


def comparison_row(name: str, summary: dict) -> dict:
    """One row of a comparison table from a :func:`summarise` output."""
    row = {"model": name}
    for metric in ("accuracy", "balanced_accuracy"):
        s = summary[metric]
        row[f"{metric}"] = round(s["pooled"], 4)
        row[f"{metric}_ci"] = f"[{s['ci_low']:.3f}, {s['ci_high']:.3f}]"
        row[f"{metric}_folds"] = f"{s['fold_mean']:.3f} ± {s['fold_std']:.3f}"
    row["macro_f1"] = round(float(pd.DataFrame(summary["per_class"])["f1"].mean()), 4)
    return row
