"""`tmdlearn models`: show a saved model's card; convert old pickle-based model files once."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tmdlearn.errors import InputError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Saved models: show their cards, convert old files."""


@app.command("show")
def show(path: Path = typer.Argument(..., help="A model folder (or its model.json).")) -> None:
    """Print a model's card, then check its files against the card's sha256 (exit 2 if a
    file was changed or is missing)."""
    from tmdlearn.models.card import read_card, verify
    from tmdlearn.models.store import model_folder

    folder = model_folder(path)
    card = read_card(folder)
    typer.echo(json.dumps(card, indent=2))
    verify(folder, card)
    typer.echo(f"{folder}: {len(card['files'])} files match the card")


@app.command("convert")
def convert(
    old: Path = typer.Argument(..., help="An old .pt model file of tmdlearn, or a folder (a run "
                               "folder, the weights folder) whose .pt files to convert."),
    out: Path = typer.Argument(None, help="The model folder to write (default: OLD without "
                               ".pt; for a folder, each file's beside it)."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists (e.g. after "
                               "retraining a model whose old file is newer)."),
) -> None:
    """Convert tmdlearn's old pickle-based model files to model folders (safetensors, JSON,
    skops and a model.json card). Only the structures tmdlearn wrote are read, with torch's
    restricted unpickler; anything else is refused (exit 2) without running it. The old files
    are kept."""
    if old.is_dir():
        files = sorted(p for p in old.rglob("*.pt") if force or not p.with_suffix("").exists())
        if not files:
            raise InputError("no old .pt model files to convert here", old)
        for path in files:
            _convert_file(path, path.with_suffix(""), force)
        return
    _convert_file(old, out or old.with_suffix(""), force)


def _convert_file(old: Path, out: Path, force: bool) -> None:
    from tmdlearn.crossmodal.saved import old_classes
    from tmdlearn.models.convert import base_globals, read_old

    if out.exists() and not force:
        raise InputError("already exists: give another OUT, or --force to replace it", out)
    obj = read_old(old, base_globals() + old_classes())
    kind = _write(obj, old, out)
    typer.echo(f"{old} ({kind}) -> {out}")


def _write(obj, old: Path, out: Path) -> str:
    """Write the converted model of a known old structure; its kind in words."""
    keys = set(obj) if isinstance(obj, dict) else set()
    if keys == {"unet", "state_dict", "meta"}:
        from tmdlearn.models.unet import UNet
        from tmdlearn.stem.modelstore import save_model

        model = UNet(**obj["unet"])
        model.load_state_dict(obj["state_dict"])
        save_model(out, model, obj["meta"])
        return "STEM model"
    if {"model", "optimizer", "step", "history", "config"} <= keys:
        from tmdlearn.stem.train import save_checkpoint

        save_checkpoint(out, obj)
        return "STEM training checkpoint"
    if {"settings", "renderer", "state_dict", "n_inputs"} <= keys:
        from tmdlearn.explain.regressor import RamanPLRegressor

        RamanPLRegressor.from_state(obj, device="cpu").save(out)
        return "explain CNN"
    from tmdlearn.crossmodal.saved import save_models

    run_json = old.parent.parent / "run.json"
    if not run_json.is_file():
        raise InputError("not a known tmdlearn model structure (a crossmodal model needs its "
                         "run folder's run.json for its grids)", old)
    config = json.loads(run_json.read_text(encoding="utf-8"))["config"]
    metrics_json = old.parent.parent / "metrics.json"
    metrics = json.loads(metrics_json.read_text()) if metrics_json.is_file() else {}
    save_models(out.parent, {out.name: obj}, config, metrics)
    return "crossmodal model"
