"""Planted spectroscopy physics and the dataset writers, checked from the outside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import median_filter
from scipy.stats import spearmanr

from synth_checks import fit_peaks
from tmdlearn.cli import main
from tmdlearn.io import open_dataset
from tmdlearn.synth.campaign import write_mos2_campaign
from tmdlearn.synth.film import GrowthParameters, film_state, sample_growth
from tmdlearn.synth.maps import flake_fields, flake_maps
from tmdlearn.synth.materials import CLASS_COUNTS, write_tmd_materials
from tmdlearn.synth.optics import pl_spectrum, raman_spectrum

STATE = film_state(GrowthParameters(700, 1.0, 1000, 40), "center", 0)


def _split(spectra):
    x, y = spectra.axis, spectra.intensity[0]
    window = (x > 360) & (x < 430)
    _, centers, _ = fit_peaks(x[window], y[window], [385.0, 405.0, 418.0])
    return centers[1] - centers[0]


def _spot(bilayer=0.0, defects=3e12, strain=0.0, doping=0.0):
    return {"coverage": 1.0, "bilayer_fraction": bilayer, "defect_density_cm2": defects,
            "strain_pct": strain, "doping_1e13_cm2": doping}


def test_split_follows_layer_number():
    mono = _split(raman_spectrum(STATE, 0.5, 1, spot=_spot(0.0))[0])
    bi = _split(raman_spectrum(STATE, 0.5, 2, spot=_spot(1.0))[0])
    assert 18.5 < mono < 20.0
    assert 21.0 < bi < 23.0


def test_doping_softens_a1g_and_strain_softens_e2g():
    x_ref = fit_peaks(*_window(raman_spectrum(STATE, 0.5, 3, spot=_spot())[0]), [385, 405, 418])
    x_dop = fit_peaks(*_window(raman_spectrum(STATE, 0.5, 3, spot=_spot(doping=1.5))[0]),
                      [385, 405, 418])
    x_eps = fit_peaks(*_window(raman_spectrum(STATE, 0.5, 3, spot=_spot(strain=0.3))[0]),
                      [385, 405, 418])
    assert x_dop[1][1] < x_ref[1][1] - 2.0  # A1g softens ~2.2 cm-1 per 1e13 cm-2
    assert abs(x_dop[1][0] - x_ref[1][0]) < 0.5  # E2g unmoved
    assert x_eps[1][0] < x_ref[1][0] - 1.8  # E2g: -2*1.06*385 cm-1 per unit strain


def _window(spectra, lo=360, hi=430):
    x, y = spectra.axis, spectra.intensity[0]
    keep = (x > lo) & (x < hi)
    return x[keep], y[keep]


def test_2la_ratio_rises_with_defects():
    ratios = []
    for defects in (1e12, 1e13, 4e13):
        s, _ = raman_spectrum(STATE, 1.0, 4, spot=_spot(defects=defects))
        x, y = s.axis, s.intensity[0]
        base = np.median(y[(x > 480) & (x < 560)])
        two_la = y[(x > 440) & (x < 465)].max() - base
        a1g = y[(x > 400) & (x < 410)].max() - base
        ratios.append(two_la / a1g)
    assert ratios[0] < ratios[1] < ratios[2]


def test_pl_exciton_and_trion_energies():
    spectra, truth = pl_spectrum(STATE, 0.5, 5, spot=_spot(doping=0.8))
    assert truth["1L_A_center_ev"] == pytest.approx(1.88, abs=0.005)
    assert truth["1L_trion_center_ev"] == pytest.approx(1.845, abs=0.01)
    peak_ev = spectra.axis[np.argmax(spectra.intensity[0])]
    assert 1.83 < peak_ev < 1.90


def test_pl_quenched_by_defects():
    clean = pl_spectrum(STATE, 0.5, 6, spot=_spot(defects=1e12))[1]["1L_A_height"]
    dirty = pl_spectrum(STATE, 0.5, 6, spot=_spot(defects=3e13))[1]["1L_A_height"]
    assert dirty < 0.3 * clean


def test_raman_tracks_morphology_more_than_pl():
    rng = np.random.default_rng(11)
    cov, a1g, pl = [], [], []
    for _ in range(40):
        state = film_state(sample_growth(rng), "center", rng)
        r, _ = raman_spectrum(state, 1.0, rng)
        p, _ = pl_spectrum(state, 0.5, rng)
        cov.append(state.coverage)
        a1g.append(r.intensity[0][(r.axis > 400) & (r.axis < 410)].max())
        pl.append(p.intensity[0].max())
    assert spearmanr(cov, a1g).statistic > 0.8
    assert spearmanr(cov, pl).statistic < spearmanr(cov, a1g).statistic - 0.2


def _pl_peak_ev(spectra) -> tuple[float, float]:
    """A-exciton energy (eV) of a PL file: vertex of a parabola through log intensity near the
    maximum in 1.78-1.98 eV; and the peak's signal-to-noise ratio."""
    x, raw = spectra.axis, spectra.intensity.mean(axis=0)
    y = median_filter(raw, 7) - np.median(raw[x < 1.62])
    window = np.flatnonzero((x > 1.78) & (x < 1.98))
    top = window[np.argmax(y[window])]
    near = np.abs(x - x[top]) < 0.025
    c2, c1, _ = np.polyfit(x[near] - x[top], np.log(np.clip(y[near], 1.0, None)), 2)
    return x[top] - c1 / (2 * c2), y[top] / np.std(np.diff(raw[x > 2.15]))


