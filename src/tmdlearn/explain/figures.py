"""Figures of the explain workflow (returned as matplotlib figures, saved by report/).

``prediction_figure``: the study's Fig. 2 — for each PL parameter the predicted map, the true
(fitted) map and the absolute percentage error map, titled with the validation MAPE.
``interpretation_figure``: the study's Fig. 3 — PDPs of the eight modes' inputs for the target
PL parameter with the 95 % range of the true output shaded, the ICE curves of the chosen mode,
and its ICE-slope map beside the Raman height map of the mode and the PL map.
"""

from __future__ import annotations

import numpy as np

import tmdlearn.report.figures  # noqa: F401  (selects the non-interactive Agg backend)

import matplotlib.pyplot as plt  # noqa: E402  isort: skip

from tmdlearn.explain.ice import slope_maps  # noqa: E402
from tmdlearn.explain.pairs import PairResult  # noqa: E402
from tmdlearn.explain.scores import PL_NAMES, PL_UNITS  # noqa: E402


def _image(ax, values, title, cmap="viridis", symmetric=False):
    finite = values[np.isfinite(values)]
    kwargs = {}
    if symmetric and finite.size:
        top = np.percentile(np.abs(finite), 98)
        kwargs = {"vmin": -top, "vmax": top}
    elif finite.size:
        kwargs = {"vmin": np.percentile(finite, 2), "vmax": np.percentile(finite, 98)}
    shown = ax.imshow(values, cmap=cmap, origin="lower", **kwargs)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    plt.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)


def prediction_figure(result: PairResult) -> plt.Figure:
    """Prediction, truth and error maps of each PL parameter (the study's Fig. 2).

    Parameters
    ----------
    result : PairResult
        One analysed map pair (:func:`tmdlearn.explain.analyse.analyse_pair`).

    Returns
    -------
    Figure
        3 x 3 panels: predicted, measured and error (%) map of position (eV), FWHM (eV) and
        intensity (counts).
    """
    data, mask = result.data, result.data.mask
    val = result.scores[result.scores["part"] == "val"].set_index("parameter")
    fig, axes = plt.subplots(3, 3, figsize=(9, 8.5))
    for j, name in enumerate(PL_NAMES):
        true, pred = data.Y[:, j], result.prediction[:, j]
        error = 100.0 * np.abs(pred - true) / np.maximum(np.abs(true), 1e-12)
        _image(axes[j, 0], slope_maps(pred, mask), f"predicted {name} ({PL_UNITS[j]})")
        _image(axes[j, 1], slope_maps(true, mask), f"measured {name} ({PL_UNITS[j]})")
        _image(axes[j, 2], slope_maps(error, mask),
               f"error (%), val MAPE {val.loc[name, 'mape_percent']:.2f} %, "
               f"R² {val.loc[name, 'r2']:.2f}", cmap="magma")
    fig.suptitle(f"{data.name}: CNN Raman → PL prediction", fontsize=10)
    fig.tight_layout()
    return fig


def interpretation_figure(result: PairResult, target: str = "intensity",
                          mode: str = "A1p") -> plt.Figure:
    """PDPs of every mode, ICE curves and ICE-slope map of ``mode`` (the study's Fig. 3).

    Parameters
    ----------
    result : PairResult
        One analysed map pair (:func:`tmdlearn.explain.analyse.analyse_pair`).
    target : str
        PL parameter explained: "position", "fwhm" or "intensity".
    mode : str
        Raman mode whose ICE curves and slope map are shown (a name of ``result.data.modes``).

    Returns
    -------
    Figure
        PDPs over each mode's height (counts), the ICE curves, and the maps of the mode's
        height, the PL target and the ICE slope.
    """
    data = result.data
    t = PL_NAMES.index(target)
    low, high = np.percentile(data.Y[:, t], [2.5, 97.5])
    ranks = dict(zip(result.ranking["mode"], result.ranking["rank"], strict=True))
    fig = plt.figure(figsize=(13, 8))
    grid = fig.add_gridspec(3, 4)
    for k, name in enumerate(data.modes):
        ax = fig.add_subplot(grid[k // 4, k % 4])
        values, average = result.pdp[f"{name}_height"]
        ax.axhspan(low, high, color="0.85", label="95 % of measured")
        ax.plot(values, average[:, t], color="C3" if name == mode else "C0")
        ax.set_title(f"{name} (rank {ranks[name]})", fontsize=8)
        ax.set_xlabel(f"{name} height (counts)", fontsize=7)
        ax.set_ylabel(f"PD of PL {target}", fontsize=7)
        ax.tick_params(labelsize=6)
    height = data.columns.index(f"{mode}_height")
    ax = fig.add_subplot(grid[2, 0])
    values, curves = result.ice
    ax.plot(values, curves[:, :, t].T, color="0.6", lw=0.5)
    ax.plot(values, result.pdp[data.columns[height]][1][:, t], color="C3", lw=2)
    ax.set_title(f"ICE curves, {mode} height", fontsize=8)
    ax.tick_params(labelsize=6)
    _image(fig.add_subplot(grid[2, 1]), slope_maps(data.X[:, height], data.mask),
           f"Raman {mode} height (counts)")
    _image(fig.add_subplot(grid[2, 2]), slope_maps(data.Y[:, t], data.mask),
           f"PL {target} ({PL_UNITS[t]})")
    _image(fig.add_subplot(grid[2, 3]), slope_maps(result.slopes[:, height, t], data.mask),
           f"ICE slope d(PL {target}) / d({mode} height)", cmap="RdBu_r", symmetric=True)
    fig.suptitle(f"{data.name}: partial dependence and ICE slopes", fontsize=10)
    fig.tight_layout()
    return fig
