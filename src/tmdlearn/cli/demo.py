"""`tmdlearn demo`: run every workflow's demo step on the shipped data and write a report.

The demo is an ordered list of steps; it reads only what ships with the package (the
workflows' defaults and :mod:`tmdlearn.examples`), so it runs from an installed wheel. Each
step takes the run folder, writes its tables and figures there and returns one report section
``(heading, items)``; a workflow adds itself by appending one function to ``STEPS``. A step
lists the ``run.json`` of each run that saved or loaded a model: the report shows those
models in a "Models used" table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.cli import spectra, synth
from tmdlearn.cli.common import OVERWRITE_OPTION
from tmdlearn.errors import InputError
from tmdlearn.examples import example_path
from tmdlearn.report.html import Section
from tmdlearn.report.outdir import prepare_out

#: The shipped instrument files the examples step reads (:mod:`tmdlearn.examples`).
EXAMPLE_FILES = ("afm-bruker/di-1.di", "afm-bruker/di-5.di",
                 "spectra-wse2mose2/WSe2_Raman.txt", "spectra-wse2mose2/WSe2_PL.txt",
                 "spectra-wse2mose2/MoSe2_Raman.txt", "spectra-wse2mose2/MoSe2_PL.txt")


def inspect_examples(out: Path) -> Section:
    """Read the shipped example files; a table of what they hold and one figure."""
    from tmdlearn.cli.inspect import describe
    from tmdlearn.io import read
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.tables import write_table

    paths = {name: example_path(name) for name in EXAMPLE_FILES}
    items = {name: read(path) for name, path in paths.items()}
    rows = []
    for name in EXAMPLE_FILES:
        first, *details = describe(paths[name])
        rows.append({"file": name, "content": first.split(": ", 1)[1],
                     "details": "; ".join(line.strip() for line in details)})
    table = pd.DataFrame(rows)
    write_table(table, out / "inspect")

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    hm = items["afm-bruker/di-1.di"]
    size_um = hm.scan_size_um
    image = axes[0].imshow(hm.height_nm - np.median(hm.height_nm), cmap="afmhot",
                           extent=(0, size_um, size_um, 0))
    fig.colorbar(image, ax=axes[0], label="height (nm)")
    axes[0].set(title="di-1.di (raw height)", xlabel="x (µm)", ylabel="y (µm)")
    for name in ("WSe2", "MoSe2"):
        raman, pl = items[f"spectra-wse2mose2/{name}_Raman.txt"], \
            items[f"spectra-wse2mose2/{name}_PL.txt"]
        axes[1].plot(raman.axis, raman.intensity[0], label=name)
        axes[2].plot(pl.axis, pl.intensity[0], label=name)
    axes[1].set(title="Raman", xlabel="Raman shift (cm⁻¹)", ylabel="counts")
    axes[2].set(title="Photoluminescence", xlabel="photon energy (eV)", ylabel="counts")
    for ax in axes[1:]:
        ax.legend()
    save_figure(fig, out / "examples.png")
    return ("Example files", ["The instrument files shipped with tmdlearn (tmdlearn.examples), "
                              "read with tmdlearn.io.read.", Path("inspect.md"),
                              Path("examples.png")])


def _run(args: list[str]) -> None:
    """Run a ``tmdlearn`` sub-command writing into the demo's folder, in this process (its
    errors propagate)."""
    from tmdlearn.cli import app

    args = [*args, "--overwrite"]  # the demo's --out was checked: its steps may rewrite
    typer.main.get_command(app).main(args=[str(a) for a in args], prog_name="tmdlearn",
                                      standalone_mode=False)


def _outputs(folder: Path, out: Path, names: tuple[str, ...]) -> list[Path]:
    """The named files of a step's folder that exist, relative to the run folder."""
    return [(folder / n).relative_to(out) for n in names if (folder / n).is_file()]


def afm_step(out: Path) -> Section:
    """AFM features and EfficientNet-Lite0 embedding of the campaign's 1 µm scans."""
    folder = out / "afm"
    scans = sorted((out / "data" / "mos2-campaign" / "afm").glob("*_1um.npz"))
    _run(["afm", "embed", *scans, "--out", folder])
    return ("AFM morphology and embedding", [
        "Levelled 1 µm scans of the campaign: physical features, EfficientNet-Lite0 embedding "
        "reduced with UMAP and PCA, and every axis correlated with every feature (`tmdlearn "
        "afm embed`).", *_outputs(folder, out, ("thumbnails_umap.png", "correlations_umap.png",
                                                "correlations.md"))])


