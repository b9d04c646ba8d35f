"""`tmdlearn crossmodal`: AFM morphology from spectra; spectra across modalities."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.cli.common import CONFIG_OPTION, SET_OPTION, config_from_cli
from tmdlearn.errors import InputError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Predict AFM morphology from spectra; generate spectra across modalities."""


@app.command("run")
def run(
    config: Path | None = CONFIG_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    data: Path | None = typer.Option(None, "--data", "-d",
                                     help="Dataset folder with manifest.csv (data.folder)."),
    overrides: list[str] | None = SET_OPTION,
) -> None:
    """Regression, generation and read-out tables, figures and models on a paired dataset."""
    from tmdlearn.crossmodal.data import SpectrumGrid, load_pairs
    from tmdlearn.crossmodal.workflow import DEFAULTS, OPEN_KEYS, compute_image_features
    from tmdlearn.crossmodal.workflow import run as run_workflow
    from tmdlearn.learn import torch_threads

    started = time.time()
    cfg = config_from_cli(config, overrides, DEFAULTS, OPEN_KEYS)
    if data is not None:
        cfg["data"]["folder"] = str(data)
    d = cfg["data"]
    if not d.get("folder"):
        raise InputError("no dataset: give --data FOLDER or set data.folder", config)
    with torch_threads(cfg.get("threads") or None):
        pairs, filters = load_pairs(
            d["folder"], d["scan_size_um"], d["raman_power_mw"], d["pl_power_mw"],
            SpectrumGrid(tuple(d["raman_window_cm1"]), int(d["raman_points"]), "cm-1"),
            SpectrumGrid(tuple(d["pl_window_ev"]), int(d["pl_points"]), "eV"))
        emb = cfg["embedding"]
        compute_image_features(pairs, emb, cfg["device"], emb["cache_dir"] or out / "cache")
        storage = cfg["generation"]["storage"] or out / "optuna.db"
        outcome = run_workflow(pairs, cfg, storage=storage)
    _write(out, cfg, outcome, started, filters=filters, n_keys=len(pairs),
           n_samples=int(np.unique(pairs.groups).size))
    typer.echo(f"wrote {out / 'metrics.json'}")


def _write(out: Path, cfg: dict, outcome, started: float, **extra) -> None:
    import torch

    from tmdlearn.crossmodal.generate import Generator
    from tmdlearn.crossmodal.published import citation, note
    from tmdlearn.io.atomic import atomic_path
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_json, write_run_json
    from tmdlearn.report.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    for name, table in outcome.tables.items():
        write_table(table, out / "tables" / name)
    for name, fig in outcome.figures.items():
        save_figure(fig, out / "figures" / f"{name}.png")
    (out / "models").mkdir(exist_ok=True)
    for name, model in outcome.models.items():
        payload = model.state() if isinstance(model, Generator) else model
        with atomic_path(out / "models" / f"{name}.pt") as tmp:
            torch.save(payload, tmp)
    write_json(out / "metrics.json", outcome.metrics)
    with atomic_path(out / "published.md") as tmp:
        tmp.write_text(note(), encoding="utf-8")
    write_run_json(out, cfg, started, published=citation(), **outcome.info, **extra)


@app.command("predict")
def predict(
    files: list[Path] = typer.Argument(..., help="AFM height maps, Raman or PL spectra."),
    models: Path = typer.Option(..., "--models", "-m", help="A run folder of crossmodal run."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for predictions."),
) -> None:
    """Apply a run's saved models to new files: AFM → generated Raman/PL, Raman/PL → AFM
    embedding and features, Raman ↔ PL."""
    from tmdlearn.crossmodal.predict import load_run, predict_files
    from tmdlearn.io.atomic import atomic_path
    from tmdlearn.report.tables import write_table

    run_info = load_run(models)
    table, generated = predict_files(files, run_info)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "predictions")
    for name, (axis, values, unit) in generated.items():
        frame = pd.DataFrame({f"axis_{unit}": axis, "intensity": values})
        with atomic_path(out / "generated" / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    typer.echo(f"wrote {out / 'predictions.csv'} and {len(generated)} generated spectra")
