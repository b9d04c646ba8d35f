"""`tmdlearn classify`: Transfer-learning material classification from AFM."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from tmdlearn.cli import common
from tmdlearn.cli.common import CONFIG_OPTION, OVERWRITE_OPTION, SET_OPTION
from tmdlearn.report.outdir import prepare_out

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Transfer-learning material classification from AFM."""


@app.command("features")
def features(
    path: Path = typer.Argument(..., help="An .npz with arrays features, targets, sample_id."),
    out: Path = common.RUN_OUT_OPTION,
    overwrite: bool = OVERWRITE_OPTION,
    heads: list[str] | None = typer.Option(
        None, "--head", help="Head to compare (repeatable): logreg, svm, mlp, lda, knn, mlp-bag "
        "(5 MLPs), selected (the per-fold inner-CV pick among the others). Default: the "
        "config's heads."),
    tune: bool | None = typer.Option(
        None, "--tune/--no-tune", help="Pick the feature transform and hyper-parameters in inner "
        "grouped 3-fold CV of each training fold (nested). Default: the config's tune."),
    config: Path | None = CONFIG_OPTION,
    overrides: list[str] | None = SET_OPTION,
    scheduler: str | None = common.SCHEDULER_OPTION,
    workers: int | None = common.WORKERS_OPTION,
) -> None:
    """Compare classification heads on precomputed features (grouped CV by sample)."""
    from tmdlearn.classify import workflow

    started = time.time()
    cfg = common.engine_config(config, overrides, workflow.DEFAULTS, scheduler, workers)
    cfg["data"].update(features=str(path), manifest=None, images=None)
    if heads:
        cfg["heads"] = list(heads)
    if tune is not None:
        cfg["tune"] = tune
    _report(common.run_workflow(workflow, cfg, out, overwrite, started), out)


def _report(outcome, out: Path) -> None:
    """The best head and its accuracies."""
    best = outcome.metrics["best"]
    typer.echo(f"best by balanced accuracy: {best['model']}  balanced accuracy "
               f"{best['balanced_accuracy']:.3f}  accuracy {best['accuracy']:.3f}  -> {out}")


common.add_run_command(
    app, "tmdlearn.classify.workflow", "Run the workflow of a config: strategies on AFM images "
    "(data.manifest or data.images) or heads on features (data.features).", _report)


@app.command("predict")
def predict(
    images: list[Path] = typer.Argument(..., help="AFM height maps (any format tmdlearn reads)."),
    model: Path = typer.Option(..., "--model", "-m", help="A saved classifier: "
                               "RUN/models/classifier of `classify run` on images."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for predictions.csv."),
    overwrite: bool = OVERWRITE_OPTION,
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in nm, for "
                                     "arrays that store none (.npy)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    trust_mismatch: bool = typer.Option(False, "--trust-mismatch", help="Load a model whose "
                                        "files differ from the sha256 in its card (with a "
                                        "warning)."),
) -> None:
    """Apply a saved classifier to new AFM images: OUT/predictions.csv with the predicted
    class and the probability of each class per image; an image far from the training scale
    is refused (docs/models.md)."""
    from tmdlearn.classify.saved import predict as apply
    from tmdlearn.report.run import write_outcome

    started = time.time()
    prepare_out(out, overwrite)
    outcome = apply(images, model, device, pixel_size, trust_mismatch)
    cfg = {"images": [str(p) for p in images], "model": str(model), "pixel_size_nm": pixel_size,
           "device": device, "trust_mismatch": trust_mismatch}
    write_outcome(out, outcome, cfg, started)
    typer.echo(f"{len(images)} images ({', '.join(outcome.metrics['classes'])}) -> "
               f"{out / 'predictions.csv'}")
