"""Whether a fitted peak is there: noise from the data, per-peak significance, a verdict.

Everything here is vectorised over spectra (no loop over spectra).

- **Noise** (:func:`noise_sigma`): for white noise of standard deviation σ the second
  difference ``y[i-1] - 2 y[i] + y[i+1]`` has standard deviation √6·σ, while a smooth
  background or a peak several channels wide contributes little to it; its robust scale
  1.4826·MAD (median absolute deviation about 0, consistent with σ for Gaussian noise,
  insensitive to the few channels on sharp peak flanks or a spike) over √6 estimates σ of
  each spectrum from the spectrum itself, inside each fit window (column ``noise``).
  A per-spectrum σ weights every point of a spectrum alike, so weighting the fit by it would
  not move the minimum: it is used to judge the fit, not to reweight it.
- **Reduced χ²** = SSR / (σ² (L − P)) over the fitted points: about 1 when the residual is
  noise, large when the model misses structure (a spike, a wrong material, a shoulder).
  Real spectra of high SNR always have χ² ≫ 1 (no line shape is exact), so a fit is poor
  only when χ² exceeds ``chi2_max`` *and* the residual RMS exceeds ``misfit_max`` times the
  largest main-peak height.
- **Peak significance**: the noise for significance is the larger of σ and the robust scale
  of the residual (1.4826·median |residual|): smoothed or interpolated spectra hide their
  noise from second differences but not from the residual, and a spike moves neither.
  ``<peak>_snr`` is the fitted height over it (the height-to-noise ratio a spectroscopist
  quotes, defined even where the covariance is singular, unlike height/stderr, which is NaN
  whenever a neighbouring peak vanishes). ``dssr`` (not a column) is the rise of the
  residual sum of squares when the peak is removed and every other parameter re-optimised,
  to first order from the fit's own normal equations (no refit).
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
- **Verdict** per spectrum (:data:`VERDICTS`): ``absent`` when a main peak of the model is
  not present (or the spectrum is flat / the model's peaks lie outside the axis); ``poor``
  when the data or the fit cannot be trusted (saturated or non-finite input, solver at its
  iteration limit, reduced χ² outside [``chi2_min``, ``chi2_max``] with a residual RMS above
  ``misfit_max`` x the largest main-peak height, a main peak's centre or width at its bound,
  no standard error); ``weak`` when the main peaks are present but one
  has an SNR below ``weak_snr``; otherwise ``ok``. Every reason found is kept in a bit mask
  and written out as short text by :func:`reason_text`.
- **Unresolved groups** (option ``unresolved``, e.g. ``[[Ep, A1p]]`` for WSe2's E′ and A1′
  2-3 cm⁻¹ apart): peaks closer than the data can separate share one band, and how the fit
  splits it between them is arbitrary. A main peak in such a group is not ``poor`` for its
  centre or width at a bound or a missing standard error, and it is ``weak`` when the band's
  SNR (the highest point of the members' summed fitted profiles over the noise) is below
  ``weak_snr``, not its own share of it. Its presence score is taken without its partners in
  the null model, so it says whether the band is there.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp

from tmdlearn.spectra.lineshapes import evaluate

VERDICTS = ("ok", "weak", "absent", "poor")
OK, WEAK, ABSENT, POOR = range(len(VERDICTS))

#: Defaults of the verdict options (a model's ``verdict:`` mapping and ``fit_peaks(verdict=)``
#: override them). ``main``: peaks that must be present (default: every peak of the model);
#: ``unresolved``: groups of peaks the data cannot separate (e.g. ``[[Ep, A1p]]``).
DEFAULTS = {
    "main": None,
    "unresolved": None,
    "present_dbic": 10.0,
    "weak_snr": 5.0,
    "chi2_max": 5.0,
    "chi2_min": 0.0,
    "misfit_max": 0.1,
    "saturation_run": 3,
    "saturation_snr": 10.0,
}

#: Half-width of the presence score's local window beyond the centre's bounds, in nominal
#: FWHM: wide enough for the peak's wings (a Lorentzian is below 1 % of its height there)
#: and for the baseline's points, narrow enough for a straight baseline (at 8 a background
#: curved by 4-8 σ across a Raman window, with a Si line's tail, gives false presence).
PRESENCE_REACH = 6.0

# reason bits, in the order they are written
_REASONS = (
    "saturated", "non-finite values", "numerical failure", "too few points", "flat spectrum",
    "model peaks outside the axis", "main peak absent", "iteration limit", "reduced chi2",
    "centre at its bound", "width at its bound", "no standard error", "main peak weak",
)
(SATURATED, NONFINITE, NUMERICAL, FEW, FLAT, OUTSIDE, MAIN_ABSENT, ITERATION, CHI2,
 CENTRE_BOUND, WIDTH_BOUND, NO_STDERR, MAIN_WEAK) = (1 << i for i in range(len(_REASONS)))
_POOR = (SATURATED | NONFINITE | NUMERICAL | FEW | ITERATION | CHI2 | CENTRE_BOUND
         | WIDTH_BOUND | NO_STDERR)
_ABSENT = FLAT | OUTSIDE | MAIN_ABSENT
_INPUT = SATURATED | NONFINITE | NUMERICAL | FEW


def options(model_options: dict | None, overrides: dict | bool | None) -> dict:
    """Verdict options: :data:`DEFAULTS`, then the model's ``verdict:``, then ``overrides``.

    Parameters
    ----------
    model_options : dict or None
        The model's ``verdict:`` section.
    overrides : dict, bool or None
        Options given by the caller; anything but a dict adds none.

    Returns
    -------
    dict
        The verdict options.
    """
    out = dict(DEFAULTS)
    for layer in (model_options or {}, overrides if isinstance(overrides, dict) else {}):
        unknown = set(layer) - set(DEFAULTS)
        if unknown:
            from tmdlearn.errors import InputError

            raise InputError(f"unknown verdict options {sorted(unknown)}; known: "
                             f"{sorted(DEFAULTS)}")
        out.update(layer)
    if isinstance(out["main"], str):  # "E2g,A1g" from the command line
        out["main"] = [name.strip() for name in out["main"].split(",") if name.strip()]
    groups = out["unresolved"] or []
    if not (isinstance(groups, list | tuple)
            and all(isinstance(g, list | tuple) and len(g) >= 2 for g in groups)):
        from tmdlearn.errors import InputError

        raise InputError(f"verdict option unresolved must be a list of groups of two or more "
                         f"peak names, e.g. [[Ep, A1p]]; got {out['unresolved']!r}")
    out["unresolved"] = [[str(name) for name in group] for group in groups]
    return out


def _unresolved(model, groups: list[list[str]]) -> dict[str, tuple[int, list]]:
    """Peak name -> (region index, member peaks) of its unresolved group; the members of a
    group must be peaks of one region of ``model``, each in one group only."""
    from tmdlearn.errors import InputError

    where = {p.name: (r, p) for r, region in enumerate(model.regions) for p in region.peaks}
    out = {}
    for group in groups:
        unknown = sorted(set(group) - set(where))
        if (unknown or len({where[name][0] for name in group}) > 1 or set(group) & set(out)
                or len(set(group)) < len(group)):
            raise InputError(f"verdict unresolved group {group}: its peaks must be distinct "
                             f"peaks of one window of model {model.name!r}, each in one group")
        members = [where[name][1] for name in group]
        out.update((name, (where[name][0], members)) for name in group)
    return out


def _band_snr(x: np.ndarray, members: list, names: list[str], values: np.ndarray,
              sigma: np.ndarray) -> np.ndarray:
    """SNR (N,) of the band of unresolved peaks ``members``: the highest point of their
    summed fitted profiles on the window's axis ``x`` over the noise σ (N,)."""
    columns, layout = [], []
    for peak in members:
        layout.append((peak.shape, len(columns)))
        parts = ("height", "center", "fwhm", "eta")[:peak.n_params]
        columns += [names.index(f"{peak.name}_{part}") for part in parts]
    band, _ = evaluate(np, x, values[:, columns], (tuple(layout), ("none", len(columns))),
                       jacobian=False)
    with np.errstate(invalid="ignore"):
        return np.max(band, axis=1) / sigma


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


