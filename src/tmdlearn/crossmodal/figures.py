"""Figures of the cross-modal workflow: true vs predicted scatter plots and generated spectra."""

from __future__ import annotations

import numpy as np

from tmdlearn.learn.regression import r2
from tmdlearn.report.figures import plt


def scatter(names, y_train, y_test, predictions: dict, best: dict, title: str):
    """One panel per target: true vs predicted by its best model (train grey, test coloured),
    with the test R² in the panel title.

    Parameters
    ----------
    names : sequence of str
        Target names, T of them.
    y_train, y_test : (N_train, T) and (N_test, T) arrays
        True targets.
    predictions : dict
        Model name to (train, test) predictions, same shapes as the targets.
    best : dict
        Target name to (model name, test R²).
    title : str
        Figure title.

    Returns
    -------
    Figure
    """
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        model, _ = best[name]
        p_train, p_test = predictions[model]
        ax.scatter(y_train[:, j], p_train[:, j], s=10, c="0.7", label="train")
        ax.scatter(y_test[:, j], p_test[:, j], s=14, c="tab:blue", label="test")
        low = np.nanmin([y_train[:, j].min(), y_test[:, j].min()])
        high = np.nanmax([y_train[:, j].max(), y_test[:, j].max()])
        ax.plot([low, high], [low, high], "k--", lw=0.8)
        ax.set_title(f"{name} · {model} · test R² {r2(y_test[:, j], p_test[:, j]):.2f}",
                     fontsize=9)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def generated(axis, true, generated_spectra, pearson, n: int, title: str, unit: str):
    """``n`` held-out spectra (spread over the test set): true and generated, with Pearson R.

    Parameters
    ----------
    axis : (L,) array
        Spectrum axis, in ``unit``.
    true, generated_spectra : (N, L) array
        True and generated normalised spectra.
    pearson : (N,) array
        Pearson R of each pair.
    n : int
        Spectra shown (at most N).
    title : str
        Task name, in the title.
    unit : str
        Axis label ("cm-1" or "eV").

    Returns
    -------
    Figure
    """
    n = min(n, len(true))
    picks = np.linspace(0, len(true) - 1, n).round().astype(int)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), squeeze=False)
    for ax, i in zip(axes[0], picks, strict=True):
        ax.plot(axis, true[i], "k", lw=1.2, label="true")
        ax.plot(axis, generated_spectra[i], "tab:red", lw=1.0, label="generated")
        ax.set_title(f"R = {pearson[i]:.3f}", fontsize=9)
        ax.set_xlabel(unit)
    axes[0][0].set_ylabel("normalised intensity")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{title}: held-out spectra")
    fig.tight_layout()
    return fig