def test_pl_exciton_energy_carries_a_spot_environment_the_film_state_does_not_explain(tmp_path):
    write_mos2_campaign(tmp_path, samples=30, seed=0, pixels=16, powers=(0.5,),
                        overview_every=1000)
    data = open_dataset(tmp_path)
    truth = pd.read_csv(tmp_path / "truth.csv").set_index("file")
    rows = [i for i, m in enumerate(data.table["modality"]) if m == "pl"]
    measured = np.array([_pl_peak_ev(data.load(i)) for i in rows])
    pl = truth.loc[data.table["file"].iloc[rows]]
    bright = measured[:, 1] > 20                     # low-coverage spots emit too little
    assert bright.sum() >= 15
    # the film state moves the exciton through strain (band gap) and doping (trion mixing)
    state = np.column_stack([np.ones(len(pl)), pl["state_strain_pct"],
                             pl["state_doping_1e13_cm2"]])[bright]
    coef, *_ = np.linalg.lstsq(state, measured[bright, 0], rcond=None)
    residual = measured[bright, 0] - state @ coef
    # planted: 12 meV per spot (without it the residual is ~2 meV of spot strain scatter)
    assert 0.008 < residual.std() < 0.018
    assert np.corrcoef(residual, pl["spot_env_exciton_shift_ev"][bright])[0, 1] > 0.7


def _a1_and_pl(maps):
    x, y = maps.raman.axis, maps.raman.intensity
    a1 = y[..., (x > 246) & (x < 254)].max(-1) - np.median(y[..., (x > 280) & (x < 295)], -1)
    return a1, maps.pl.intensity.max(-1)


def test_pl_follows_a1_in_pristine_regions_only_under_resonance():
    fields = flake_fields(64, "triangle", 3)
    pristine = fields["regions"] == 1
    res = _a1_and_pl(flake_maps(64, "triangle", 2.33, 4, fields=fields))
    off = _a1_and_pl(flake_maps(64, "triangle", 1.96, 5, fields=fields))
    r_res = spearmanr(res[0][pristine], res[1][pristine]).statistic
    r_off = spearmanr(off[0][pristine], off[1][pristine]).statistic
    assert r_res > 0.7
    assert abs(r_off) < 0.35


def test_under_resonance_pl_follows_a1_and_not_the_other_modes():
    fields = flake_fields(64, "triangle", 12)
    pristine = fields["regions"] == 1
    maps = flake_maps(64, "triangle", 2.33, 13, fields=fields)
    rho = {name: spearmanr(h[pristine], maps.pl_height[pristine]).statistic
           for name, h in maps.heights.items()}
    others = max(abs(v) for name, v in rho.items() if name != "A1'")
    assert rho["A1'"] > 0.8
    assert others < 0.5 and rho["A1'"] - others > 0.4, rho


def test_defect_regions_change_pl():
    fields = flake_fields(64, "star", 8)
    maps = flake_maps(64, "star", 2.33, 9, fields=fields)
    a1, pl = _a1_and_pl(maps)
    regions = fields["regions"]
    assert {1, 2, 3} <= set(np.unique(regions))
    assert np.median(pl[regions == 2]) < np.median(pl[regions == 1])  # vacancies quench
    assert np.median(pl[regions == 3]) > np.median(pl[regions == 1])  # oxygen raises PL
    assert np.median(a1[regions == 3]) < np.median(a1[regions == 1])  # and suppresses Raman


def test_materials_set_counts_and_reads_back(tmp_path):
    write_tmd_materials(tmp_path, 0.03, 32, 0)
    data = open_dataset(tmp_path)
    counts = data.table["material"].value_counts()
    expected = {m: max(2, round(n * 0.03)) for m, n in CLASS_COUNTS.items()}
    assert counts.to_dict() == expected
    assert data.table["sample_id"].nunique() < len(data.table)
    assert data.load(0).shape == (32, 32)


def test_cli_small_campaign_and_maps(tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["synth", "mos2-campaign", "--samples", "2", "--pixels", "64", "--small",
              str(tmp_path / "c")])
    assert done.value.code in (0, None)
    data = open_dataset(tmp_path / "c")
    assert set(data.table["modality"]) == {"afm", "raman", "pl"}
    assert {"growth_temperature_c", "growth_time_min"} <= set(data.table.columns)
    truth = (tmp_path / "c" / "truth.csv").read_text()
    assert "1L_A1g_center_cm1" in truth
    with pytest.raises(SystemExit):  # the folder as --out, as the other commands take it
        main(["synth", "wse2-maps", "--flakes", "1", "--pixels", "24", "--out",
              str(tmp_path / "w")])
    maps = open_dataset(tmp_path / "w")
    assert set(maps.table["modality"]) == {"raman_map", "pl_map"}
    assert maps.load(0).shape == (24, 24)


@pytest.mark.parametrize("args", [
    ["synth", "mos2-campaign", "--samples", "-3"],
    ["synth", "wse2-maps", "--pixels", "0"],
    ["synth", "tmd-materials", "--scale", "-1"],
    ["synth", "wse2-maps", "--out", "elsewhere"],  # the folder twice
])
def test_bad_arguments_one_line_exit_2(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(args + [str(tmp_path / "out")])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_unknown_material_is_input_error():
    from tmdlearn.errors import InputError
    from tmdlearn.synth.materials import material_state

    with pytest.raises(InputError, match="unknown material"):
        material_state("graphene", 0)