def reason_text(judged: dict) -> np.ndarray:
    """Short text (N,) object array of the reasons found by :func:`judge`.

    Parameters
    ----------
    judged : dict
        The output of :func:`judge`.

    Returns
    -------
    (N,) object array
        E.g. 'no E2g/A1g peak (ΔBIC ≤ 10)', 'reduced χ² 14 (misfit 21 % of the peak)'
        ('' when ok).
    """
    reasons, opts = judged["reasons"], judged["options"]
    texts = {MAIN_ABSENT: ("no ", f" peak (ΔBIC ≤ {opts['present_dbic']:g})", "main_absent"),
             MAIN_WEAK: ("weak ", f" (SNR < {opts['weak_snr']:g})", "main_weak"),
             CENTRE_BOUND: ("", " centre at its bound", "centre_bound"),
             WIDTH_BOUND: ("", " width at its bound", "width_bound"),
             NO_STDERR: ("no standard error for ", "", "no_stderr")}
    out = np.full(reasons.shape, "", dtype=object)
    for i, default in enumerate(_REASONS):
        bit = 1 << i
        hit = (reasons & bit) != 0
        if not hit.any():
            continue
        if bit == CHI2:
            chi2 = np.char.mod("%.3g", judged["chi2"][hit])
            misfit = judged["misfit"][hit]
            shown = np.char.mod("%.0f", 100.0 * np.nan_to_num(misfit, posinf=0.0))
            text = "reduced χ² " + chi2.astype(object) + np.where(
                np.isfinite(misfit), " (misfit " + shown.astype(object) + " % of the peak)", "")
        elif bit in texts:
            prefix, suffix, key = texts[bit]
            names = np.full(int(hit.sum()), "", dtype=object)
            for name, flags in zip(judged["main"], judged[key][hit].T, strict=True):
                names = np.where(flags, names + np.where(names == "", "", "/") + name, names)
            text = prefix + names + suffix
        else:
            text = default
        sep = np.where(out[hit] == "", "", "; ")
        out[hit] = out[hit] + sep + text
    return out


