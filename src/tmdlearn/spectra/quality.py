"""Whether a fitted peak is there: reduced χ², per-peak significance and a verdict.

Everything here is vectorised over spectra (no loop over spectra). The noise σ of each
spectrum and the presence score of each peak come from the data
(:mod:`tmdlearn.spectra.presence`).

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
- **Verdict** per spectrum (:data:`VERDICTS`): ``absent`` when a main peak of the model is
  not present (or the spectrum is flat / the model's peaks lie outside the axis); ``poor``
  when the data or the fit cannot be trusted (saturated or non-finite input, solver at its
  iteration limit, reduced χ² outside [``chi2_min``, ``chi2_max``] with a residual RMS above
  ``misfit_max`` x the largest main-peak height, a main peak's centre or FWHM on its bound
  (within :data:`BOUND_TOL` of the bound range: the model does not describe the data there),
  a main peak without a standard error); ``weak`` when the main peaks are present but one has
  an SNR below ``weak_snr``; otherwise ``ok``. Every reason found is kept in a bit mask and
  written out as short text by :func:`reason_text` (a bound per peak and side: 'A1g centre at
  its lower bound 402 cm⁻¹'). Another present peak on its bound is said too ('M360 FWHM at
  its upper bound 30 cm⁻¹': its own values are not to be trusted) without changing the
  verdict, which judges the main peaks; absent peaks are not judged.
- **Unresolved groups** (option ``unresolved``, e.g. ``[[Ep, A1p]]`` for WSe2's E′ and A1′
  2-3 cm⁻¹ apart): peaks closer than the data can separate share one band, and how the fit
  splits it between them is arbitrary. A peak in such a group is not ``poor`` for its
  centre or width at a bound nor for a missing standard error, and a main one is ``weak``
  when the band's SNR (the highest point of the members' summed fitted profiles over the
  noise) is below ``weak_snr``, not its own share of it. Its presence score is taken without
  its partners in the null model, so it says whether the band is there.
"""

from __future__ import annotations

import numpy as np

from tmdlearn.spectra.lineshapes import evaluate, region_layout, with_plain_background
from tmdlearn.spectra.presence import presence

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

# reason bits, in the order they are written
_REASONS = (
    "saturated", "non-finite values", "numerical failure", "too few points", "flat spectrum",
    "model peaks outside the axis", "main peak absent", "iteration limit", "reduced chi2",
    "centre at a bound", "FWHM at a bound", "no standard error", "main peak weak",
    "side peak at a bound", "background below the data",
)
(SATURATED, NONFINITE, NUMERICAL, FEW, FLAT, OUTSIDE, MAIN_ABSENT, ITERATION, CHI2,
 CENTRE_BOUND, WIDTH_BOUND, NO_STDERR, MAIN_WEAK, SIDE_BOUND, SUNK) = (
    1 << i for i in range(len(_REASONS)))
_POOR = (SATURATED | NONFINITE | NUMERICAL | FEW | ITERATION | CHI2 | CENTRE_BOUND
         | WIDTH_BOUND | NO_STDERR | SUNK)
_ABSENT = FLAT | OUTSIDE | MAIN_ABSENT
_INPUT = SATURATED | NONFINITE | NUMERICAL | FEW
#: A fitted centre or FWHM within this fraction of its bound range of a bound is at the bound
#: (the solver's bound transform approaches a bound only asymptotically).
BOUND_TOL = 1e-3
#: A background that sinks below the data's floor by more than this many noise σ and this
#: fraction of the largest fitted peak height is dug out for the peaks to fill (a linear
#: background tilted far below a foreign tail, e.g. WSe2 PL fitted with mos2-pl): poor.
SUNK_NOISE, SUNK_HEIGHT = 5.0, 0.25
_UNITS = {"cm-1": "cm⁻¹"}


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
             NO_STDERR: ("no standard error for ", "", "no_stderr")}
    out = np.full(reasons.shape, "", dtype=object)
    for i, default in enumerate(_REASONS):
        bit = 1 << i
        hit = (reasons & bit) != 0
        if not hit.any():
            continue
        if bit == CHI2:
            text = _misfit_text(judged, hit)
        elif bit == SUNK:
            text = ("background " + np.char.mod("%.3g", judged["sunk"][hit]).astype(object)
                    + " below the data's floor: the peaks fill it, not the data")
        elif bit in (CENTRE_BOUND, WIDTH_BOUND, SIDE_BOUND):
            keys = {CENTRE_BOUND: ("centre_bound",), WIDTH_BOUND: ("width_bound",),
                    SIDE_BOUND: ("centre_bound", "width_bound")}[bit]
            text = _bound_text(judged, keys, hit, main=bit != SIDE_BOUND)
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


