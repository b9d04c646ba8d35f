"""`tmdlearn afm`: Level AFM images, compute physical features and deep embeddings.

Inputs are files, folders (every AFM file inside, recursively) or a manifest (a folder holding
``manifest.csv``, or the CSV itself: its ``afm`` rows). Outputs (CSV + Markdown tables, PNG
figures, ``run.json``) go to ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from tmdlearn.cli import common
from tmdlearn.cli.common import CONFIG_OPTION, OVERWRITE_OPTION, SET_OPTION
from tmdlearn.report.outdir import prepare_out

app = typer.Typer(no_args_is_help=True)

INPUTS = typer.Argument(..., help="AFM files, folders, or a manifest (folder or manifest.csv).")
OUT = typer.Option(Path("afm-out"), "--out", "-o", help="Output folder.")
PIXEL_SIZE = typer.Option(None, "--pixel-size", help="data.pixel_size_nm: pixel size in nm "
                          "for files that store none (.npy, plain .tif); overrides the files'.")


@app.callback()
def _group() -> None:
    """Level AFM images, compute physical features and deep embeddings."""


def _run(stage: str, inputs: list[Path], out: Path, config: Path | None,
         overrides: list[str] | None, overwrite: bool, scheduler: str | None = None,
         workers: int | None = None, pixel_size: float | None = None):
    """The workflow's stage on the inputs, written to ``out``; returns the config and the
    Outcome (``scheduler``, ``workers``, ``pixel_size``: ``--scheduler``, ``--workers``,
    ``--pixel-size``). A note for every image whose file states no height unit (taken as
    nm)."""
    from tmdlearn.afm import workflow
    from tmdlearn.report.run import write_outcome

    started = time.time()
    cfg = common.engine_config(config, overrides, workflow.DEFAULTS, scheduler, workers)
    cfg["data"]["inputs"] = [str(p) for p in inputs]
    if pixel_size is not None:
        cfg["data"]["pixel_size_nm"] = pixel_size
    cfg["run"]["stage"] = stage
    prepare_out(out, overwrite)  # created by the first output: a bad input writes nothing
    if cfg["embed"]["cache"] is True:
        cfg["embed"]["cache"] = str(out / "cache")
    skipped: list = []
    items = workflow.load(cfg, skipped)
    for name, image in items:
        if str(getattr(image, "metadata", {}).get("unit_source", "")).startswith("assumed"):
            typer.echo(f"note: {name}: the file states no height unit: its values are taken "
                       "as nm", err=True)
    outcome = workflow.run(items, cfg)
    outcome.info["command"] = f"afm {stage}"
    outcome.info["skipped"] = [str(err) for err in skipped]
    write_outcome(out, outcome, cfg, started)
    return cfg, outcome



@app.command("level")
def level_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
              overrides: list[str] = SET_OPTION, overwrite: bool = OVERWRITE_OPTION,
              scheduler: str = common.SCHEDULER_OPTION,
              workers: int = common.WORKERS_OPTION, pixel_size: float = PIXEL_SIZE) -> None:
    """Level every image; write levelled .npz files, rms.csv/.md (raw vs levelled Sq, nm) and a
    preview PNG per image."""
    from tmdlearn.afm.twopass import ROUGH_SQ_NM

    cfg, outcome = _run("level", inputs, out, config, overrides, overwrite, scheduler,
                        workers, pixel_size)
    typer.echo(f"levelled {outcome.info['images']} image(s) into {out}")
    if cfg["level"]["method"] == "two-pass":
        for row in outcome.tables["rms"].itertuples():
            if not row.film_model:
                typer.echo(f"note: {row.image}: Sq {row.levelled_sq_nm:.3g} nm with its rows "
                           f"aligned, more than {ROUGH_SQ_NM:g} nm: no few-layer film, so "
                           "levelled by row alignment and a quadratic surface only", err=True)
    common.report_skipped(outcome)


@app.command("features")
def features_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
                 overrides: list[str] = SET_OPTION, overwrite: bool = OVERWRITE_OPTION,
                 scheduler: str = common.SCHEDULER_OPTION,
                 workers: int = common.WORKERS_OPTION,
                 pixel_size: float = PIXEL_SIZE) -> None:
    """Level every image and write its physical features to features.csv/.md (one row each)."""
    from tmdlearn.afm.workflow import rough_images

    cfg, outcome = _run("features", inputs, out, config, overrides, overwrite,
                        scheduler, workers, pixel_size)
    typer.echo(f"wrote {out / 'features.csv'} ({outcome.info['images']} image(s))")
    for line in rough_images(outcome.tables["features"], cfg["features"]["monolayer_nm"]):
        typer.echo(f"warning: {line}", err=True)
    common.report_skipped(outcome)


@app.command("embed")
def embed_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
              overrides: list[str] = SET_OPTION, overwrite: bool = OVERWRITE_OPTION,
              scheduler: str = common.SCHEDULER_OPTION,
              workers: int = common.WORKERS_OPTION, pixel_size: float = PIXEL_SIZE) -> None:
    """Level, embed with a pretrained CNN, reduce with UMAP and PCA, and correlate the axes
    with the physical features: embedding.csv, features.csv, correlations.csv/.md,
    thumbnails_umap.png, thumbnails_pca.png, correlations_umap.png, correlations_pca.png."""
    cfg, outcome = _run("embed", inputs, out, config, overrides, overwrite,
                        scheduler, workers, pixel_size)
    typer.echo(f"wrote {out / 'correlations.csv'} ({outcome.info['images']} images, "
               f"{cfg['embed']['backbone']})")
    common.report_skipped(outcome)
