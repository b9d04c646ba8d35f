"""`tmdlearn classify`: Transfer-learning material classification from AFM."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.cli.common import CONFIG_OPTION, OVERWRITE_OPTION, SET_OPTION, config_from_cli
from tmdlearn.errors import InputError
from tmdlearn.report.outdir import prepare_out

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Transfer-learning material classification from AFM."""


@app.command("features")
def features(
    path: Path = typer.Argument(..., help="An .npz with arrays features, targets, sample_id."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
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
) -> None:
    """Compare classification heads on precomputed features (grouped CV by sample)."""
    from tmdlearn.classify.workflow import DEFAULTS, run_features

    started = time.time()
    cfg = config_from_cli(config, overrides, DEFAULTS)
    cfg["data"]["features"] = str(path)
    if heads:
        cfg["heads"] = list(heads)
    if tune is not None:
        cfg["tune"] = tune
    prepare_out(out, overwrite)
    outcome = _features_run(cfg, run_features)
    _write_run(out, cfg, outcome, started)


@app.command("run")
def run(
    config: Path | None = CONFIG_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    overwrite: bool = OVERWRITE_OPTION,
    overrides: list[str] | None = SET_OPTION,
) -> None:
    """Run the workflow of a config: strategies on AFM images (data.manifest or data.images)
    or heads on features (data.features)."""
    from tmdlearn.classify.workflow import DEFAULTS, run_features, run_images

    started = time.time()
    cfg = config_from_cli(config, overrides, DEFAULTS)
    prepare_out(out, overwrite)
    data = cfg["data"]
    if data.get("manifest"):
        loaded = _load_manifest(Path(data["manifest"]), data.get("target", "material"))
        outcome = run_images(*loaded[:3], cfg, pixel_size_nm=loaded[3], properties=loaded[4])
    elif data.get("images"):
        loaded = _load_images(Path(data["images"]))
        outcome = run_images(*loaded[:3], cfg, pixel_size_nm=loaded[3], properties=loaded[4])
    elif data.get("features"):
        outcome = _features_run(cfg, run_features)
    else:
        raise InputError("the config names no data: set data.manifest, data.images or "
                         "data.features",
                         config)
    _write_run(out, cfg, outcome, started)


def _features_run(cfg: dict, run_features):
    path = Path(cfg["data"]["features"])
    arrays = _load_npz(path, ("features", "targets", "sample_id"))
    if arrays["features"].ndim != 2 or len(arrays["features"]) != len(arrays["targets"]):
        raise InputError(f"features must be (N, D) with N = len(targets), got "
                         f"{arrays['features'].shape}", path)
    latent = None
    if cfg["data"].get("latent_features"):
        latent_path = Path(cfg["data"]["latent_features"])
        latent = _load_npz(latent_path, ("features",))["features"]
        if len(latent) != len(arrays["targets"]):
            raise InputError(f"{len(latent)} rows, {len(arrays['targets'])} expected",
                             latent_path)
    return run_features(arrays["features"], arrays["targets"], arrays["sample_id"], cfg,
                        latent_features=latent)


def _load_npz(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable .npz file ({err.__class__.__name__})", path) from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise InputError(f"missing arrays {missing} (has {sorted(arrays)})", path)
    n = len(arrays[required[0]])
    for key in ("targets", "sample_id"):
        if key in arrays and len(arrays[key]) != n:
            raise InputError(f"{key} has {len(arrays[key])} rows, {n} expected", path)
    return arrays


def _load_images(path: Path):
    """Height maps (N, H, W) in nm, targets, sample ids, the optional ``pixel_size_nm`` (one
    number or one per image) and, as a table, the other 1-D numeric arrays of length N
    (per-image properties for the latent analysis)."""
    arrays = _load_npz(path, ("heights", "targets", "sample_id"))
    heights = arrays.pop("heights").astype(np.float32)
    if heights.ndim != 3:
        raise InputError(f"heights must be (N, H, W) in nm, got {heights.shape}", path)
    targets, groups = arrays.pop("targets"), arrays.pop("sample_id")
    pixel_size = arrays.pop("pixel_size_nm", None)
    if pixel_size is not None and (pixel_size.size not in (1, len(heights))
                                   or not np.all(pixel_size > 0)):
        raise InputError("pixel_size_nm must be one positive number or one per image", path)
    properties = pd.DataFrame({key: value for key, value in arrays.items()
                               if value.shape == (len(heights),)
                               and np.issubdtype(value.dtype, np.number)})
    return (heights, targets, groups, None if pixel_size is None else pixel_size.ravel(),
            properties)


def _load_manifest(path: Path, target: str):
    """AFM height maps (nm) listed by a manifest, their classes (column ``target``), samples,
    pixel sizes (nm) and the varying numeric columns of the manifest (per-image properties for
    the latent analysis)."""
    from tmdlearn.io import open_dataset

    dataset = open_dataset(path).filter(modality="afm")
    if len(dataset) == 0:
        raise InputError("the manifest lists no afm rows", path)
    if target not in dataset.table.columns:
        raise InputError(f"no column {target!r} in the manifest (set data.target)", path)
    maps = [height_map for _, height_map in dataset]
    table = dataset.table
    numeric = table.select_dtypes("number")
    properties = numeric.loc[:, numeric.nunique() > 1].reset_index(drop=True)
    return ([m.height_nm for m in maps], table[target].to_numpy(dtype=str),
            table["sample_id"].to_numpy(dtype=str), np.array([m.pixel_size_nm for m in maps]),
            properties)


def _write_run(out: Path, cfg: dict, outcome, started: float) -> None:
    from tmdlearn.classify.saved import save_classifier
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_json, write_run_json
    from tmdlearn.report.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    for name, table in outcome.tables.items():
        write_table(table, out / "tables" / name)
    for name, figure in outcome.figures.items():
        save_figure(figure, out / "figures" / f"{name}.png")
    write_json(out / "metrics.json", outcome.metrics)
    for name, model in outcome.models.items():
        save_classifier(out / "models" / name, config=cfg, **model)
    write_run_json(out, cfg, started)
    best = outcome.metrics["best"]
    typer.echo(f"best: {best['model']}  accuracy {best['accuracy']:.3f}  balanced accuracy "
               f"{best['balanced_accuracy']:.3f}  -> {out}")


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
    class and the probability of each class per image."""
    from tmdlearn.classify.saved import load_classifier, predict_heights
    from tmdlearn.data import HeightMap
    from tmdlearn.io import read
    from tmdlearn.report.tables import write_table

    prepare_out(out, overwrite)
    tree, card = load_classifier(model, trust_mismatch)
    heights = []
    for path in images:
        item = read(path, **({"pixel_size_nm": pixel_size} if pixel_size else {}))
        if not isinstance(item, HeightMap):
            raise InputError(f"not an AFM height map ({type(item).__name__})", path)
        heights.append(item.height_nm)
    table = predict_heights(heights, tree, device)
    table.insert(0, "file", [str(p) for p in images])
    write_table(table, out / "predictions")
    typer.echo(f"{len(images)} images ({', '.join(tree['classes'])}) -> "
               f"{out / 'predictions.csv'}")