def _misfit_text(judged: dict, hit: np.ndarray) -> np.ndarray:
    """Text (n,) of the spectra ``hit`` whose fit misses the data: 'reduced χ² 14 (misfit 21 %
    of the peak, largest at 250.1 cm⁻¹)', and where that point lies in the centre range of an
    optional peak the model left out, '; misfit where WSe2_Ep / WSe2_A1p would be (--with
    WSe2_Ep --with WSe2_A1p)'."""
    unit = _UNITS.get(judged["unit"], judged["unit"])
    chi2 = np.char.mod("%.3g", judged["chi2"][hit]).astype(object)
    misfit = judged["misfit"][hit]
    at = judged["misfit_at"][hit]
    shown = np.char.mod("%.0f", 100.0 * np.nan_to_num(misfit, posinf=0.0)).astype(object)
    where = np.char.mod("%.4g", at).astype(object) + f" {unit}"
    detail = np.where(np.isfinite(misfit), "misfit " + shown + " % of the peak", "")
    detail = np.where(np.isfinite(at), detail + np.where(detail == "", "", ", ")
                      + "largest at " + where, detail)
    text = "reduced χ² " + chi2 + np.where(detail == "", "", " (" + detail + ")")
    names = np.full(at.shape, "", dtype=object)
    for name, (low, high) in judged["left_out"]:
        names = np.where((at >= low) & (at <= high),
                         names + np.where(names == "", "", " / ") + name, names)
    flags = np.char.replace(names.astype(str), " / ", " --with ").astype(object)
    return np.where(names == "", text,
                    text + "; misfit where " + names + " would be (--with " + flags + ")")


def _bound_text(judged: dict, keys: tuple[str, ...], hit: np.ndarray, main: bool
                ) -> np.ndarray:
    """Text (n,) of the spectra ``hit`` for the main (``main``) or other peaks whose centre
    (``keys`` holding "centre_bound") or FWHM ("width_bound") sits on a bound, e.g. 'M360 FWHM
    at its upper bound 30 cm⁻¹'; centres first."""
    unit = _UNITS.get(judged["unit"], judged["unit"])
    out = np.full(int(hit.sum()), "", dtype=object)
    for key in keys:
        part, which = ("centre", 0) if key == "centre_bound" else ("FWHM", 1)
        sides = judged[key][hit]
        for k, (name, bounds) in enumerate(zip(judged["peaks"], judged["bounds"], strict=True)):
            if (name in judged["main"]) != main:
                continue
            for side, label, value in ((-1, "lower", bounds[which][0]),
                                       (1, "upper", bounds[which][1])):
                flag = sides[:, k] == side
                if flag.any():
                    text = f"{name} {part} at its {label} bound {value:.6g} {unit}"
                    out[flag] = out[flag] + np.where(out[flag] == "", "", "; ") + text
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
        of ``model.peaks``), ``centre_bound`` and ``width_bound`` ((N, K) int8: -1 on the lower
        bound, +1 on the upper, 0 elsewhere or where the peak is absent) and what
        :func:`reason_text` needs.
    """
    main = _main_names(model, opts)
    groups = _unresolved(model, opts["unresolved"])
    out = _measure(model, names, values, regions, groups, opts)
    fitted = np.isin(status, ("ok", "max_iter"))
    out["dbic"][~fitted] = np.nan
    out["present"] = np.nan_to_num(out["dbic"], nan=-np.inf) > float(opts["present_dbic"])
    index = [i for i, p in enumerate(model.peaks) if p.name in main]
    out["main_absent"] = fitted[:, None] & ~out["present"][:, index]
    heights = values[:, [names.index(f"{model.peaks[i].name}_height") for i in index]]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["misfit"] = rmse / np.max(np.abs(heights), axis=1, initial=0.0)
    out_of_range = ~((out["chi2"] >= float(opts["chi2_min"]))
                     & (out["chi2"] <= float(opts["chi2_max"])))
    # a misfit of a few % of a very strong peak is significant but harmless: both must hold
    poor_fit = out_of_range & ~(out["misfit"] <= float(opts["misfit_max"]))
    flags = _main_peak_flags(model.peaks, index, names, stderr, out,
                             fitted[:, None] & out["present"][:, index], float(opts["weak_snr"]))
    bounds = _bound_flags(model.peaks, names, values, fitted[:, None] & out["present"], groups)
    reasons = _status_reasons(status, out.pop("saturated"))
    reasons[out["main_absent"].any(axis=1)] |= MAIN_ABSENT
    reasons[fitted & poor_fit] |= CHI2
    out["sunk"] = _sunk_background(model, values, regions)
    reasons[fitted & (out["sunk"] > np.fmax(SUNK_NOISE * out["noise"], SUNK_HEIGHT * np.max(
        np.abs(values[:, _height_columns(model, names)]), axis=1, initial=0.0)))] |= SUNK
    out["misfit_at"] = _misfit_at(model, values, regions, fitted & poor_fit)
    for bit, hit in flags.items():
        reasons[hit.any(axis=1)] |= bit
    is_main = np.isin([p.name for p in model.peaks], main)
    for key, bit in (("centre_bound", CENTRE_BOUND), ("width_bound", WIDTH_BOUND)):
        on = bounds[key] != 0
        reasons[(on & is_main).any(axis=1)] |= bit
        reasons[(on & ~is_main).any(axis=1)] |= SIDE_BOUND  # said, but no verdict of its own
    del out["band_snr"]
    out.update(verdict=verdict_codes(reasons), reasons=reasons, main=main, options=opts,
               main_weak=flags[MAIN_WEAK], no_stderr=flags[NO_STDERR],
               peaks=[p.name for p in model.peaks], unit=model.unit,
               left_out=[(p.name, p.center_bounds) for p in model.left_out],
               bounds=[(p.center_bounds, p.fwhm_bounds) for p in model.peaks], **bounds)
    return out


def _height_columns(model, names: list[str]) -> list[int]:
    """Columns of every peak's height in ``names``."""
    return [names.index(f"{p.name}_height") for p in model.peaks]


