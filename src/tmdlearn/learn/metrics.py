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
    """Fraction of items predicted correctly.

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted class labels, compared item by item.

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    return float(accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true`` (insensitive to class imbalance).

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted class labels; each class of ``y_true`` weighs the same.

    Returns
    -------
    float
        Balanced accuracy in [0, 1].
    """
    return float(balanced_accuracy_score(y_true, y_pred))


def per_class_scores(y_true, y_pred, labels) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class in ``labels`` (one row per class).

    A class never predicted has precision 0 (scikit-learn's ``zero_division=0``).

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted class labels.
    labels : sequence
        Classes to score, in row order.

    Returns
    -------
    DataFrame
        Columns class, precision, recall, f1 and support (count of true items).
    """
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0)
    return pd.DataFrame({"class": list(labels), "precision": precision, "recall": recall,
                         "f1": f1, "support": support.astype(int)})


def confusion_counts(y_true, y_pred, labels) -> np.ndarray:
    """Confusion matrix of counts (rows: true class, columns: predicted class).

    Parameters
    ----------
    y_true, y_pred : (N,) array
        True and predicted class labels.
    labels : sequence of length K
        Classes, in row and column order.

    Returns
    -------
    (K, K) int array
        Counts of items of true class i predicted as class j.
    """
    return confusion_matrix(y_true, y_pred, labels=list(labels))


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (row i: where items of true class i went); empty rows stay 0.

    Parameters
    ----------
    counts : (K, K) array
        Confusion counts, rows the true class.

    Returns
    -------
    (K, K) float array
        Rows summing to 1 (or all 0).
    """
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def mean_confusion(fold_pairs, labels) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over folds of the confusion counts.

    Parameters
    ----------
    fold_pairs : iterable of (y_true, y_pred)
        True and predicted labels of each test fold.
    labels : sequence of length K
        Classes, in row and column order.

    Returns
    -------
    mean, std : (K, K) float array
        Mean and (population) standard deviation of the counts over the folds.
    """
    stack = np.stack([confusion_counts(t, p, labels) for t, p in fold_pairs]).astype(float)
    return stack.mean(axis=0), stack.std(axis=0)


def confusion_table(matrix: np.ndarray, labels) -> pd.DataFrame:
    """A confusion matrix as a table: first column the true class, one column per prediction.

    Parameters
    ----------
    matrix : (K, K) array
        Counts or fractions, rows the true class.
    labels : sequence of length K
        Classes, in row and column order.

    Returns
    -------
    DataFrame
        Column "true" then one column "pred <class>" per class.
    """
    table = pd.DataFrame(np.asarray(matrix), columns=[f"pred {c}" for c in labels])
    table.insert(0, "true", list(labels))
    return table
