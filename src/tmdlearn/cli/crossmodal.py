"""`tmdlearn crossmodal`: AFM morphology from spectra; spectra across modalities."""

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
    """Predict AFM morphology from spectra; generate spectra across modalities."""


@app.command("run")
def run(
    config: Path | None = CONFIG_OPTION,
    data: Path | None = typer.Option(None, "--data", "-d",
                                     help="Dataset folder with manifest.csv (data.folder)."),
    out: Path = common.RUN_OUT_OPTION,
    overwrite: bool = OVERWRITE_OPTION,
    storage: str | None = typer.Option(
        None, "--storage", help="Optuna storage: a SQLite file or a database URL (sqlite:///, "
        "postgresql://, mysql://); processes on one storage share the searches' trials "
        "(optuna.storage; default RUN/optuna.db)."),
    study: str | None = typer.Option(None, "--study", help="Prefix of the studies' names in "
                                     "the storage (optuna.study)."),
    overrides: list[str] | None = SET_OPTION,
    scheduler: str | None = common.SCHEDULER_OPTION,
    workers: int | None = common.WORKERS_OPTION,
) -> None:
    """Regression, generation and read-out tables, figures and models on a paired dataset."""
    from tmdlearn.crossmodal import workflow
    from tmdlearn.learn.tune import open_storage

    started = time.time()
    cfg = common.engine_config(config, overrides, workflow.DEFAULTS, scheduler, workers)
    if data is not None:
        cfg["data"]["folder"] = str(data)
    cfg["embedding"]["cache_dir"] = cfg["embedding"]["cache_dir"] or str(out / "cache")
    searches = cfg["optuna"]
    searches["study"] = study or searches["study"]
    searches["storage"] = storage or searches["storage"] or str(out / "optuna.db")
    if "://" in searches["storage"]:
        open_storage(searches["storage"])  # a database that does not answer: before the data
    common.run_workflow(workflow, cfg, out, overwrite, started)
    typer.echo(f"wrote {out / 'metrics.json'}")


@app.command("predict")
def predict(
    files: list[Path] = typer.Argument(..., help="AFM height maps, Raman or PL spectra."),
    models: Path = typer.Option(..., "--models", "-m", help="A run folder of crossmodal run."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for predictions."),
    trust_mismatch: bool = typer.Option(False, "--trust-mismatch", help="Load models whose "
                                        "weight files differ from the sha256 in their cards "
                                        "(with a warning)."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Apply a run's saved models to new files: AFM → generated Raman/PL, Raman/PL → AFM
    embedding and features, Raman ↔ PL.

    A file that cannot be read or used gets its error line and an ``error`` in its row of
    predictions.csv; the others are predicted, and the exit code is 2."""
    from tmdlearn.crossmodal.predict import predict as apply
    from tmdlearn.report.run import write_outcome

    started = time.time()
    prepare_out(out, overwrite)
    outcome = apply(files, models, trust_mismatch)
    cfg = {"files": [str(p) for p in files], "models": str(models),
           "trust_mismatch": trust_mismatch}
    write_outcome(out, outcome, cfg, started)
    typer.echo(f"wrote {out / 'predictions.csv'} and {outcome.metrics['generated']} generated "
               "spectra")
    table = outcome.tables["predictions"]
    for row in table.itertuples() if "warning" in table else ():
        if isinstance(row.warning, str) and row.warning:
            typer.echo(f"warning: {row.file}: {row.warning}", err=True)
    failed = table[table["error"].notna()] if "error" in table else table.iloc[:0]
    for row in failed.itertuples():
        typer.echo(f"error: {row.file}: {row.error}", err=True)
    if len(failed):
        raise typer.Exit(2)
