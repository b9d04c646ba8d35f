"""Noise from the data, per-peak significance and the verdict on planted and bad spectra."""

from __future__ import annotations

import numpy as np
import pytest

from test_spectra_peaks import X, lorentzian, mos2_spectra
from tmdlearn.data import SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.spectra import (
    Peak,
    PeakModel,
    Region,
    fit_map,
    fit_peaks,
    load_model,
    noise_sigma,
    parameter_maps,
)


def test_noise_from_second_differences_matches_the_planted_noise():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.5, 5.0, 300)
    y, _ = mos2_spectra(300, seed=1, noise=0.0)
    y = y + sigma[:, None] * rng.normal(size=y.shape)
    ratio = noise_sigma(y) / sigma
    assert np.median(ratio) == pytest.approx(1.0, abs=0.04)
    assert np.percentile(np.abs(ratio - 1), 90) < 0.2  # MAD: 37 % efficiency


def test_removal_rise_agrees_with_a_refit_without_the_peak():
    """ΔSSR to first order (no refit) against the SSR of a true refit without 2LA."""
    y, truth = mos2_spectra(40, seed=2)
    y = y - lorentzian(X, truth["2LA_height"], truth["2LA_center"], truth["2LA_fwhm"])
    y = y + lorentzian(X, np.full(40, 6.0), truth["2LA_center"], truth["2LA_fwhm"])  # SNR 3
    model = load_model("mos2-raman")
    fit = fit_peaks(y, model, X, progress=False)
    region = model.regions[0]
    without = PeakModel("no2LA", (Region(region.window, region.peaks[:2], "linear"),))
    refit = fit_peaks(y, without, X, progress=False, verdict=False)
    ssr_with, ssr_without = (f.rmse ** 2 * X.size for f in (fit, refit))
    np.testing.assert_allclose(fit.quality["dssr"][:, 2], ssr_without - ssr_with, rtol=0.15)
    assert np.all(fit.quality["dbic"][:, 2] > 10)  # a height of 3 noise σ is still there


def test_verdicts_on_planted_bare_and_bad_spectra():
    y, _ = mos2_spectra(6, seed=3)
    rng = np.random.default_rng(4)
    bare = 10 + 0.02 * (X - 400) + rng.normal(0, 2.0, (3, X.size))
    bad = np.vstack([y[:4], bare, np.zeros(X.size), np.full(X.size, 7.0)])
    bad[1, 120:] = np.nan                       # non-finite
    bad[2] = np.minimum(bad[2], 60.0)           # saturated detector
    bad[3, 40] += 2000.0                        # cosmic spike on the flake
    fit = fit_peaks(bad, "mos2-raman", X, progress=False)
    verdict, reasons = list(fit.verdict), list(fit.reasons)
    assert verdict[0] == "ok" and reasons[0] == ""
    assert verdict[1] == "poor" and reasons[1] == "non-finite values"
    assert verdict[2] == "poor" and reasons[2].startswith("saturated")
    # E2g took the spike
    assert verdict[3] == "poor" and reasons[3] == "E2g FWHM at its lower bound 1 cm⁻¹"
    assert verdict[4:7] == ["absent"] * 3
    assert all(r.startswith("no E2g/A1g peak") for r in reasons[4:7])
    assert verdict[7:] == ["absent", "absent"] and reasons[7:] == ["flat spectrum"] * 2
    # absent peaks give NaN values and features; the solver's numbers stay in fit.values
    table = fit.table()
    assert table["split_A1g_E2g"][4:].isna().all() and table["split_A1g_E2g"][:1].notna().all()
    assert table["A1g_center"][4:7].isna().all() and np.isfinite(fit["A1g_center"][4:7]).all()
    assert table["A1g_snr"][0] > 20 and not table["A1g_present"][4:].any()


def test_weak_iteration_limit_and_model_outside_axis():
    y, truth = mos2_spectra(3, seed=5, noise=2.0)
    y[:1] -= lorentzian(X, truth["E2g_height"][:1] - 7.0, truth["E2g_center"][:1],
                        truth["E2g_fwhm"][:1])
    fit = fit_peaks(y, "mos2-raman", X, progress=False)
    assert fit.verdict[0] == "weak" and fit.reasons[0] == "weak E2g (SNR < 5)"
    stopped = fit_peaks(y[1:], "mos2-raman", X, progress=False, max_iter=1)
    assert set(stopped.verdict) == {"poor"} and "iteration limit" in stopped.reasons[0]
    short = X <= 430
    out = fit_peaks(y[:, short], "mos2-raman", X[short], progress=False)
    assert set(out.verdict) == {"absent"} and set(out.reasons) == {"model peaks outside the axis"}
    x = np.arange(183.0, 300.0, 0.9)  # wse2-raman's second window (314-410) is not measured
    half = fit_peaks(lorentzian(x, np.full(2, 50.0), np.full(2, 250.5), np.full(2, 3.5)),
                     "wse2-raman", x, progress=False)
    assert set(half.reasons) == {"too few points"}


def test_wrong_material_centre_at_bound_is_poor():
    """A single band at 1.565 eV fitted with the WSe2 PL model (1.65 ± 0.06 eV)."""
    x = np.linspace(1.45, 1.85, 300)
    rng = np.random.default_rng(6)
    y = 500 * np.exp(-4 * np.log(2) * ((x - 1.565) / 0.05) ** 2) + rng.normal(0, 3, (2, 300))
    fit = fit_peaks(y, "wse2-pl", x, progress=False)
    assert list(fit.verdict) == ["poor", "poor"]
    assert "A centre at its lower bound 1.59 eV" in fit.reasons[0]


def _narrow_model(fwhm_max_2la: float, fwhm_max_a1g: float = 20.0) -> PeakModel:
    """E2g and A1g (main; A1g's FWHM bound ``fwhm_max_a1g``), 2LA with FWHM bound
    ``fwhm_max_2la`` and a peak X at 430 cm⁻¹ that no planted spectrum has."""
    return PeakModel("bounds", (Region((355, 480), (
        Peak("E2g", 385, 4, max_shift=8, fwhm_min=1, fwhm_max=20),
        Peak("A1g", 405, 5, max_shift=8, fwhm_min=1, fwhm_max=fwhm_max_a1g),
        Peak("2LA", 455, 8, max_shift=12, fwhm_min=3, fwhm_max=fwhm_max_2la),
        Peak("X", 430, 3, max_shift=4, fwhm_min=1, fwhm_max=6))),),
        verdict={"main": ["E2g", "A1g"]})


def test_a_peak_on_its_bound_is_said_and_poor_only_when_main_an_absent_one_not_judged():
    """2LA planted 10-14 cm⁻¹ wide: with fwhm_max 8 its FWHM ends on the bound, said with the
    peak, side and bound, but the verdict (of the main peaks) stays ok; A1g planted 4.2-5.9
    cm⁻¹ wide with fwhm_max 3: poor; with room for both the same spectra are ok and say
    nothing. X is absent: its centre and width sit on their bounds in most spectra, never
    flagged."""
    y, truth = mos2_spectra(20, seed=12)
    assert truth["2LA_fwhm"].min() > 8 and truth["A1g_fwhm"].min() > 3
    side = fit_peaks(y, _narrow_model(8.0), X, progress=False)
    assert set(side.verdict) == {"ok"}
    assert set(side.reasons) == {"2LA FWHM at its upper bound 8 cm⁻¹"}
    np.testing.assert_allclose(side["2LA_fwhm"], 8.0, atol=8e-3)
    assert side.quality["width_bound"][:, 2].tolist() == [1] * 20
    main = fit_peaks(y, _narrow_model(40.0, fwhm_max_a1g=3.0), X, progress=False)
    assert set(main.verdict) == {"poor"}
    assert set(main.reasons) == {"A1g FWHM at its upper bound 3 cm⁻¹"}
    clean = fit_peaks(y, _narrow_model(40.0), X, progress=False)
    assert set(clean.verdict) == {"ok"} and set(clean.reasons) == {""}
    assert not clean.quality["centre_bound"].any() and not clean.quality["width_bound"].any()
    for fit in (side, clean):
        x_low, x_high = fit.model.peaks[3].fwhm_bounds
        on_bound = np.isclose(fit["X_fwhm"], x_low) | np.isclose(fit["X_fwhm"], x_high)
        assert on_bound.sum() >= 10 and not fit.quality["present"][:, 3].any()


def test_bound_tolerance_is_relative_to_the_bound_range():
    from tmdlearn.spectra.quality import BOUND_TOL, _bound_flags

    peak = Peak("M360", 360, 8, max_shift=8, fwhm_min=2, fwhm_max=30)
    names = ["M360_height", "M360_center", "M360_fwhm"]
    span = 28.0 * BOUND_TOL  # 0.028 cm-1 of the FWHM range 2-30
    fwhm = np.array([30.0, 30.0 - 0.9 * span, 30.0 - 2 * span, 2.0 + 0.5 * span, 12.0, 30.0])
    values = np.column_stack([np.full(6, 100.0), np.full(6, 360.0), fwhm])
    here = np.array([[True]] * 5 + [[False]])  # the last peak is absent: not judged
    flags = _bound_flags((peak,), names, values, here, {})
    assert flags["width_bound"][:, 0].tolist() == [1, 1, 0, -1, 0, 0]
    assert not flags["centre_bound"].any()
    assert not _bound_flags((peak,), names, values, here, {"M360": None})["width_bound"].any()


def test_options_from_the_model_and_the_call():
    y, _ = mos2_spectra(2, seed=7)
    strict = fit_peaks(y, "mos2-raman", X, progress=False, verdict={"weak_snr": 1000.0})
    assert set(strict.verdict) == {"weak"}
    model = PeakModel("one", (Region((355, 480), (Peak("E2g", 385, 4, max_shift=8),
                                                   Peak("A1g", 405, 5, max_shift=8))),),
                      verdict={"main": ["A1g"], "chi2_max": 1e9})
    assert fit_peaks(y, model, X, progress=False).quality["main"] == ["A1g"]
    assert fit_peaks(y, "mos2-raman", X, progress=False, verdict=False).verdict is None
    with pytest.raises(InputError, match="unknown verdict options"):
        fit_peaks(y, "mos2-raman", X, progress=False, verdict={"nonsense": 1})
    with pytest.raises(InputError, match="not in model"):
        fit_peaks(y, "mos2-raman", X, progress=False, verdict={"main": ["B"]})


def test_map_gets_a_verdict_map_and_blanks_what_is_not_ok():
    y, _ = mos2_spectra(6, seed=8)
    y[[1, 4]] = 10 + np.random.default_rng(9).normal(0, 2.0, (2, X.size))
    smap = SpectralMap(y.reshape(2, 3, -1), X, "cm-1", step_um=1.0)
    fit, mask = fit_map(smap, "mos2-raman", progress=False)
    maps = parameter_maps(fit, mask)
    assert maps["verdict"].tolist() == [[0, 2, 0], [0, 2, 0]]
    assert np.isnan(maps["A1g_center"][0, 1]) and np.isfinite(maps["A1g_center"][0, 0])
    every = parameter_maps(fit, mask, only_ok=False)
    assert np.isfinite(every["A1g_center"]).all()


def test_presence_score_separates_snr5_peaks_from_bare_spectra():
    """E2g and A1g planted at a height of 5 noise σ on a sloped, curved background with the
    tail of a silicon line at 520.5 cm-1 against the same backgrounds without them: every
    planted peak scores above every bare one, all are present and no bare spectrum has one."""
    rng = np.random.default_rng(10)
    n, sigma = 150, 4.0
    u = (X - 417.5)[None, :]
    background = (200 + rng.normal(0, 0.3, (n, 1)) * u + rng.normal(0, 0.004, (n, 1)) * u**2
                  + lorentzian(X, rng.uniform(2e4, 1e5, n), np.full(n, 520.5), np.full(n, 4.0)))
    peaks = (lorentzian(X, np.full(n, 5 * sigma), 385 + rng.normal(0, 1, n),
                        rng.uniform(3, 5, n))
             + lorentzian(X, np.full(n, 5 * sigma), 406 + rng.normal(0, 1, n),
                          rng.uniform(4, 6, n)))
    noise = rng.normal(0, sigma, (2, n, X.size))
    flake = fit_peaks(background + peaks + noise[0], "mos2-raman", X, progress=False)
    bare = fit_peaks(background + noise[1], "mos2-raman", X, progress=False)
    planted, empty = flake.quality["dbic"][:, :2], bare.quality["dbic"][:, :2]
    assert planted.min() > empty.max()
    assert flake.quality["present"][:, :2].all()
    assert not bare.quality["present"][:, :2].any()


def _wse2_band(first, a1_share, rng):
    """WSe2 Raman spectra (0.9 cm⁻¹ per channel) with E' at 248 and A1' at 250.5 cm⁻¹ (FWHM 3
    and 3.5 cm⁻¹: one band) of heights 0.45 x ``first`` (n,) and ``a1_share`` x ``first``,
    the unmodelled 240 cm⁻¹ band of the simulated maps, Poisson and read noise."""
    x = np.arange(183.0, 410.01, 0.9)
    h = np.asarray(first, dtype=float)
    clean = 60.0 + sum(lorentzian(x, share * h, np.full(h.size, c), np.full(h.size, w))
                       for share, c, w in ((0.05, 219, 7), (0.08, 240, 7), (0.45, 248, 3),
                                           (a1_share, 250.5, 3.5), (0.45, 259.5, 6),
                                           (0.12, 374, 7)))
    return x, rng.poisson(clean).astype(float) + rng.normal(0.0, 3.0, clean.shape)


def test_unresolved_pair_is_judged_as_one_band():
    """wse2-raman declares E' and A1' (2.5 cm⁻¹ apart) one band: the fit's arbitrary split of
    it (A1' width at its bound, A1' left with a small share) is neither poor, weak nor absent;
    a band that is not there stays absent or weak."""
    rng = np.random.default_rng(10)
    x, y = _wse2_band(600.0 * np.exp(rng.normal(0.0, 0.3, 60)), 1.0, rng)
    parts = [y, _wse2_band(np.full(8, 400.0), 0.05, rng)[1],     # E' takes the band
             _wse2_band(np.zeros(8), 1.0, rng)[1],               # bare substrate
             _wse2_band(np.full(8, 15.0), 1.0, rng)[1]]          # band SNR about 2
    y = np.vstack(parts)
    split = fit_peaks(y, "wse2-raman", x, progress=False, max_iter=400,
                      verdict={"unresolved": []})
    assert sum("A1p FWHM at its lower bound 1 cm⁻¹" in r for r in split.reasons[:60]) >= 4
    assert "ok" not in split.verdict[60:68]
    band = fit_peaks(y, "wse2-raman", x, progress=False, max_iter=400)
    assert band.quality["options"]["unresolved"] == [["Ep", "A1p"]]
    assert all(v == "ok" or r == "iteration limit"
               for v, r in zip(band.verdict[:60], band.reasons[:60], strict=True))
    assert set(band.verdict[60:68]) == {"ok"}
    assert np.sum(band.quality["snr"][60:68, 2] < 5) >= 3  # A1p's own share is weak
    assert set(band.verdict[68:76]) == {"absent"}
    assert set(band.verdict[76:]) <= {"weak", "absent"}


def test_unresolved_groups_are_checked():
    y, _ = mos2_spectra(2, seed=11)
    fit = fit_peaks(y, "mos2-raman", X, progress=False, verdict={"unresolved": [["E2g", "A1g"]]})
    assert list(fit.verdict) == ["ok", "ok"]
    for groups in ([["E2g", "B"]], [["E2g"]], "E2g", [["E2g", "A1g"], ["A1g", "2LA"]]):
        with pytest.raises(InputError, match="unresolved"):
            fit_peaks(y, "mos2-raman", X, progress=False, verdict={"unresolved": groups})


def test_a_misfit_is_located_and_a_left_out_optional_line_named():
    """MoS2 on sapphire: a planted sapphire line (417.6 cm⁻¹, 3x the A1g) that the preset
    leaves out unless asked. The misfit is located at it and the reasons name ``--with
    sapphire``; with the line in the model the fit is clean; a misfit elsewhere (a line at 440
    cm⁻¹) is located without naming it."""
    y, truth = mos2_spectra(20, seed=3)
    n = len(y)
    substrate = lorentzian(X, 3 * truth["A1g_height"], np.full(n, 417.6), np.full(n, 2.5))
    fit = fit_peaks(y + substrate, "mos2-raman", X, progress=False)
    at = fit.quality["misfit_at"]
    assert np.all(np.abs(at - 417.6) <= 2.0), at
    assert all("misfit where sapphire would be (--with sapphire)" in r for r in fit.reasons)
    assert all("largest at 41" in r for r in fit.reasons)
    with_line = fit_peaks(y + substrate, load_model("mos2-raman", ["sapphire"]), X,
                          progress=False)
    assert set(with_line.verdict) == {"ok"} and np.isnan(with_line.quality["misfit_at"]).all()
    other = lorentzian(X, 3 * truth["A1g_height"], np.full(n, 440.0), np.full(n, 2.5))
    elsewhere = fit_peaks(y + other, "mos2-raman", X, progress=False)
    flagged = ~np.isnan(elsewhere.quality["misfit_at"])
    assert flagged.sum() >= n // 2
    assert np.all(np.abs(elsewhere.quality["misfit_at"][flagged] - 440.0) <= 2.0)
    assert not any("--with" in r for r in elsewhere.reasons)


def test_a_background_sunk_below_the_data_for_the_peaks_to_fill_is_poor(test_data):
    """The real WSe2 PL fitted with mos2-pl: the linear background tilts to -2600 counts under
    data that never fall below ~120, and the MoS2 Gaussians fill the hole. Said, and poor.
    Planted MoS2 PL (A, trion, B on a sloped positive background) is ok and says nothing."""
    from tmdlearn.io import read

    wse2 = fit_peaks(read(test_data / "spectra-wse2mose2" / "WSe2_PL.txt"), "mos2-pl",
                     progress=False)
    assert wse2.verdict[0] == "poor"
    sunk = wse2.quality["sunk"][0]
    assert 1500 < sunk < 4000, sunk
    assert f"background {sunk:.3g} below the data's floor" in wse2.reasons[0]
    rng = np.random.default_rng(4)
    x = np.linspace(1.5, 2.3, 800)
    n = 30
    y = 200 + 150 * (x - 1.5)[None, :] + rng.normal(0, 5, (n, x.size))
    for centre, fwhm, height in ((1.88, 0.05, 800), (1.84, 0.07, 300), (2.03, 0.1, 200)):
        y = y + height * rng.uniform(0.8, 1.2, (n, 1)) * np.exp(
            -4 * np.log(2) * ((x - centre) / fwhm) ** 2)[None, :]
    mos2 = fit_peaks(y, "mos2-pl", x, progress=False)
    assert set(mos2.verdict) == {"ok"}, set(mos2.reasons)
    assert np.all(mos2.quality["sunk"] < 25)
