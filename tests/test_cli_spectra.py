"""`tmdlearn spectra fit|features` on real and planted files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app, main

RUNNER = CliRunner()


def test_fit_real_wse2_raman_with_figure(test_data, tmp_path):
    src = test_data / "spectra-wse2mose2"
    out = tmp_path / "fit.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", str(src / "WSe2_Raman.txt"),
                                 str(src / "MoSe2_Raman.txt"), "--model", "wse2-raman",
                                 "--out", str(out), "--figure", str(tmp_path / "fits.png")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table["source"]) == ["WSe2_Raman.txt", "MoSe2_Raman.txt"]
    assert (tmp_path / "fit.md").exists() and (tmp_path / "fits.png").stat().st_size > 10_000
    wse2 = table.iloc[0]
    assert wse2["converged"] and wse2["r2"] > 0.99
    assert wse2["A1p_center"] == pytest.approx(250.3, abs=0.5)  # the strongest line
    assert wse2["2LA_center"] == pytest.approx(257.5, abs=1.0)
    assert list(table.columns[-8:]) == ["r2", "rmse", "noise", "chi2", "converged", "status",
                                        "verdict", "reasons"]


def test_features_wse2_vectors(test_data, tmp_path):
    src = test_data / "spectra-wse2mose2"
    result = RUNNER.invoke(app, ["spectra", "features", str(src / "WSe2_Raman.txt"),
                                 "--model", "wse2-raman", "--out", str(tmp_path / "v.csv")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "v.csv")
    # source, spectrum, the study's 24 values, converged, verdict (of the main peaks: the
    # broad ~360 cm-1 band ending on M360's fwhm_max is a note, not a verdict)
    assert table.shape[1] == 2 + 24 + 2 and table["verdict"][0] == "ok"
    # M220 and M286 are not there (docs/spectra.md): their centre, FWHM and height are empty
    assert "1 feature vectors of 24 values (6 empty: a peak not there)" in result.output
    assert table.filter(regex="^(M220|M286)_").isna().all(axis=None)
    result = RUNNER.invoke(app, ["spectra", "features", str(src / "WSe2_PL.txt"),
                                 "--model", "wse2-pl", "--out", str(tmp_path / "pl.csv")])
    assert result.exit_code == 0, result.output
    pl = pd.read_csv(tmp_path / "pl.csv")
    assert pl["A_center"].iloc[0] == pytest.approx(1.61, abs=0.02)  # the PL maximum


def test_folder_manifest_and_config_overrides(tmp_path):
    x = np.linspace(340, 500, 321)
    rng = np.random.default_rng(0)
    folder = tmp_path / "spectra"
    folder.mkdir()
    for i, shift in enumerate((0.0, 1.0)):
        y = (80 / (1 + ((x - 385 - shift) / 2) ** 2) + 100 / (1 + ((x - 405 - shift) / 2.5) ** 2)
             + 15 / (1 + ((x - 455) / 6) ** 2) + 10 + rng.normal(0, 0.5, x.size))
        np.savetxt(folder / f"s{i}.txt", np.column_stack([x, y]))
    (tmp_path / "manifest.csv").write_text("sample,path\na,spectra/s1.txt\n")
    out = tmp_path / "out.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", str(folder), str(tmp_path / "manifest.csv"),
                                 "--model", "mos2-raman", "--out", str(out),
                                 "--set", "fit.dtype=float32",
                                 "--set", "preprocess.normalise=max"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table["source"]) == ["s0.txt", "s1.txt", "s1.txt"]
    np.testing.assert_allclose(table["split_A1g_E2g"], 20.0, atol=0.05)
    np.testing.assert_allclose(table["E2g_center"], [385, 386, 386], atol=0.05)
    assert np.all(table["A1g_height"] < 1.0)  # normalised to the maximum


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    for argv in (["spectra", "fit", str(tmp_path / "missing.txt"), "--model", "mos2-raman",
                  "--out", str(tmp_path / "o.csv")],
                 ["spectra", "fit", str(tmp_path), "--model", "no-such-model",
                  "--out", str(tmp_path / "o.csv")]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_verdicts_of_the_real_spectra(test_data, tmp_path):
    """MoSe2 Raman (A1g 241 cm-1) has no A1' band; WSe2 and HS Raman have it (ok), and their
    broad ~360 cm-1 band ends on M360's FWHM bound (30 cm-1): said, its values not to be
    trusted, but not a verdict on the spectrum (M360 is not a main peak)."""
    src = test_data / "spectra-wse2mose2"
    out = tmp_path / "fit.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", *(str(src / f"{m}_Raman.txt")
                                                     for m in ("WSe2", "MoSe2", "HS")),
                                 "--model", "wse2-raman", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "verdicts: ok 2, weak 0, absent 1, poor 0" in result.output
    assert "1 of 3 spectra: no A1p peak (ΔBIC ≤ 10)" in result.output
    assert "2 of 3 spectra: M360 FWHM at its upper bound 30 cm⁻¹" in result.output
    table = pd.read_csv(out)
    assert list(table["verdict"]) == ["ok", "absent", "ok"]
    assert table["reasons"][0] == table["reasons"][2] == "M360 FWHM at its upper bound 30 cm⁻¹"
    assert "bound" not in table["reasons"][1]  # the absent peaks' values are not judged
    assert np.isnan(table["split_2LA_A1p"][1]) and np.isfinite(table["split_2LA_A1p"][0])
    out = tmp_path / "pl.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", *(str(src / f"{m}_PL.txt")
                                                     for m in ("WSe2", "MoSe2", "HS")),
                                 "--model", "wse2-pl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    # MoSe2's A exciton (1.57 eV; 1.58 eV in the heterostructure, beside a weaker WSe2 one at
    # 1.64) is not WSe2's: the Gaussian ends on its centre bound
    assert list(table["verdict"]) == ["ok", "poor", "poor"]
    assert table["A_center"][0] == pytest.approx(1.612, abs=0.003)
    for reasons in table["reasons"][1:]:
        assert "A centre at its lower bound 1.59 eV" in reasons


def test_bad_pixels_of_a_map_get_a_verdict_not_an_error(tmp_path):
    x = np.linspace(340, 500, 321)
    rng = np.random.default_rng(1)
    good = (80 / (1 + ((x - 385) / 2) ** 2) + 100 / (1 + ((x - 405) / 2.5) ** 2) + 10
            + rng.normal(0, 0.5, x.size))
    rows = [good, np.zeros(x.size), np.full(x.size, 3.0), np.minimum(good, 40.0),
            10 + rng.normal(0, 0.5, x.size)]
    path = tmp_path / "spectra.csv"
    np.savetxt(path, np.column_stack([x, *rows]), delimiter=",")
    out = tmp_path / "out.csv"
    result = RUNNER.invoke(app, ["spectra", "fit", str(path), "--model", "mos2-raman",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table["verdict"]) == ["ok", "absent", "absent", "poor", "absent"]
    assert list(table["reasons"])[:3] == ["", "flat spectrum", "flat spectrum"]
    assert table["reasons"][3].startswith("saturated")
    assert "verdicts: ok 1, weak 0, absent 3, poor 1" in result.output
    result = RUNNER.invoke(app, ["spectra", "fit", str(path), "--model", "mos2-raman",
                                 "--out", str(out), "--set", "verdict.enabled=false"])
    assert result.exit_code == 0 and "verdict" not in pd.read_csv(out).columns


def test_an_output_table_that_would_replace_an_input_is_refused(test_data, tmp_path, capsys):
    """`spectra fit data.csv --out data.csv` replaced the measurement by the fit table."""
    data = tmp_path / "raman.csv"
    data.write_bytes((test_data / "spectra-wse2mose2" / "WSe2_Raman.txt").read_bytes())
    before = data.read_bytes()
    for command, out in (("fit", data), ("features", tmp_path / "raman")):
        with pytest.raises(SystemExit) as exit_info:
            main(["spectra", command, str(tmp_path), "--model", "wse2-raman", "--out", str(out)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("--out would replace one of the input files: choose another name")
    assert data.read_bytes() == before and not (tmp_path / "raman.md").exists()


def test_an_unreadable_file_of_a_folder_is_named_and_the_others_are_fitted(test_data, tmp_path,
                                                                          capsys):
    folder = tmp_path / "spectra"
    folder.mkdir()
    (folder / "WSe2_Raman.txt").write_bytes(
        (test_data / "spectra-wse2mose2" / "WSe2_Raman.txt").read_bytes())
    (folder / "notes.txt").write_text("measured on Tuesday, laser 532 nm\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["spectra", "fit", str(folder), "--model", "wse2-raman", "--out",
              str(tmp_path / "fits.csv")])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {folder / 'notes.txt'}: ")
    assert list(pd.read_csv(tmp_path / "fits.csv").verdict) == ["ok"]
    with pytest.raises(SystemExit) as exit_info:  # named itself, it stops the run
        main(["spectra", "fit", str(folder / "notes.txt"), "--model", "wse2-raman", "--out",
              str(tmp_path / "named.csv")])
    assert exit_info.value.code == 2 and not (tmp_path / "named.csv").exists()


def test_a_folder_of_raman_and_pl_files_fits_those_on_the_models_axis(test_data, tmp_path,
                                                                     capsys):
    """Raman and PL files side by side (as the shared folder holds them): a Raman model fits
    the Raman files and leaves the PL ones out with one warning line, exit code 0; a folder
    with nothing on the model's axis is an error."""
    folder = tmp_path / "spectra"
    folder.mkdir()
    for name in ("MoSe2_Raman.txt", "MoSe2_PL.txt", "WSe2_PL.txt"):
        (folder / name).write_bytes((test_data / "spectra-wse2mose2" / name).read_bytes())
    with pytest.raises(SystemExit) as exit_info:
        main(["spectra", "fit", str(folder), "--model", "mose2-raman", "--out",
              str(tmp_path / "fits.csv")])
    assert exit_info.value.code == 0
    table = pd.read_csv(tmp_path / "fits.csv")
    assert list(table.source) == ["MoSe2_Raman.txt"] and list(table.verdict) == ["ok"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: left out MoSe2_PL.txt, WSe2_PL.txt: the spectra "
                                  "are in eV but the model in cm-1: PL spectra?")
    (folder / "MoSe2_Raman.txt").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["spectra", "fit", str(folder), "--model", "mose2-raman", "--out",
              str(tmp_path / "none.csv")])
    assert exit_info.value.code == 2 and not (tmp_path / "none.csv").exists()
    assert "MoSe2_PL.txt: the spectra are in eV" in capsys.readouterr().err


