"""Shared learning code: grouped cross-validation, bootstrap CIs, metrics, a torch loop."""

from tmdlearn.learn.augment import dihedral
from tmdlearn.learn.bootstrap import Interval, bootstrap_ci
from tmdlearn.learn.cv import grouped_folds, grouped_holdout
from tmdlearn.learn.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_counts,
    confusion_table,
    mean_confusion,
    per_class_scores,
    row_normalised,
)
from tmdlearn.learn.train import (
    History,
    TrainConfig,
    balanced_class_weights,
    oversampled_indices,
    predict,
    resolve_device,
    torch_threads,
    train_model,
)

__all__ = [
    "History",
    "Interval",
    "TrainConfig",
    "accuracy",
    "balanced_accuracy",
    "balanced_class_weights",
    "bootstrap_ci",
    "confusion_counts",
    "confusion_table",
    "dihedral",
    "grouped_folds",
    "grouped_holdout",
    "mean_confusion",
    "oversampled_indices",
    "per_class_scores",
    "predict",
    "resolve_device",
    "torch_threads",
    "row_normalised",
    "train_model",
]
