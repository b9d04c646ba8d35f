"""Figure of a few peak fits: data, total model, each component and the residuals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tmdlearn.spectra.curves import model_curves  # noqa: E402
from tmdlearn.spectra.peaks import PeakFit  # noqa: E402

_AXIS_LABELS = {"cm-1": "Raman shift (cm⁻¹)", "eV": "photon energy (eV)", "nm": "wavelength (nm)"}


def spread_indices(fit: PeakFit, count: int = 4) -> list[int]:
    """Up to ``count`` spectra spread evenly over those with a finite fit.

    Parameters
    ----------
    fit : PeakFit
    count : int

    Returns
    -------
    list of int
    """
    finite = np.flatnonzero(np.isfinite(fit.r2))
    if finite.size == 0:
        finite = np.arange(len(fit))
    return sorted({int(i) for i in finite[np.linspace(0, finite.size - 1,
                                                      min(count, finite.size)).astype(int)]})


def fit_figure(panels: list[tuple[PeakFit, np.ndarray, np.ndarray, int, str]],
               unit: str = "cm-1") -> plt.Figure:
    """One column per panel: the data, the total fit, each peak on the background (top) and the
    residual (bottom).

    Parameters
    ----------
    panels : list of (fit, axis (L,), intensity (N, L), index, label)
        The fit, its spectra and which one to show.
    unit : str
        Axis unit ("cm-1", "eV" or "nm").

    Returns
    -------
    Figure
    """
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 4.6), sharex="col",
                             squeeze=False, gridspec_kw={"height_ratios": [3, 1]})
    for column, (fit, axis, intensity, index, label) in enumerate(panels):
        axis = np.asarray(axis, dtype=float)
        data = np.atleast_2d(intensity)[index]
        low = min(r.window[0] for r in fit.model.regions)
        high = max(r.window[1] for r in fit.model.regions)
        shown = (axis >= low) & (axis <= high)
        curves = model_curves(fit, axis, index)
        total, background = curves.pop("model"), curves.pop("background")
        top, bottom = axes[0, column], axes[1, column]
        top.plot(axis[shown], data[shown], ".", ms=2, color="0.4", label="data")
        top.plot(axis[shown], total[shown], color="k", lw=1.2, label="fit")
        for k, (name, curve) in enumerate(curves.items()):
            top.plot(axis[shown], (curve + background)[shown], lw=0.8, color=f"C{k % 10}",
                     label=name)
        top.plot(axis[shown], background[shown], "--", lw=0.8, color="0.6", label="background")
        top.set_title(f"{label}  R²={fit.r2[index]:.3f}  {fit.status_names[index]}", fontsize=9)
        bottom.plot(axis[shown], (data - total)[shown], lw=0.8, color="0.3")
        bottom.axhline(0.0, color="k", lw=0.6)
        bottom.set_xlabel(_AXIS_LABELS.get(unit, unit))
    axes[0, 0].set_ylabel("intensity (counts)")
    axes[1, 0].set_ylabel("residual")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig
