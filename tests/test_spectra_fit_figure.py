"""The fit figure says what the table says: the verdict in each title, absent peaks marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from test_spectra_peaks import X, lorentzian, mos2_spectra
from tmdlearn.spectra import Peak, PeakModel, Region, fit_peaks
from tmdlearn.spectra.fit_figure import fit_figure


def _components(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines()}


def test_titles_give_the_verdict_and_absent_peaks_are_marked():
    """E2g and A1g planted without 2LA (2LA absent, verdict ok) and a bare spectrum (status
    ok, verdict absent): the titles say ok and absent, as the table does, and the components
    of absent peaks are dotted grey and labelled so."""
    y, truth = mos2_spectra(2, seed=13)
    y[:1] -= lorentzian(X, truth["2LA_height"][:1], truth["2LA_center"][:1],
                        truth["2LA_fwhm"][:1])
    y[1] = 10 + 0.02 * (X - 400) + np.random.default_rng(14).normal(0, 2.0, X.size)
    fit = fit_peaks(y, "mos2-raman", X, progress=False)
    assert list(fit.verdict) == ["ok", "absent"] and list(fit.status_names) == ["ok", "ok"]
    assert list(fit.table()["verdict"]) == ["ok", "absent"]
    fig = fit_figure([(fit, X, y, 0, "flake"), (fit, X, y, 1, "bare")])
    try:
        tops = [ax for ax in fig.axes if ax.get_title()]
        assert [ax.get_title().split()[-1] for ax in tops] == ["ok", "absent"]
        flake, bare = (_components(ax) for ax in tops)
        assert {"E2g", "A1g", "2LA (absent)"} <= set(flake) and "2LA" not in flake
        assert flake["2LA (absent)"].get_linestyle() == ":"
        assert flake["E2g"].get_linestyle() == "-"
        assert {"E2g (absent)", "A1g (absent)", "2LA (absent)"} <= set(bare)
        assert all(line.get_color() == "0.7" for name, line in bare.items()
                   if name.endswith("(absent)"))
    finally:
        plt.close(fig)


def test_titles_keep_a_solver_status_that_is_not_ok_and_mark_peaks_at_a_bound():
    y, _ = mos2_spectra(2, seed=15)
    narrow = PeakModel("narrow-2LA", (Region((355, 480), (
        Peak("E2g", 385, 4, max_shift=8, fwhm_min=1, fwhm_max=20),
        Peak("A1g", 405, 5, max_shift=8, fwhm_min=1, fwhm_max=20),
        Peak("2LA", 455, 8, max_shift=12, fwhm_min=3, fwhm_max=8))),),
        verdict={"main": ["E2g", "A1g"]})
    fit = fit_peaks(y, narrow, X, progress=False)
    stopped = fit_peaks(y, "mos2-raman", X, progress=False, max_iter=1)
    fig = fit_figure([(fit, X, y, 0, "narrow"), (stopped, X, y, 0, "stopped")])
    try:
        tops = [ax for ax in fig.axes if ax.get_title()]
        assert tops[0].get_title().endswith("  ok")  # the main peaks are fine
        assert "2LA (at bound)" in _components(tops[0])
        assert tops[1].get_title().endswith("  poor (max_iter)")
    finally:
        plt.close(fig)
    unjudged = fit_peaks(y, "mos2-raman", X, progress=False, verdict=False)
    fig = fit_figure([(unjudged, X, y, 0, "unjudged")])
    try:
        assert fig.axes[0].get_title().endswith("  ok")
        assert "E2g" in _components(fig.axes[0])
    finally:
        plt.close(fig)
