"""Classification metrics: accuracy, balanced accuracy, per-class scores, confusion matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)


def accuracy(y_true, y_pred) -> float:
    """Fraction of items predicted correctly."""
    return float(accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true`` (insensitive to class imbalance)."""
    return float(balanced_accuracy_score(y_true, y_pred))


def per_class_scores(y_true, y_pred, labels) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class in ``labels`` (one row per class).

    A class never predicted has precision 0 (scikit-learn's ``zero_division=0``).
    """
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0)
    return pd.DataFrame({"class": list(labels), "precision": precision, "recall": recall,
                         "f1": f1, "support": support.astype(int)})


def confusion_counts(y_true, y_pred, labels) -> np.ndarray:
    """Confusion matrix of counts (rows: true class, columns: predicted class)."""
    return confusion_matrix(y_true, y_pred, labels=list(labels))


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (row i: where items of true class i went); empty rows stay 0."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def mean_confusion(fold_pairs, labels) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over folds of the confusion counts.

    ``fold_pairs`` is an iterable of ``(y_true, y_pred)``, one per test fold.
    """
    stack = np.stack([confusion_counts(t, p, labels) for t, p in fold_pairs]).astype(float)
    return stack.mean(axis=0), stack.std(axis=0)


def confusion_table(matrix: np.ndarray, labels) -> pd.DataFrame:
    """A confusion matrix as a table: first column the true class, one column per prediction."""
    table = pd.DataFrame(np.asarray(matrix), columns=[f"pred {c}" for c in labels])
    table.insert(0, "true", list(labels))
    return table
