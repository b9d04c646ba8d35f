"""The MoSe2 presets (`mose2-raman`, `mose2-pl`): planted spectra recovered, the real MoSe2,
WSe2/MoSe2 heterostructure and WSe2 spectra of tests/data/spectra-wse2mose2 (the same files as
../shared/data/spectra-wse2mose2, committed with their license) fitted through the API and
the command line, and the other presets' answers on those files unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app
from tmdlearn.errors import InputError
from tmdlearn.io import read
from tmdlearn.spectra import PRESETS, fit_peaks, load_model

RUNNER = CliRunner()
WITH_WSE2 = ["--with", "WSe2_Ep", "--with", "WSe2_A1p", "--with", "WSe2_2LA"]


def lorentzian(x, h, c, w):
    return h[:, None] / (1.0 + (2.0 * (x[None, :] - c[:, None]) / w[:, None]) ** 2)


def gaussian(x, h, c, w):
    return h[:, None] * np.exp(-4.0 * np.log(2.0) * ((x[None, :] - c[:, None]) / w[:, None]) ** 2)


def _real(test_data, name):
    return read(test_data / "spectra-wse2mose2" / name)


def _fit_cli(tmp_path, files, model, *extra):
    out = tmp_path / f"{model}.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", *map(str, files), "--model", model,
                                 "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, keep_default_na=False, na_values=[""])


def test_presets_declare_the_literature_lines():
    assert {"mose2-raman", "mose2-pl"} <= set(PRESETS)
    raman = load_model("mose2-raman")
    assert raman.unit == "cm-1" and [p.name for p in raman.peaks] == ["A1g", "E2g", "B2g"]
    assert all(p.shape == "lorentzian" for p in raman.peaks)
    centres = {p.name: p.center for p in raman.peaks}
    assert centres == {"A1g": 241.0, "E2g": 287.0, "B2g": 353.0}
    # the monolayer A1g (241) and the few-layer one (242-243) are inside, WSe2's A1' (250) not
    low, high = raman.peaks[0].center_bounds
    assert low <= 239.0 and 243.5 <= high < 248.0
    assert raman.verdict["main"] == ["A1g"]
    assert [f["name"] for f in raman.features] == ["split_E2g_A1g", "ratio_E2g_A1g",
                                                   "ratio_B2g_A1g"]
    hetero = load_model("mose2-raman", ["WSe2_Ep", "WSe2_A1p", "WSe2_2LA"])
    assert [p.name for p in hetero.regions[0].peaks] == ["A1g", "WSe2_Ep", "WSe2_A1p",
                                                         "WSe2_2LA"]
    pl = load_model("mose2-pl")
    assert pl.unit == "eV" and [p.name for p in pl.peaks] == ["A"]
    assert pl.peaks[0].shape == "gaussian" and pl.peaks[0].center == 1.57
    # the WSe2 A exciton (1.61-1.65 eV) lies outside the MoSe2 A exciton's bounds
    assert pl.peaks[0].center_bounds[1] <= 1.61
    assert pl.vector == ("A_center", "A_fwhm", "A_height")
    assert [p.name for p in load_model("mose2-pl", ["B", "WSe2_A"]).peaks] == ["A", "WSe2_A",
                                                                               "B"]
    with pytest.raises(InputError, match="mose2-raman"):
        load_model("mose2-ramen")


def _planted_raman(n, layers, seed):
    """MoSe2 Raman on a 0.5 cm⁻¹ axis (as the real files): A1g, E2g and, from the bilayer on,
    B2g1, on a sloped background with Gaussian noise (σ 3 counts)."""
    rng = np.random.default_rng(seed)
    x = np.arange(200.0, 400.0, 0.5)
    truth = {"A1g_center": 241.0 + 1.5 * (layers - 1) + rng.normal(0, 0.5, n),
             "A1g_fwhm": rng.uniform(2.0, 3.5, n), "A1g_height": rng.uniform(400, 1000, n),
             "E2g_center": 287.0 - 1.0 * (layers - 1) + rng.normal(0, 0.5, n),
             "E2g_fwhm": rng.uniform(4.0, 6.0, n), "E2g_height": rng.uniform(40, 80, n),
             "B2g_center": 353.0 + rng.normal(0, 0.5, n), "B2g_fwhm": rng.uniform(3.0, 5.0, n),
             "B2g_height": rng.uniform(60, 120, n) * (layers > 1)}
    y = 50.0 + 0.05 * (x - 300.0)[None, :] + rng.normal(0, 3.0, (n, x.size))
    for name in ("A1g", "E2g", "B2g"):
        y = y + lorentzian(x, truth[f"{name}_height"], truth[f"{name}_center"],
                           truth[f"{name}_fwhm"])
    return x, y, truth


@pytest.mark.parametrize("layers", [1, 2])
def test_planted_raman_recovered_and_b2g_tells_the_layers(layers):
    x, y, truth = _planted_raman(120, layers, seed=layers)
    table = fit_peaks(y, "mose2-raman", x, progress=False).table()
    assert table["converged"].all() and (table["verdict"] == "ok").all()
    for name, centre_tol in (("A1g", 0.02), ("E2g", 0.15)):
        error = table[f"{name}_center"] - truth[f"{name}_center"]
        assert np.median(np.abs(error)) < centre_tol, name
        assert np.max(np.abs(error)) < 8 * centre_tol, name
        width = table[f"{name}_fwhm"] / truth[f"{name}_fwhm"] - 1
        assert np.median(np.abs(width)) < (0.01 if name == "A1g" else 0.05), name
    split = table["split_E2g_A1g"] - (truth["E2g_center"] - truth["A1g_center"])
    assert np.median(np.abs(split)) < 0.15
    present = table["B2g_present"].astype(bool)
    if layers == 1:   # B2g1 is not Raman-active in the monolayer: never reported
        assert not present.any() and table["B2g_center"].isna().all()
        assert table["ratio_B2g_A1g"].isna().all()
    else:
        assert present.all()
        error = table["B2g_center"] - truth["B2g_center"]
        assert np.median(np.abs(error)) < 0.1 and np.max(np.abs(error)) < 0.5
        ratio = table["ratio_B2g_A1g"] / (truth["B2g_height"] / truth["A1g_height"]) - 1
        assert np.median(np.abs(ratio)) < 0.05


def test_planted_pl_recovered_with_and_without_the_b_exciton():
    rng = np.random.default_rng(7)
    n = 120
    x = np.linspace(1.3, 2.0, 1401)
    truth = {"A_center": 1.57 + rng.normal(0, 0.008, n), "A_fwhm": rng.uniform(0.045, 0.07, n),
             "A_height": rng.uniform(800, 1500, n), "B_center": 1.78 + rng.normal(0, 0.01, n),
             "B_fwhm": rng.uniform(0.08, 0.12, n), "B_height": rng.uniform(80, 150, n)}
    y = 60.0 + 40.0 * (x - 1.6)[None, :] + rng.normal(0, 5.0, (n, x.size))
    for name in ("A", "B"):
        y = y + gaussian(x, truth[f"{name}_height"], truth[f"{name}_center"],
                         truth[f"{name}_fwhm"])
    for include in ([], ["B"]):
        table = fit_peaks(y, load_model("mose2-pl", include), x, progress=False).table()
        assert table["converged"].all() and (table["verdict"] == "ok").all()
        assert np.median(np.abs(table["A_center"] - truth["A_center"])) < 0.0005
        assert np.max(np.abs(table["A_center"] - truth["A_center"])) < 0.003
        assert np.median(np.abs(table["A_fwhm"] / truth["A_fwhm"] - 1)) < 0.02
        assert np.median(np.abs(table["A_height"] / truth["A_height"] - 1)) < 0.02
    assert table["B_present"].astype(bool).all()
    assert np.median(np.abs(table["B_center"] - truth["B_center"])) < 0.005
    assert np.median(np.abs(table["B_fwhm"] / truth["B_fwhm"] - 1)) < 0.1


def test_real_mose2_raman(test_data):
    """Monolayer MoSe2: A1g 241.4 cm⁻¹ (literature 240.5-241.5 in 1L), the weak E2g 288, no
    B2g1 (a monolayer), an ok verdict."""
    row = fit_peaks(_real(test_data, "MoSe2_Raman.txt"), "mose2-raman",
                    progress=False).table().iloc[0]
    assert row["verdict"] == "ok", row["reasons"]
    assert 239.0 <= row["A1g_center"] <= 245.0
    assert row["A1g_center"] == pytest.approx(241.36, abs=0.1)
    assert row["A1g_fwhm"] == pytest.approx(2.1, abs=0.3)
    assert row["E2g_present"] and row["E2g_center"] == pytest.approx(288.1, abs=1.0)
    assert row["split_E2g_A1g"] == pytest.approx(46.7, abs=1.0)
    assert not row["B2g_present"] and np.isnan(row["ratio_B2g_A1g"])
    assert row["r2"] > 0.98


def test_real_raman_on_the_command_line(test_data, tmp_path):
    """The heterostructure's MoSe2 A1g sits beside WSe2's far stronger E'/A1' band: without
    the optional WSe2 lines that band is not modelled and A1g is not found (absent); with them
    A1g is 241.3 cm⁻¹ and the fit ok. WSe2 itself has no A1g."""
    src = test_data / "spectra-wse2mose2"
    files = [src / f"{m}_Raman.txt" for m in ("MoSe2", "HS", "WSe2")]
    table = _fit_cli(tmp_path, files, "mose2-raman")
    assert list(table["verdict"]) == ["ok", "absent", "absent"]
    assert table["A1g_center"][0] == pytest.approx(241.36, abs=0.1)
    # the misfit is where WSe2's band is (E' 248, A1' 250.5 cm⁻¹), and the reasons say which
    # optional lines would take it
    at = float(table["reasons"][1].split("largest at ")[1].split(" ")[0])
    assert 248.0 <= at <= 252.0
    assert ("misfit where WSe2_Ep / WSe2_A1p would be (--with WSe2_Ep --with WSe2_A1p)"
            in table["reasons"][1])
    assert table["verdict"][0] == "ok" and pd.isna(table["reasons"][0])
    hetero = _fit_cli(tmp_path, files[1:2], "mose2-raman", *WITH_WSE2).iloc[0]
    assert hetero["verdict"] == "ok", hetero["reasons"]
    assert 239.0 <= hetero["A1g_center"] <= 245.0
    assert hetero["A1g_center"] == pytest.approx(241.3, abs=0.15)
    assert hetero["WSe2_A1p_center"] == pytest.approx(250.4, abs=0.3)
    assert hetero["WSe2_2LA_center"] == pytest.approx(257.9, abs=1.0)
    assert not hetero["B2g_present"]
    # on bare MoSe2 the WSe2 lines shrink onto their bounds: a note, not a verdict; judged as
    # one band (as wse2-raman's E'/A1'), not even a note
    plain = _fit_cli(tmp_path, files[:1], "mose2-raman", *WITH_WSE2).iloc[0]
    assert plain["verdict"] == "ok" and "WSe2_Ep FWHM at its lower bound" in plain["reasons"]
    both = _fit_cli(tmp_path, files[:2], "mose2-raman", *WITH_WSE2,
                    "--set", "verdict.unresolved=[[WSe2_Ep,WSe2_A1p]]")
    assert list(both["verdict"]) == ["ok", "ok"]
    assert "WSe2_Ep" not in str(both["reasons"][0])
    assert both["A1g_center"][0] == pytest.approx(241.36, abs=0.1)
    wse2 = _fit_cli(tmp_path, files[2:], "mose2-raman", *WITH_WSE2).iloc[0]
    assert wse2["verdict"] != "ok"   # the WSe2 band is there, an MoSe2 A1g is not
    result = RUNNER.invoke(app, ["spectra", "features", str(files[0]), "--model",
                                 "mose2-raman", "--out", str(tmp_path / "v.csv")])
    assert result.exit_code == 0, result.output
    vectors = pd.read_csv(tmp_path / "v.csv")
    assert vectors.shape[1] == 2 + 5 + 2 and vectors["verdict"][0] == "ok"


def test_real_pl(test_data, tmp_path):
    """MoSe2 A exciton 1.569 eV (literature ~1.57); in the heterostructure 1.58 eV beside the
    WSe2 A exciton 1.64 eV (--with WSe2_A); WSe2's own PL (1.61 eV) is not taken for it."""
    src = test_data / "spectra-wse2mose2"
    files = [src / f"{m}_PL.txt" for m in ("MoSe2", "HS", "WSe2")]
    table = _fit_cli(tmp_path, files, "mose2-pl")
    assert list(table["verdict"]) == ["ok", "ok", "poor"]
    assert table["reasons"][2] == "A centre at its upper bound 1.61 eV"
    assert 1.52 <= table["A_center"][0] <= 1.62
    assert table["A_center"][0] == pytest.approx(1.569, abs=0.003)
    assert table["A_fwhm"][0] == pytest.approx(0.056, abs=0.005)
    hetero = _fit_cli(tmp_path, files[1:2], "mose2-pl", "--with", "WSe2_A").iloc[0]
    assert hetero["verdict"] == "ok", hetero["reasons"]
    assert hetero["A_center"] == pytest.approx(1.580, abs=0.005)
    assert hetero["WSe2_A_center"] == pytest.approx(1.641, abs=0.01)
    row = fit_peaks(_real(test_data, "MoSe2_PL.txt"), load_model("mose2-pl", ["B"]),
                    progress=False).table().iloc[0]
    assert row["verdict"] == "ok" and row["B_present"]
    assert row["A_center"] == pytest.approx(table["A_center"][0], abs=1e-4)
    assert 1.72 < row["B_center"] < 1.82


def test_the_wse2_presets_answer_as_before_on_mose2(test_data):
    """Adding the MoSe2 presets changes nothing for wse2-raman / wse2-pl on the MoSe2 files."""
    raman = fit_peaks(_real(test_data, "MoSe2_Raman.txt"), "wse2-raman",
                      progress=False).table().iloc[0]
    assert raman["verdict"] == "absent"
    assert raman["reasons"].startswith("no A1p peak (ΔBIC ≤ 10)")
    assert raman["r2"] == pytest.approx(0.367, abs=0.005)
    pl = fit_peaks(_real(test_data, "MoSe2_PL.txt"), "wse2-pl", progress=False).table().iloc[0]
    assert pl["verdict"] == "poor" and "A centre at its lower bound 1.59 eV" in pl["reasons"]