def classify_step(out: Path) -> Section:
    """Material classification: real ResNet18 features, then the synthetic image set."""
    real, images = out / "classify-real", out / "classify-images"
    features = example_path("tmd-afm-features/resnet18_imagenet_512.npz")
    _run(["classify", "features", features, "--out", real, "--set", "heads=[logreg,svm]",
          "--set", "tune=false", "--set", "soft_vote=[]", "--set", "cv.n_boot=200"])
    _run(["classify", "run", "--out", images,
          "--set", f"data.manifest={out / 'data' / 'tmd-materials'}",
          "--set", "strategies=[frozen,finetune-last]", "--set", "image.size=96",
          "--set", "image.epochs=2", "--set", "cv.n_splits=3", "--set", "cv.n_boot=200"])
    return ("Material classification", [
        "Real AFM features of 1026 images (626 samples), stratified grouped 5-fold CV; demo "
        "settings: heads logreg and svm without the nested tuning, 200 bootstrap resamples. "
        "Baselines: guessing scores 0.20 balanced accuracy (five classes); always answering "
        "the largest class (MoS2, 476 of 1026 images) scores 0.46 accuracy:",
        *_outputs(real, out, ("tables/comparison.md", "figures/comparison.png")),
        "Synthetic five-material AFM crops, frozen backbone vs fine-tuning the last block. "
        "Demo settings, far below the study's: 96 px crops, 2 fine-tuning epochs, 3 folds — "
        "the two strategies' difference here is not a finding (`tmdlearn classify run -c "
        "configs/classify.yaml` runs the full comparison):",
        *_outputs(images, out, ("tables/comparison.md", "figures/confusion_frozen_logreg.png",
                                "figures/latent_correlation.png", "run.json"))])


def _stem_verdict(folder: Path) -> str:
    """The self-check verdict of one `stem predict` output folder, as a report sentence."""
    import json

    quality = json.loads((folder / "quality.json").read_text())
    reasons = "; ".join(quality["reasons"][:2]) or "every check passed"
    return (f"Self-check of this prediction (quality.json): {quality['trust']} (score "
            f"{quality['score']:.2f}): {reasons}.")


def stem_step(out: Path) -> Section:
    """Gomb-Net: the shipped graphene model on a typical simulated twisted-bilayer image and on
    a hard one (a strongly aberrated probe, a hole), where the self-check says so."""
    folder = out / "stem"
    for name, seed in (("sim", 0), ("sim-hard", 7)):
        _run(["stem", "simulate", "--out", folder / name, "--n-train", 0, "--n-val", 0,
              "--n-test", 1, "--tif", 1, "--seed", seed])
    from tmdlearn.io import read

    image = folder / "sim" / "test_0.tif"
    _run(["stem", "predict", image, "--out", folder / "predict"])
    _run(["stem", "predict", folder / "sim-hard" / "test_0.tif", "--out",
          folder / "predict-hard"])
    _run(["stem", "analyze", folder / "predict" / "atoms.csv",
          "--pixel-size", read(image).pixel_size_angstrom,
          "--out", folder / "analysis", "--n-boot", 200])
    _run(["stem", "simulate", "--out", folder / "sim-ws2", "--material", "ws2", "--n-train", 0,
          "--n-val", 0, "--n-test", 1, "--tif", 1, "--seed", 7, "--se-scenario", "layer"])
    _run(["stem", "predict", folder / "sim-ws2" / "test_0.tif", "--material", "ws2",
          "--out", folder / "predict-ws2"])
    return ("Gomb-Net (HAADF-STEM)", [
        "Per-layer atoms found by the shipped graphene model in a simulated twisted bilayer:",
        _stem_verdict(folder / "predict"),
        *_outputs(folder, out, ("predict/overlay.png", "predict/render.png",
                                "analysis/lattice.md", "analysis/bond_histogram.png",
                                "analysis/order_parameter.png")),
        "The same model on a hard simulated image (a strongly aberrated probe, a hole in the "
        "bilayer): it misses most of one layer, and its self-check says so:",
        _stem_verdict(folder / "predict-hard"),
        *_outputs(folder, out, ("predict-hard/overlay.png",)),
        "W, S2, SSe and Se2 columns per layer found by the shipped WS2 model (Se in one layer):",
        _stem_verdict(folder / "predict-ws2"),
        *_outputs(folder, out, ("predict-ws2/overlay.png", "predict/run.json",
                                "predict-ws2/run.json"))])