def _windows(model, values: np.ndarray, regions: list[dict]):
    """(region, its window's info, its stored parameters (N, P) with a plain background,
    :func:`with_plain_background`) for every fit window of ``model``."""
    offset = 0
    for region, info in zip(model.regions, regions, strict=True):
        yield region, info, with_plain_background(
            region, values[:, offset:offset + region.n_params], info["x"])
        offset += region.n_params


def _sunk_background(model, values: np.ndarray, regions: list[dict]) -> np.ndarray:
    """How far (N,) the fitted background sinks below the data's floor (its 1st percentile)
    in the worst window, intensity units (≤ 0 where it stays at or above it)."""
    sunk = np.full(values.shape[0], -np.inf)
    for region, info, params in _windows(model, values, regions):
        if not info["points"] or region.background == "none":
            continue
        start = region_layout(region)[1][1]
        ends = info["x"][[0, -1]]
        line = params[:, start, None] + (params[:, start + 1, None] * ends[None, :]
                                         if region.background == "linear" else 0.0)
        floor = np.percentile(np.asarray(info["y"], float), 1.0, axis=1)
        sunk = np.fmax(sunk, floor - np.min(line, axis=1))
    return sunk


def _misfit_at(model, values: np.ndarray, regions: list[dict], rows: np.ndarray) -> np.ndarray:
    """Where on the axis (N,) the fit of each spectrum of ``rows`` misses the data most: the
    point of largest |residual| over all windows (axis unit; NaN for other rows)."""
    at = np.full(rows.shape, np.nan)
    if not rows.any():
        return at
    best = np.full(int(rows.sum()), -np.inf)
    found = np.full(best.shape, np.nan)
    for region, info, params in _windows(model, values[rows], regions):
        if not info["points"]:
            continue
        fitted, _ = evaluate(np, info["x"], params, region_layout(region), jacobian=False)
        score = np.nan_to_num(np.abs(info["y"][rows] - fitted), nan=-1.0, posinf=-1.0)
        top = np.argmax(score, axis=1)
        value = score[np.arange(score.shape[0]), top]
        here = value > best
        best[here] = value[here]
        found[here] = info["x"][top[here]]
    at[rows] = found
    return at


