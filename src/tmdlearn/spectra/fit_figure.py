"""Figure of a few peak fits: data, total model, each component and the residuals.

Each panel's title gives the spectrum's verdict (the word in the table's ``verdict`` column,
with the solver's status added where it is not ``ok``); a peak judged absent is drawn dotted
grey and labelled ``(absent)``, one whose centre or FWHM sits on a bound ``(at bound)``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tmdlearn.spectra.curves import model_curves  # noqa: E402
from tmdlearn.spectra.peaks import PeakFit  # noqa: E402

#: Colours of found peaks: the default cycle without its grey (C7), kept for absent peaks.
_COLOURS = tuple(f"C{i}" for i in range(10) if i != 7)
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
    residual (bottom). The title holds the verdict (:func:`panel_verdict`); peaks judged absent
    are dotted grey, labelled ``(absent)``, peaks on a bound labelled ``(at bound)``
    (:func:`peak_judgements`).

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
        judged = peak_judgements(fit, index)
        for k, (name, curve) in enumerate(curves.items()):
            note = judged.get(name, "")
            if note == "absent":  # the solver's numbers for a peak that is not there
                top.plot(axis[shown], (curve + background)[shown], ":", lw=0.7, color="0.7",
                         label=f"{name} (absent)")
                continue
            top.plot(axis[shown], (curve + background)[shown], lw=0.8,
                     color=_COLOURS[k % len(_COLOURS)], label=f"{name} ({note})" if note else name)
        top.plot(axis[shown], background[shown], "--", lw=0.8, color="0.6", label="background")
        top.set_title(f"{label}  R²={fit.r2[index]:.3f}  {panel_verdict(fit, index)}",
                      fontsize=9)
        top.legend(fontsize=6, loc="upper right")
        bottom.plot(axis[shown], (data - total)[shown], lw=0.8, color="0.3")
        bottom.axhline(0.0, color="k", lw=0.6)
        bottom.set_xlabel(_AXIS_LABELS.get(unit, unit))
    axes[0, 0].set_ylabel("intensity (counts)")
    axes[1, 0].set_ylabel("residual")
    fig.tight_layout()
    return fig


def panel_verdict(fit: PeakFit, index: int) -> str:
    """The word of a panel's title: the verdict of spectrum ``index`` (the table's ``verdict``),
    followed by the solver's status in parentheses where that is not ``ok``; the status alone
    for a fit that was not judged.

    Parameters
    ----------
    fit : PeakFit
    index : int

    Returns
    -------
    str
        E.g. ``absent``, ``poor (max_iter)``.
    """
    status = str(fit.status_names[index])
    if fit.verdict is None:
        return status
    verdict = str(fit.verdict[index])
    return verdict if status == "ok" else f"{verdict} ({status})"


def peak_judgements(fit: PeakFit, index: int) -> dict[str, str]:
    """Peak name -> ``absent`` (not present), ``at bound`` (its centre or FWHM on a bound) or
    '' for spectrum ``index``; every peak '' for a fit that was not judged.

    Parameters
    ----------
    fit : PeakFit
    index : int

    Returns
    -------
    dict of str to str
    """
    judged = fit.quality
    names = [p.name for p in fit.model.peaks]
    if judged is None:
        return dict.fromkeys(names, "")
    at_bound = (judged["centre_bound"][index] != 0) | (judged["width_bound"][index] != 0)
    return {name: "absent" if not judged["present"][index, k] else
            "at bound" if at_bound[k] else "" for k, name in enumerate(names)}
