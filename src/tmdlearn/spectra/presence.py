"""Noise, saturation and the presence of peaks, measured from the spectra themselves.

Everything here is vectorised over spectra (no loop over spectra); :mod:`tmdlearn.spectra.quality`
judges fits with it.

- **Noise** (:func:`noise_sigma`): for white noise of standard deviation σ the second
  difference ``y[i-1] - 2 y[i] + y[i+1]`` has standard deviation √6·σ, while a smooth
  background or a peak several channels wide contributes little to it; its robust scale
  1.4826·MAD (median absolute deviation about 0, consistent with σ for Gaussian noise,
  insensitive to the few channels on sharp peak flanks or a spike) over √6 estimates σ of
  each spectrum from the spectrum itself, inside each fit window (column ``noise``).
  A per-spectrum σ weights every point of a spectrum alike, so weighting the fit by it would
  not move the minimum: it is used to judge the fit, not to reweight it.
- **Presence score** ``<peak>_dbic`` (:func:`presence`): 2 ln B, B the Bayes factor of "the
  peak is there" over "it is not" (the quantity that ΔBIC approximates), from the data, not
  from the fitted peak. The fitted centre and width may wander within their bounds and take
  the largest noise bump there, so the fit's ΔSSR on a peak-free spectrum is the maximum of
  many noise fluctuations (the look-elsewhere effect), and the fit's straight background over
  the whole window leaves curvature that a wide peak takes. Instead, inside a local window
  (the centre's bounds plus 6 nominal FWHM each side) a bank of matched filters, the peak at
  its nominal FWHM on a grid of centres (FWHM/8 apart), is tested against a null model of a
  straight baseline and the model's other peaks at their nominal shapes, linearised (each
  with its derivatives in centre and width, so a neighbour that has moved or widened a
  little stays in the null model). Each filter gives ``t_c`` = its height over its standard
  error (noise as above, the residual taken with the best filter); the centre has a normal
  prior about the model's centre with sd = max_shift/3 (the bounds at 3 sd) and the height a
  positive unit-information prior, so 2 ln B = 2 ln Σ_c p(c)·2Φ(t_c)·exp(t_c²/2) − ln L_w
  (L_w points in the window): ΔBIC of one parameter when the centre is known, less the
  look-elsewhere penalty of the centre's prior when it is not. This is the Neyman–Pearson
  form for a peak of known shape whose centre is drawn from the prior (the likelihood ratio
  averaged over the prior), and it is monotone in each t_c, so it ranks like the matched
  filter. ``<peak>_present`` is 2 ln B > ``present_dbic`` (10: "very strong" evidence on the
  Kass & Raftery scale, J. Am. Stat. Assoc. 90, 773 (1995)).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp

from tmdlearn.spectra.lineshapes import evaluate

#: Half-width of the presence score's local window beyond the centre's bounds, in nominal
#: FWHM: wide enough for the peak's wings (a Lorentzian is below 1 % of its height there)
#: and for the baseline's points, narrow enough for a straight baseline (at 8 a background
#: curved by 4-8 σ across a Raman window, with a Si line's tail, gives false presence).
PRESENCE_REACH = 6.0


def noise_sigma(y: np.ndarray) -> np.ndarray:
    """Noise standard deviation (N,) of each spectrum ``y`` (N, L), in intensity units.

    1.4826·MAD of the second differences / √6 (see the module docstring); NaN for fewer than
    4 points or non-finite values.

    Parameters
    ----------
    y : (N, L) array
        Spectra, in intensity units (counts).

    Returns
    -------
    (N,) array
        Noise σ in intensity units.
    """
    y = np.asarray(y, dtype=float)
    if y.shape[1] < 4:
        return np.full(y.shape[0], np.nan)
    d2 = y[:, :-2] - 2.0 * y[:, 1:-1] + y[:, 2:]
    # the second differences of noise centre on zero: the MAD about 0 needs one median only
    return 1.4826 * np.median(np.abs(d2), axis=1) / np.sqrt(6.0)


def _profiles(x: np.ndarray, shape: str, center, fwhm: float,
              jacobian: bool = False) -> np.ndarray:
    """Unit-height profiles (T, L) of one line shape (a pseudo-Voigt half Lorentzian) at
    centres (T,) and one FWHM on ``x``; with ``jacobian`` (T, 3 or 4, L): the profile and
    its derivatives in centre and width (and η)."""
    center = np.atleast_1d(np.asarray(center, dtype=float))
    columns = [np.ones_like(center), center, np.full_like(center, fwhm)]
    if shape == "pseudo_voigt":
        columns.append(np.full_like(center, 0.5))
    layout = (((shape, 0),), ("none", len(columns)))
    f, jac = evaluate(np, x, np.column_stack(columns), layout, jacobian=jacobian)
    return jac if jacobian else f


def _filter_bank(x: np.ndarray, region, peak, reach: float, band: tuple[str, ...] = ()):
    """The local window (bool (L,)), orthonormal basis of the null model (Lw, q), unit matched
    filters orthogonal to it (T, Lw) and the log prior of their centres (T,) for ``peak``
    (the peaks named in ``band``, its unresolved partners, are left out of the null model);
    None when the window holds too few points."""
    low, high = peak.center_bounds
    shift = 0.5 * (high - low)
    inside = np.abs(x - peak.center) <= shift + reach * peak.fwhm
    xw = x[inside]
    if xw.size < 5:  # fewer than a straight baseline's 2 points + 3: nothing to test
        return None
    others = [_profiles(xw, q.shape, q.center, q.fwhm, jacobian=True)[0]
              for q in region.peaks if q is not peak and q.name not in band]
    u = (xw - xw.mean()) / max(np.ptp(xw), 1e-300)
    null = np.concatenate([np.stack([np.ones_like(xw), u])] + others).T
    # a column that vanishes in the window (a far peak) adds nothing to the basis
    basis, singular, _ = np.linalg.svd(null, full_matrices=False)
    basis = basis[:, singular > 1e-9 * singular[0]]
    if xw.size < basis.shape[1] + 3:
        return None
    offsets = np.arange(-shift, shift + 1e-9 * peak.fwhm, peak.fwhm / 8.0)
    templates = _profiles(xw, peak.shape, peak.center + offsets, peak.fwhm)
    norm0 = np.sqrt((templates ** 2).sum(axis=1))
    templates -= (templates @ basis) @ basis.T
    norm = np.sqrt((templates ** 2).sum(axis=1))
    keep = norm > 1e-6 * norm0  # a filter the null model explains tests nothing
    if not keep.any():
        return None
    log_prior = -0.5 * (offsets[keep] / max(shift / 3.0, 1e-300)) ** 2
    return inside, basis, templates[keep] / norm[keep, None], log_prior - logsumexp(log_prior)


def presence(y: np.ndarray, x: np.ndarray, region, sigma: np.ndarray,
             reach: float = PRESENCE_REACH, chunk: int = 16384,
             unresolved: list[list[str]] | None = None) -> np.ndarray:
    """Presence score 2 ln B (N, K) of each peak of ``region`` in spectra ``y`` (N, L) on
    ``x`` (L,), with the noise σ (N,) of each spectrum, ``chunk`` spectra at a time.

    B is the Bayes factor of "the peak is there" over "it is not" from a bank of matched
    filters (see the module docstring). Inside the local window ``center ± (max_shift +
    reach · fwhm)`` the null model is a straight baseline and the region's other peaks at
    their nominal shapes with their derivatives in centre and width (free heights); the
    alternative adds this peak with its nominal FWHM, a positive height and its centre on a
    grid of fwhm/8 within its bounds with a normal prior of standard deviation max_shift/3
    about the model's centre (the bounds at 3 sd). With ``s⊥`` a filter orthogonal to the
    null model, ``t_c = s⊥·y / (σ' ‖s⊥‖)`` (σ' the larger of σ and the robust scale of the
    residual with the best filter) and ``2 ln B = 2 ln Σ_c p(c) 2 Φ(t_c) exp(t_c² / 2) −
    ln L_w`` (a unit-information half-normal prior on the height; L_w points in the window):
    ΔBIC of one parameter when the centre is known, less the look-elsewhere penalty of the
    centre's prior when it is not. A peak of an ``unresolved`` group is tested without its
    partners in the null model: its score says whether the group's band is there.

    Parameters
    ----------
    y : (N, L) array
        Spectra, in intensity units.
    x : (L,) array
        Their axis: Raman shift (cm⁻¹) or photon energy (eV), ascending.
    region : Region
        The fit window whose K peaks are scored.
    sigma : (N,) array
        Noise σ of each spectrum, in intensity units (:func:`noise_sigma`).
    reach : float
        Half-width of the local window beyond ``max_shift``, in FWHMs of the peak.
    chunk : int
        Spectra scored at once (memory ~ chunk x L values).
    unresolved : list of list of str, optional
        Groups of peak names scored as one band (verdict option ``unresolved``).

    Returns
    -------
    (N, K) array
        2 ln B per spectrum and peak; NaN where ``y`` or σ is not finite, or the window has
        too few points.
    """
    y = np.asarray(y, dtype=float)
    out = np.full((y.shape[0], len(region.peaks)), np.nan)
    rows = np.flatnonzero(np.isfinite(y).all(axis=1) & (sigma > 0))
    for k, peak in enumerate(region.peaks):
        band = next((tuple(g) for g in unresolved or () if peak.name in g), ())
        bank = _filter_bank(x, region, peak, reach, band)
        if bank is None:
            continue
        inside, basis, filters, log_prior = bank
        for start in range(0, rows.size, chunk):
            part = rows[start:start + chunk]
            yw = y[part][:, inside]
            resid = yw - (yw @ basis) @ basis.T
            z = resid @ filters.T                                          # (n, T)
            best = np.argmax(z, axis=1)
            resid -= z[np.arange(part.size), best, None] * filters[best]
            spread = 1.4826 * np.median(np.abs(resid), axis=1)
            t = z / np.fmax(sigma[part], spread)[:, None]
            log_b = logsumexp(log_prior + np.log(2.0) + log_ndtr(t) + 0.5 * t * t, axis=1)
            out[part, k] = 2.0 * log_b - np.log(inside.sum())
    return out


def saturated(y: np.ndarray, sigma: np.ndarray, run: int, snr: float) -> np.ndarray:
    """True (N,) where ``run`` or more consecutive channels sit at the spectrum's maximum and
    that maximum stands more than ``snr`` noise σ above the median (a clipped detector).

    Parameters
    ----------
    y : (N, L) array
        Spectra, in intensity units.
    sigma : (N,) array
        Noise σ of each spectrum, in intensity units.
    run : int
        Consecutive channels (points) at the maximum that mark a clipped spectrum.
    snr : float
        Height of the maximum above the median, in noise σ.

    Returns
    -------
    (N,) bool array
        Whether each spectrum looks clipped.
    """
    y = np.asarray(y, dtype=float)
    if y.shape[1] < run or run < 2:
        return np.zeros(y.shape[0], dtype=bool)
    top = np.max(y, axis=1, keepdims=True)
    at_top = y >= top - 1e-9 * np.abs(top)
    # a run of `run` channels at the top: a window sum of `run` equals `run`
    counts = np.cumsum(np.pad(at_top, ((0, 0), (1, 0))), axis=1, dtype=np.int32)
    has_run = np.any(counts[:, run:] - counts[:, :-run] >= run, axis=1)
    high = (top[:, 0] - np.median(y, axis=1)) > snr * sigma
    return has_run & high