def crossmodal_step(out: Path) -> Section:
    """Cross-modal regression and AFM -> Raman generation on the campaign (demo size)."""
    folder = out / "crossmodal"
    _run(["crossmodal", "run", "--data", out / "data" / "mos2-campaign", "--out", folder,
          "--set", "generation.tasks=[afm->raman]",
          "--set", "generation.folds=2", "--set", "regression.mlp.trials=1"])
    return ("Cross-modal learning", [
        "AFM embedding and features predicted from Raman and PL; Raman generated from AFM. "
        "Demo settings: 40 samples (16 held out), one MLP search trial, 2 generation folds, "
        "one generation task. Table 3's r2_cv column (grouped CV on the training samples) "
        "picks each target's model without the test set (metrics.json: "
        "..._cv_chosen_r2_test_mean); its 'best' figures pick it on the test set and are "
        "optimistic (metrics.json also holds each fixed model's mean); the "
        "bootstrap intervals come from 16 test samples and are wide where a target is mostly "
        "zero (bilayer fraction). Units: Raman shifts and splits in cm⁻¹, PL energies and "
        "widths in eV, heights in nm, coverage and fractions 0-1.",
        *_outputs(folder, out, ("tables/table3_regression.md", "figures/scatter_raman.png",
                                "tables/table4_generation.md",
                                "figures/generated_afm_to_raman.png",
                                "tables/table6_readouts.md", "run.json"))])


def explain_step(out: Path) -> Section:
    """Raman -> PL CNN on the embedded WSe2 flake maps, read with PDP and ICE slopes."""
    folder = out / "explain"
    _run(["explain", "run", "--out", folder,
          "--set", "data.synth={seed: 0, pixels: 48, shape: triangle}"])
    return ("Explainable correlative spectroscopy", [
        "A 1D CNN predicts the PL peak from the eight Raman peaks of each pixel of the embedded "
        "WSe2 flake (resonant 2.33 eV and non-resonant 1.96 eV maps), is scored on a 7:3 split "
        "with an overfitting verdict, retrained on all pixels and read with partial dependence "
        "and ICE slopes (`tmdlearn explain run`). Headline figures per pair (R² of the PL "
        "position, FWHM and intensity; MAPE in %; ICE slopes in PL counts per Raman count). "
        "A pair whose `overfit` is True has a train-validation gap above 0.1: its PDP ranks "
        "and ICE slopes are not to be read:",
        *_outputs(folder, out, ("tables/metrics.md", "figures/fig2_resonant.png",
                                "figures/fig3_resonant.png", "figures/fig2_nonresonant.png",
                                "run.json"))])


#: Where each step's report section is kept (a rerun of some steps reports all).
SECTIONS = "report-sections"
#: The steps that read the data step's datasets (OUT/data).
NEEDS_DATA = ("spectra", "afm", "classify", "crossmodal")
#: The demo, in order; each workflow adds its step.
STEPS: dict[str, Callable[[Path], Section]] = {
    "data": synth.demo_step,
    "examples": inspect_examples,
    "spectra": spectra.demo_step,
    "afm": afm_step,
    "classify": classify_step,
    "stem": stem_step,
    "crossmodal": crossmodal_step,
    "explain": explain_step,
}


def demo(
    out: Path = typer.Option(Path("demo-output"), help="Run folder to write."),
    overwrite: bool = OVERWRITE_OPTION,
    steps: list[str] = typer.Option(None, "--step", help=f"Run only these steps (repeatable): "
                                    f"{', '.join(STEPS)}."),
) -> None:
    """Run every workflow on the embedded data and write a report."""
    from tmdlearn.progress import track
    from tmdlearn.report.html import write_report
    from tmdlearn.report.run import write_run_json

    chosen = list(steps or STEPS)
    unknown = [name for name in chosen if name not in STEPS]
    if unknown:
        raise InputError(f"unknown demo step(s) {unknown}: choose from {list(STEPS)}")
    needing = [name for name in chosen if name in NEEDS_DATA]
    if needing and "data" not in chosen and not (out / "data").is_dir():
        raise InputError(f"demo step(s) {needing} read the demo's datasets in {out / 'data'}: "
                         "run the data step too (--step data), or the whole demo")
    started = time.time()
    prepare_out(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for name in track(chosen, "demo"):
        _save_section(out, name, STEPS[name](out))
    write_run_json(out, {"steps": chosen}, started)
    sections = [_load_section(out, name) for name in STEPS
                if (out / SECTIONS / f"{name}.json").is_file()]
    report = write_report(out, "tmdlearn demo", sections)
    typer.echo(f"wrote {report}")


def _save_section(out: Path, name: str, section: Section) -> None:
    """A step's report section kept as OUT/report-sections/NAME.json, so that a later run of
    other steps into the folder reports them all."""
    from tmdlearn.io.atomic import write_json

    heading, items = section
    write_json(out / SECTIONS / f"{name}.json", {"heading": heading, "items": [
        {"file": str(item)} if isinstance(item, Path) else {"text": item} for item in items]})


def _load_section(out: Path, name: str) -> Section:
    """The section :func:`_save_section` kept for step ``name``."""
    import json

    saved = json.loads((out / SECTIONS / f"{name}.json").read_text(encoding="utf-8"))
    return saved["heading"], [Path(item["file"]) if "file" in item else item["text"]
                              for item in saved["items"]]
