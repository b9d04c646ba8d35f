"""`tmdlearn inspect` and `tmdlearn demo`, and the HTML report they write."""

from __future__ import annotations

import json

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


def test_inspect_describes_an_image_without_a_pixel_size(tmp_path):
    """A bare array is described (size, values) with how to give its pixel size, exit 0."""
    image = np.arange(48 * 64, dtype=np.float32).reshape(48, 64)
    np.save(tmp_path / "haadf.npy", image)
    out = _run("inspect", tmp_path / "haadf.npy")
    assert "image without a pixel size (AFM or STEM)" in out
    assert "shape 48 x 64 pixels, values 0 .. 3071" in out
    assert "--pixel-size of the afm commands, stem predict or convert" in out
    np.savez(tmp_path / "gomb.npz", im_array=image.astype(np.uint16))  # Gomb-Net layout, no size
    out = _run("inspect", tmp_path / "gomb.npz")
    assert "image without a pixel size" in out and "shape 48 x 64 pixels" in out
    assert "the archive states no pixel size (keys: im_array 48x64)" in out
    assert "its lattice" not in out  # a ramp has none


def test_inspect_and_predict_say_what_the_lattice_of_an_image_without_a_size_suggests(
        tmp_path, capsys):
    """A simulated WS2 bilayer (planted pixel size) saved without its size: inspect and
    stem predict say the pixel size its lattice implies for WS2 (Vegard range 3.15-3.29 Å),
    which brackets the planted one to within the alloy's 4 %."""
    from tmdlearn.synth.stem import StemSimConfig, simulate_image

    sample = simulate_image(StemSimConfig(material="ws2", size_px=256, se_scenario="none"), 1)
    np.save(tmp_path / "ws2.npy", sample.image)
    out = _run("inspect", tmp_path / "ws2.npy")
    line = next(x for x in out.splitlines() if "its lattice (Fourier transform" in x)
    low, high = (float(v) for v in line.split("suggests ")[1].split(", ")[1].split(" Å")[0]
                 .split("-"))
    assert low * 0.98 <= sample.pixel_size_angstrom <= high * 1.02, (line, sample)
    with pytest.raises(SystemExit) as info:
        main(["stem", "predict", str(tmp_path / "ws2.npy"), "--material", "ws2", "--out",
              str(tmp_path / "p")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err
    assert "stores no pixel size" in err and f"{low:.3g}-{high:.3g} Å/px for a 2H TMD" in err


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


def test_report_lists_the_models_a_run_saved_and_loaded(tmp_path):
    """write_outcome's run.json names a model the run saved (a writer returning its folder)
    and one it loaded from outside; the report's "Models used" table shows both, paths
    relative to the report folder (absolute outside it), sha256 as in each card."""
    from functools import partial

    import torch

    from tmdlearn.io.digest import sha256
    from tmdlearn.models.card import make_card
    from tmdlearn.models.store import write_model
    from tmdlearn.outcome import Outcome
    from tmdlearn.report.run import write_outcome

    outside = write_model(tmp_path / "shared" / "net", {"w": torch.ones(3)},
                          make_card("stem", "atoms", material="ws2"))
    card = make_card("explain", "PL from Raman", material="WSe2")
    outcome = Outcome(files={"models/cnn": partial(write_model, tree={"w": torch.zeros(2)},
                                                   card=card),   # a writer returning a list:
                             "more": lambda p: [write_model(p / "a", {"w": torch.ones(1)}, card)]},
                      loaded_models=[outside])
    step = tmp_path / "report" / "step"
    write_outcome(step, outcome, {})
    models = json.loads((step / "run.json").read_text())["models"]
    assert [(m["path"], m["role"]) for m in models] == [(str(outside.resolve()), "loaded"),
                                                        ("models/cnn", "saved"),
                                                        ("more/a", "saved")]
    saved_sha = sha256(step / "models" / "cnn" / "weights.safetensors")
    assert models[1]["sha256"] == saved_sha and models[1]["material"] == "WSe2"
    page = write_report(tmp_path / "report", "Run", [("Step", ["text", "step/run.json"]),
                                                      ("Other", ["no models here"])])
    text = page.read_text()
    assert text.count("<h3>Models used</h3>") == 1
    table = text[text.index("<h3>Models used</h3>"):text.index("<h2>Other</h2>")]
    assert "<td>step/models/cnn</td><td>saved</td><td>explain</td>" in table
    assert f"<td>{outside.resolve().as_posix()}</td><td>loaded</td><td>stem</td>" in table
    assert f"<code title='{saved_sha}'>{saved_sha[:12]}</code>" in table


def test_demo_writes_report(tmp_path):
    _run("demo", "--out", tmp_path / "run", "--step", "examples")
    run = tmp_path / "run"
    assert {"report.html", "inspect.csv", "inspect.md", "examples.png", "run.json"} <= {
        p.name for p in run.iterdir()}
    table = pd.read_csv(run / "inspect.csv")
    assert len(table) == 6 and table["content"].str.contains("Raman").sum() == 2
    assert "Example files" in (run / "report.html").read_text()


def test_demo_steps_run_apart_are_reported_together(tmp_path, capsys):
    """`--step examples`, then `--step data` into the same folder: the report holds both
    sections, in the demo's order; a step that reads the datasets without them is one line."""
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "run"), "--step", "afm"])
    assert exit_info.value.code == 2
    assert "run the data step too (--step data)" in capsys.readouterr().err
    _run("demo", "--out", tmp_path / "run", "--step", "examples")
    _run("demo", "--out", tmp_path / "run", "--step", "data")
    report = (tmp_path / "run" / "report.html").read_text()
    assert report.index("Embedded data") < report.index("Example files")


def test_synth_refuses_another_dataset_folder(tmp_path, capsys):
    """`synth wse2-maps` into a `synth mos2-campaign` folder mixed the two datasets under one
    manifest; it is refused in one line (exit 2) unless --overwrite, and a rerun of the same
    dataset into its folder is fine."""
    for _ in range(2):
        with pytest.raises(SystemExit) as exit_info:
            main(["synth", "mos2-campaign", "--small", str(tmp_path / "a")])
        assert exit_info.value.code in (0, None)
    before = (tmp_path / "a" / "manifest.csv").read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "wse2-maps", "--small", str(tmp_path / "a")])
    assert exit_info.value.code == 2
    assert "run folder of `tmdlearn synth mos2-campaign`" in capsys.readouterr().err
    assert (tmp_path / "a" / "manifest.csv").read_text() == before


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


def test_every_commands_help_has_its_paragraphs_on_one_line_each():
    """typer rewraps only a help's first paragraph: the others kept the docstring's breaks."""
    import typer

    def commands(group, path=()):
        for name, command in getattr(group, "commands", {}).items():
            yield path + (name,), command
            yield from commands(command, path + (name,))

    helps = {" ".join(path): command.help or "" for path, command in
             commands(typer.main.get_command(app))}
    assert "stem predict" in helps and "inspect" in helps
    broken = [path for path, text in helps.items()
              if any("\n" in paragraph for paragraph in text.split("\n\n"))]
    assert broken == []
