"""The curves of one fitted spectrum (total model, background, each peak) for figures."""

from __future__ import annotations

import numpy as np

from tmdlearn.spectra.lineshapes import evaluate, region_layout, with_plain_background
from tmdlearn.spectra.peakmodel import Region
from tmdlearn.spectra.peaks import PeakFit


def model_curves(fit: PeakFit, axis: np.ndarray, index: int) -> dict[str, np.ndarray]:
    """Total model, background and each peak of spectrum ``index`` on ``axis`` (for figures).

    Parameters
    ----------
    fit : PeakFit
        The fits.
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV), in the model's unit.
    index : int
        Row of the spectrum in ``fit``.

    Returns
    -------
    dict of str to (L,) array
        ``model``, ``background`` and one curve per peak name, in intensity units; points
        outside every fit window are NaN.
    """
    axis = np.asarray(axis, dtype=float)
    curves: dict[str, np.ndarray] = {"model": np.full(axis.shape, np.nan),
                                     "background": np.full(axis.shape, np.nan)}
    start = 0
    for region in fit.model.regions:
        inside = (axis >= region.window[0]) & (axis <= region.window[1])
        x = axis[inside]
        p = with_plain_background(region, fit.values[index, start:start + region.n_params][None],
                                  x)
        start += region.n_params
        layout = region_layout(region)
        total, _ = evaluate(np, x, p, layout, jacobian=False)
        curves["model"][inside] = total[0]
        background = Region(region.window, (), region.background)
        bg_p = p[:, layout[1][1]:]
        curves["background"][inside] = evaluate(np, x, bg_p, region_layout(background),
                                                jacobian=False)[0][0]
        for peak, (_, k) in zip(region.peaks, layout[0], strict=True):
            single = Region(region.window, (peak,), "none")
            curve = np.full(axis.shape, np.nan)
            curve[inside] = evaluate(np, x, p[:, k:k + peak.n_params], region_layout(single),
                                     jacobian=False)[0][0]
            curves[peak.name] = curve
    return curves
