"""Figures of the classification workflow (returned as matplotlib figures, saved by report/)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import tmdlearn.report.figures  # noqa: F401  (selects the non-interactive Agg backend)

import matplotlib.pyplot as plt  # noqa: E402  isort: skip


def confusion_figure(counts: np.ndarray, normalised: np.ndarray, labels, title: str = ""):
    """Side by side: mean counts per fold and the row-normalised matrix (recall on the
    diagonal).

    Parameters
    ----------
    counts : (K, K) array
        Mean confusion counts per fold (rows: true class).
    normalised : (K, K) array
        Row-normalised confusion matrix.
    labels : sequence of length K
        Class names.
    title : str
        Figure title (none when empty).

    Returns
    -------
    Figure
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, matrix, name, fmt in ((axes[0], counts, "mean counts per fold", ".1f"),
                                  (axes[1], normalised, "row-normalised", ".2f")):
        ax.imshow(matrix, cmap="Blues", vmin=0)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name)
        top = np.max(matrix) if np.size(matrix) else 1
        for (i, j), value in np.ndenumerate(np.asarray(matrix)):
            ax.text(j, i, format(value, fmt), ha="center", va="center",
                    color="white" if value > 0.6 * top else "black", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison_figure(table: pd.DataFrame):
    """Bar chart of pooled accuracy and balanced accuracy per model, with CI whiskers.

    Parameters
    ----------
    table : DataFrame
        One row per model: model, accuracy, accuracy_low, accuracy_high, balanced_accuracy,
        balanced_accuracy_low, balanced_accuracy_high (all in [0, 1]).

    Returns
    -------
    Figure
    """
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(table)), 4))
    x = np.arange(len(table))
    for offset, metric in ((-0.2, "accuracy"), (0.2, "balanced_accuracy")):
        low = table[f"{metric}_low"].to_numpy()
        high = table[f"{metric}_high"].to_numpy()
        value = table[metric].to_numpy()
        ax.bar(x + offset, value, width=0.4, label=metric.replace("_", " "),
               yerr=[value - low, high - value], capsize=3)
    ax.set_xticks(x, table["model"], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (95 % CI)")
    ax.legend()
    fig.tight_layout()
    return fig


def latent_figure(latent: np.ndarray, labels, method: str = "PCA"):
    """2-D latent map coloured by class.

    Parameters
    ----------
    latent : (N, 2) array
        Latent coordinates.
    labels : (N,) array
        Class of each point.
    method : str
        Name of the projection, on the axis labels.

    Returns
    -------
    Figure
    """
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    labels = np.asarray(labels)
    for name in np.unique(labels):
        chosen = labels == name
        ax.scatter(latent[chosen, 0], latent[chosen, 1], s=8, alpha=0.7, label=str(name))
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.legend(markerscale=2, fontsize=8)
    fig.tight_layout()
    return fig


def correlation_figure(table: pd.DataFrame):
    """Heat map of Spearman rho: latent axes (rows) against physical properties (columns).

    Parameters
    ----------
    table : DataFrame
        Rows (axis, property, rho, ...) of :func:`tmdlearn.classify.latent.correlate`.

    Returns
    -------
    Figure
    """
    pivot = table.pivot(index="axis", columns="property", values="rho")
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * pivot.shape[1] + 2), 0.6 * len(pivot) + 2))
    image = ax.imshow(pivot.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(pivot.shape[1]), pivot.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(pivot)), pivot.index)
    fig.colorbar(image, ax=ax, label="Spearman ρ")
    fig.tight_layout()
    return fig