def _main_names(model, opts: dict) -> list[str]:
    """Names of the main peaks: ``opts["main"]``, or every peak of ``model``; checked."""
    main = [p.name for p in model.peaks] if opts["main"] is None else list(opts["main"])
    unknown = set(main) - {p.name for p in model.peaks}
    if unknown:
        from tmdlearn.errors import InputError

        raise InputError(f"verdict main peaks {sorted(unknown)} are not in model {model.name!r}")
    return main


def _measure(model, names: list[str], values: np.ndarray, regions: list[dict],
             groups: dict, opts: dict) -> dict:
    """Over the fit windows: noise σ (N,), reduced χ² (N,), saturation (N,), per peak SNR,
    presence score and ΔSSR (N, K), and the band SNR (N,) of each peak of an unresolved
    group (``band_snr``, by name)."""
    n = values.shape[0]
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
    return {"noise": noise, "chi2": chi2, "saturated": sat, "band_snr": band_snr,
            "snr": np.column_stack(snr) if snr else np.zeros((n, 0)),
            "dbic": np.concatenate(dbic, axis=1) if dbic else np.zeros((n, 0)),
            "dssr": np.concatenate(dssr, axis=1) if dssr else np.zeros((n, 0))}


def _status_reasons(status: np.ndarray, saturated: np.ndarray) -> np.ndarray:
    """Reason bits (N,) of the solver's status names and of saturated spectra."""
    reasons = np.zeros(status.shape, dtype=np.int32)
    for name, bit in (("nonfinite_input", NONFINITE), ("numerical", NUMERICAL),
                      ("too_few_points", FEW), ("flat", FLAT),
                      ("peak_outside_window", OUTSIDE), ("max_iter", ITERATION)):
        reasons[status == name] |= bit
    reasons[saturated] |= SATURATED
    return reasons


def _main_peak_flags(peaks, index: list[int], names: list[str], stderr: np.ndarray,
                     measured: dict, here: np.ndarray, weak_snr: float) -> dict[int, np.ndarray]:
    """Reason bit -> (N, M) flags of the M main peaks ``peaks[index]`` where they are present
    (``here``): no standard error, SNR below ``weak_snr``. A peak of an unresolved group is weak
    by its band's SNR and never flagged for a missing standard error."""
    flags = {bit: np.zeros(here.shape, dtype=bool) for bit in (NO_STDERR, MAIN_WEAK)}
    for j, i in enumerate(index):
        peak = peaks[i]
        if peak.name in measured["band_snr"]:  # one band: how the fit shares it is arbitrary
            flags[MAIN_WEAK][:, j] = here[:, j] & (measured["band_snr"][peak.name] < weak_snr)
            continue
        columns = [names.index(f"{peak.name}_{part}") for part in ("height", "center")]
        flags[NO_STDERR][:, j] = here[:, j] & ~np.isfinite(stderr[:, columns]).all(axis=1)
        flags[MAIN_WEAK][:, j] = here[:, j] & (measured["snr"][:, i] < weak_snr)
    return flags


def _bound_flags(peaks, names: list[str], values: np.ndarray, here: np.ndarray,
                 groups: dict) -> dict[str, np.ndarray]:
    """``centre_bound`` and ``width_bound`` (N, K) int8 of every peak: -1 where its fitted
    centre / FWHM sits on its lower bound, +1 on its upper bound (within :data:`BOUND_TOL` of
    its bound range), 0 elsewhere; only where the peak is present (``here`` (N, K)): an absent
    peak's values mean nothing. Members of unresolved ``groups`` are never flagged: how the fit
    shares their band (a member narrowed or widened to a bound) is arbitrary."""
    out = {"centre_bound": np.zeros(here.shape, dtype=np.int8),
           "width_bound": np.zeros(here.shape, dtype=np.int8)}
    for i, peak in enumerate(peaks):
        if peak.name in groups:
            continue
        for part, bounds, key in (("center", peak.center_bounds, "centre_bound"),
                                  ("fwhm", peak.fwhm_bounds, "width_bound")):
            value = values[:, names.index(f"{peak.name}_{part}")]
            low, high = float(bounds[0]), float(bounds[1])
            tol = BOUND_TOL * (high - low)
            side = np.where(value <= low + tol, -1, np.where(value >= high - tol, 1, 0))
            out[key][:, i] = np.where(here[:, i], side, 0)
    return out