@pytest.mark.parametrize("setting, words", [
    ("verdict.weak_snr=abc", "config key 'verdict.weak_snr' must be a number, got 'abc'"),
    ("read.excitation_nm=abc", "config key 'read.excitation_nm' must be a number"),
    ("fit.device=abc", "unknown device 'abc'"),
    ("data.include=[abc]", "has no optional peak ['abc']"),
])
def test_bad_config_values_are_one_line(test_data, tmp_path, capsys, setting, words):
    args = ["spectra", "fit", str(test_data / "spectra-wse2mose2" / "MoSe2_Raman.txt"),
            "--model", "mose2-raman", "--set", setting, "--set", "fit.backend=torch",
            "--out", str(tmp_path / "o.csv")]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert words in err and not (tmp_path / "o.csv").exists()


def test_optional_peaks_from_the_config_and_with_are_both_taken(test_data, tmp_path):
    """data.include (a config file or --set) and --with add up: the heterostructure's MoSe2
    A1g (241.3 cm⁻¹) is found beside the WSe2 band either way."""
    hetero = test_data / "spectra-wse2mose2" / "HS_Raman.txt"
    config = tmp_path / "hs.yaml"
    config.write_text("data:\n  include: [WSe2_Ep, WSe2_A1p]\n")
    for extra in (["--config", str(config), "--with", "WSe2_2LA"],
                  ["--set", "data.include=[WSe2_Ep,WSe2_A1p,WSe2_2LA]"]):
        out = tmp_path / "fit.csv"
        main_args = ["spectra", "fit", str(hetero), "--model", "mose2-raman", *extra,
                     "--out", str(out), "--overwrite"]
        with pytest.raises(SystemExit) as exit_info:
            main(main_args)
        assert exit_info.value.code in (0, None)
        row = pd.read_csv(out).iloc[0]
        assert row["verdict"] == "ok" and row["A1g_center"] == pytest.approx(241.3, abs=0.15)
        assert row["WSe2_2LA_center"] == pytest.approx(257.9, abs=1.0)


def test_a_file_covering_none_of_the_models_windows_is_one_line(test_data, tmp_path, capsys):
    """The bare-silicon Raman map (laser line in the file) fitted with a PL model: on the
    model's eV axis it covers 2.21-2.32 eV, none of mos2-pl's window 1.6-2.2 eV."""
    with pytest.raises(SystemExit) as exit_info:
        main(["spectra", "fit", str(test_data / "renishaw-wdf" / "Si-map.wdf"), "--model",
              "mos2-pl", "--out", str(tmp_path / "o.csv"), "--figure", str(tmp_path / "f.png")])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err
    assert "the spectra cover 2.21" in err and "none of its windows (1.6-2.2 eV)" in err
    assert "Raman spectra?" in err
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "f.png").exists()