def verdict_codes(reasons: np.ndarray) -> np.ndarray:
    """Verdict (N,) int8 from reason bits: bad input -> poor; flat / outside / main peak
    absent -> absent; any other poor reason -> poor; weak -> weak; else ok.

    Parameters
    ----------
    reasons : (N,) int array
        Reason bits per spectrum, as :func:`judge` returns them.

    Returns
    -------
    (N,) int8 array
        Verdict codes (0 ok, 1 weak, 2 absent, 3 poor).
    """
    reasons = np.asarray(reasons)
    code = np.full(reasons.shape, OK, dtype=np.int8)
    code[(reasons & MAIN_WEAK) != 0] = WEAK
    code[(reasons & _POOR) != 0] = POOR
    code[(reasons & _ABSENT) != 0] = ABSENT
    code[(reasons & _INPUT) != 0] = POOR
    return code


def judge(model, names: list[str], values: np.ndarray, stderr: np.ndarray, rmse: np.ndarray,
          status: np.ndarray, regions: list[dict], opts: dict) -> dict[str, np.ndarray]:
    """Noise, reduced χ², per-peak SNR / presence score / presence and the verdict of N fits.

    Parameters
    ----------
    model : PeakModel
        The fitted model (K peaks in ``model.peaks``).
    names : list of str
        Column names of ``values`` and ``stderr``.
    values, stderr : (N, P) array
        Fitted parameters and their standard errors, in axis (cm⁻¹ or eV) and intensity units.
    rmse : (N,) array
        Root-mean-square residual of each fit, in intensity units.
    status : (N,) object array
        The solver's status names.
    regions : list of dict
        One dict per fit window with ``noise`` (N,), ``spread`` (N,), ``ssr`` (N,),
        ``points`` (L), ``params`` (P), ``dssr`` (N, K), ``saturated`` (N,) and the window's
        axis ``x`` (L,) and spectra ``y`` (N, L).
    opts : dict
        Verdict options (:func:`options`).

    Returns
    -------
    dict of str to array
        Arrays keyed ``noise, chi2, snr, dbic, present, verdict, reasons`` (``snr``,
        ``dbic`` (the presence score of :func:`presence`), ``present`` are (N, K) in the order
        of ``model.peaks``).
    """
    n = values.shape[0]
    peaks = model.peaks
    main = [p.name for p in peaks] if opts["main"] is None else list(opts["main"])
    unknown = set(main) - {p.name for p in peaks}
    if unknown:
        from tmdlearn.errors import InputError

        raise InputError(f"verdict main peaks {sorted(unknown)} are not in model {model.name!r}")
    groups = _unresolved(model, opts["unresolved"])
    chi2_sum, dof, noise2, points = np.zeros(n), 0, np.zeros(n), 0
    snr, dbic, sat, dssr, band_snr = [], [], np.zeros(n, dtype=bool), [], {}
    for region, info in zip(model.regions, regions, strict=True):
        sigma2 = info["noise"] ** 2
        chi2_sum += info["ssr"] / sigma2
        dof += max(info["points"] - info["params"], 1)
        noise2 += sigma2 * info["points"]
        points += info["points"]
        sat |= info["saturated"]
        # significance uses the larger of the data's noise and the residual's robust scale:
        # smoothing hides noise from second differences, not from the residual
        sigma = np.fmax(info["noise"], info["spread"])
        dssr.append(info["dssr"])
        dbic.append(presence(info["y"], info["x"], region, info["noise"],
                             unresolved=opts["unresolved"]))
        for peak in region.peaks:
            snr.append(values[:, names.index(f"{peak.name}_height")] / sigma)
            if peak.name in groups:
                band_snr[peak.name] = _band_snr(info["x"], groups[peak.name][1], names,
                                                values, sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        chi2 = chi2_sum / dof
        noise = np.sqrt(noise2 / max(points, 1))
    snr = np.column_stack(snr) if snr else np.zeros((n, 0))
    dbic = np.concatenate(dbic, axis=1) if dbic else np.zeros((n, 0))
    fitted = np.isin(status, ("ok", "max_iter"))
    dbic[~fitted] = np.nan
    present = np.nan_to_num(dbic, nan=-np.inf) > float(opts["present_dbic"])

    reasons = np.zeros(n, dtype=np.int32)
    for name, bit in (("nonfinite_input", NONFINITE), ("numerical", NUMERICAL),
                      ("too_few_points", FEW), ("flat", FLAT),
                      ("peak_outside_window", OUTSIDE), ("max_iter", ITERATION)):
        reasons[status == name] |= bit
    reasons[sat] |= SATURATED
    index = [i for i, p in enumerate(peaks) if p.name in main]
    main_present = present[:, index]
    main_absent = fitted[:, None] & ~main_present
    reasons[main_absent.any(axis=1)] |= MAIN_ABSENT
    out_of_range = ~((chi2 >= float(opts["chi2_min"])) & (chi2 <= float(opts["chi2_max"])))
    heights = values[:, [names.index(f"{peaks[i].name}_height") for i in index]]
    with np.errstate(invalid="ignore", divide="ignore"):
        misfit = rmse / np.max(np.abs(heights), axis=1, initial=0.0)
    # a misfit of a few % of a very strong peak is significant but harmless: both must hold
    poor_fit = out_of_range & ~(misfit <= float(opts["misfit_max"]))
    reasons[fitted & poor_fit] |= CHI2
    weak = np.zeros((n, len(index)), dtype=bool)
    flags = {bit: np.zeros((n, len(index)), dtype=bool)
             for bit in (CENTRE_BOUND, WIDTH_BOUND, NO_STDERR)}
    for j, i in enumerate(index):
        peak = peaks[i]
        here = fitted & main_present[:, j]
        if peak.name in groups:  # one band: how the fit shares it out is arbitrary
            weak[:, j] = here & (band_snr[peak.name] < float(opts["weak_snr"]))
            continue
        for part, bounds, bit in (("center", peak.center_bounds, CENTRE_BOUND),
                                  ("fwhm", peak.fwhm_bounds, WIDTH_BOUND)):
            value = values[:, names.index(f"{peak.name}_{part}")]
            tol = 1e-6 * (bounds[1] - bounds[0])
            at = (np.abs(value - bounds[0]) <= tol) | (np.abs(value - bounds[1]) <= tol)
            flags[bit][:, j] = here & at
        columns = [names.index(f"{peak.name}_{part}") for part in ("height", "center")]
        flags[NO_STDERR][:, j] = here & ~np.isfinite(stderr[:, columns]).all(axis=1)
        weak[:, j] = here & (snr[:, i] < float(opts["weak_snr"]))
    reasons[weak.any(axis=1)] |= MAIN_WEAK
    for bit, hit in flags.items():
        reasons[hit.any(axis=1)] |= bit
    return {"noise": noise, "chi2": chi2, "misfit": misfit, "snr": snr, "dbic": dbic,
            "dssr": np.concatenate(dssr, axis=1) if dssr else np.zeros((n, 0)),
            "present": present, "verdict": verdict_codes(reasons), "reasons": reasons,
            "main": main, "main_absent": main_absent, "main_weak": weak, "options": opts,
            "centre_bound": flags[CENTRE_BOUND], "width_bound": flags[WIDTH_BOUND],
            "no_stderr": flags[NO_STDERR]}
