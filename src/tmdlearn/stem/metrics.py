"""Segmentation scores with the layer assignment chosen once per image for all metrics.

Masks are boolean (B, S, H, W): B layers of S species. Which predicted branch is which layer
is arbitrary for a permutation-invariant model, so the assignment of branches to layers that
maximises the mean IoU is chosen first, and every score of that image uses it.
"""

from __future__ import annotations

import itertools

import numpy as np


def _iou_matrix(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B, B) mean IoU over species of branch b against layer c."""
    p = pred.reshape(pred.shape[0], 1, pred.shape[1], -1)
    t = target.reshape(1, target.shape[0], target.shape[1], -1)
    inter = (p & t).sum(-1)
    union = (p | t).sum(-1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return iou.mean(-1)


def best_assignment(pred: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
    """The permutation ``perm`` (branch b -> layer perm[b]) with the highest mean IoU.

    Parameters
    ----------
    pred, target : (B, S, H, W) bool array
        Predicted branch masks and true layer masks.

    Returns
    -------
    tuple of int
        ``perm``, length B.
    """
    iou = _iou_matrix(np.asarray(pred, bool), np.asarray(target, bool))
    branches = range(iou.shape[0])
    return max(itertools.permutations(branches),
               key=lambda perm: iou[list(branches), list(perm)].sum())


def segmentation_scores(pred: np.ndarray, target: np.ndarray,
                        assignment: tuple[int, ...] | None = None) -> dict:
    """Pixel accuracy, Dice and IoU per class (layer, species) and their means.

    Pixel accuracy is the fraction of correct binary decisions over all classes and pixels.
    A class absent from both prediction and target has Dice = IoU = NaN and is left out of the
    means.

    Parameters
    ----------
    pred, target : (B, S, H, W) bool array
        Predicted branch masks and true layer masks.
    assignment : tuple of int, optional
        Branch b -> layer assignment[b]; default :func:`best_assignment`.

    Returns
    -------
    dict
        ``pixel_accuracy``, ``iou`` and ``dice`` ((B * S,) arrays, layer-major), ``mean_iou``,
        ``mean_dice``, ``assignment`` and ``aligned`` (the prediction with its branches
        reordered as layers, (B, S, H, W)).
    """
    pred, target = np.asarray(pred, bool), np.asarray(target, bool)
    if assignment is None:
        assignment = best_assignment(pred, target)
    aligned = np.empty_like(pred)
    aligned[list(assignment)] = pred  # branch b becomes layer assignment[b]
    p = aligned.reshape(-1, *pred.shape[2:])
    t = target.reshape(-1, *target.shape[2:])
    inter = (p & t).sum((1, 2)).astype(float)
    union = (p | t).sum((1, 2)).astype(float)
    total = (p.sum((1, 2)) + t.sum((1, 2))).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, np.nan)
        dice = np.where(total > 0, 2 * inter / total, np.nan)
    return {"pixel_accuracy": float((p == t).mean()), "iou": iou, "dice": dice,
            "mean_iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "mean_dice": float(np.nanmean(dice)) if np.isfinite(dice).any() else float("nan"),
            "assignment": tuple(int(a) for a in assignment), "aligned": aligned}
