"""`tmdlearn inspect` and `tmdlearn demo`, and the HTML report they write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tmdlearn.cli import app, main
from tmdlearn.report.html import write_report
from tmdlearn.report.tables import write_table


def _run(*args) -> str:
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return result.output


def test_inspect_prints_units(test_data):
    out = _run("inspect", test_data / "afm-bruker" / "di-1.di",
               test_data / "spectra-wse2mose2" / "WSe2_Raman.txt",
               test_data / "spectra-wse2mose2" / "MoSe2_PL.txt")
    assert "AFM image, channel height" in out and "pixel size 0.9766 nm" in out
    assert "scan size 0.5 x 0.5 µm" in out
    assert "Raman shift, cm-1 (inferred from range 0.01351-0.07508): 108.995 .. 605.537 cm-1" in out
    assert "photon energy, eV (inferred from range 1.181-2.068): 1.18091 .. 2.06836 eV" in out


def test_inspect_feature_table(tmp_path):
    np.savez(tmp_path / "features.npz", features=np.zeros((5, 3)), targets=np.array(list("abcde")))
    out = _run("inspect", tmp_path / "features.npz")
    assert "feature table (not an instrument file): features 5x3" in out


def test_inspect_several_files_one_bad(test_data, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(test_data / "afm-bruker" / "di-5.di"), str(tmp_path / "empty.txt")])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "ZSensor" in captured.out
    assert captured.err.strip() == f"error: {tmp_path / 'empty.txt'}: the file is empty"


def test_write_report_tables_and_linked_figures(tmp_path):
    import matplotlib.pyplot as plt

    from tmdlearn.report.figures import save_figure

    write_table(pd.DataFrame({"sample": ["A", "B"], "rms_nm": [1.25, 2.5]}), tmp_path / "t")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, tmp_path / "f.png")
    page = write_report(tmp_path, "Run <1>", [("Tables", ["intro & more", tmp_path / "t.md"]),
                                               ("Figures", ["f.png", "t.csv"])])
    text = page.read_text()
    assert "<title>Run &lt;1&gt;</title>" in text and "intro &amp; more" in text
    assert text.count("<table") == 2 and "<td>1.25</td>" in text
    assert "base64" not in text and "<img alt='f' src='f.png' loading='lazy'>" in text


def test_write_report_shows_a_long_text_as_a_paragraph(tmp_path):
    text = "A paragraph longer than any file name can be. " * 12      # > 255 bytes
    page = write_report(tmp_path, "Run", [("Notes", [text, "short / with slash"])])
    body = page.read_text()
    assert f"<p>{text}</p>" in body and "<p>short / with slash</p>" in body


def test_demo_writes_report(tmp_path):
    _run("demo", "--out", tmp_path / "run", "--step", "examples")
    run = tmp_path / "run"
    assert {"report.html", "inspect.csv", "inspect.md", "examples.png", "run.json"} <= {
        p.name for p in run.iterdir()}
    table = pd.read_csv(run / "inspect.csv")
    assert len(table) == 6 and table["content"].str.contains("Raman").sum() == 2
    assert "Example files" in (run / "report.html").read_text()


def test_demo_rejects_an_unknown_step(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "run"), "--step", "nonsense"])
    assert exit_info.value.code == 2
    assert "unknown demo step" in capsys.readouterr().err


@pytest.mark.slow
def test_full_demo_reports_every_workflow(tmp_path):
    _run("demo", "--out", tmp_path / "run")
    report = (tmp_path / "run" / "report.html").read_text()
    for heading in ("Embedded data", "Raman peak fitting", "AFM morphology", "Material "
                    "classification", "Gomb-Net", "Cross-modal learning",
                    "Explainable correlative spectroscopy"):
        assert heading in report
    assert report.count("<img") >= 10


def test_markdown_tables_show_missing_values_as_a_dash():
    from tmdlearn.report.tables import to_markdown

    table = pd.DataFrame({"model": ["ridge", None], "r2": [0.5, float("nan")]})
    rows = to_markdown(table).splitlines()
    assert rows[2] == "| ridge | 0.5 |" and rows[3] == "| — | — |"
