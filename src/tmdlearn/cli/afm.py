"""`tmdlearn afm`: Level AFM images, compute physical features and deep embeddings.

Inputs are files, folders (every AFM file inside, recursively) or a manifest (a folder holding
``manifest.csv``, or the CSV itself: its ``afm`` rows). Outputs (CSV + Markdown tables, PNG
figures, ``run.json``) go to ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.afm.workflow import DEFAULTS
from tmdlearn.cli.common import CONFIG_OPTION, SET_OPTION, config_from_cli
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError
from tmdlearn.progress import track

app = typer.Typer(no_args_is_help=True)

INPUTS = typer.Argument(..., help="AFM files, folders, or a manifest (folder or manifest.csv).")
OUT = typer.Option(Path("afm-out"), "--out", "-o", help="Output folder.")
_ARRAY_SUFFIXES = (".npz", ".npy", ".tif", ".tiff")


@app.callback()
def _group() -> None:
    """Level AFM images, compute physical features and deep embeddings."""


def _afm_files(folder: Path) -> list[Path]:
    from tmdlearn.io.afm import AFM_FORMATS, NANOSCOPE_NUMBERED

    suffixes = set(AFM_FORMATS) | set(_ARRAY_SUFFIXES)
    return sorted(p for p in folder.rglob("*") if p.is_file() and (
        p.suffix.lower() in suffixes or NANOSCOPE_NUMBERED.match(p.suffix)))


def collect(inputs: list[Path]) -> list[tuple[str, HeightMap]]:
    """(name, height map) for every AFM image the inputs name, in order."""
    from tmdlearn.data.manifest import Dataset
    from tmdlearn.io import read

    items: list[tuple[str, HeightMap]] = []
    for path in inputs:
        if path.is_dir() and (path / "manifest.csv").is_file() or path.suffix.lower() == ".csv":
            dataset = Dataset.open(path).filter(modality="afm")
            for row, image in track(dataset, "reading", total=len(dataset)):
                items.append((str(row["file"]), image))
            continue
        if path.is_dir():
            files = _afm_files(path)
            if not files:
                raise InputError("no AFM files in this folder", path)
            names = [str(f.relative_to(path)) for f in files]
        elif path.exists():
            files, names = [path], [path.name]
        else:
            raise InputError("no such file or folder", path)
        for name, file in track(list(zip(names, files, strict=True)), "reading"):
            image = read(file, modality="afm")
            if not isinstance(image, HeightMap):
                raise InputError("not an AFM height map", file)
            items.append((name, image))
    if not items:
        raise InputError("no AFM images in the inputs")
    return items


def _level_all(items, cfg: dict) -> list[HeightMap]:
    from tmdlearn.afm.batch import map_images
    from tmdlearn.afm.level import level

    return map_images(lambda item: level(item[1], **cfg["level"]), items, cfg["run"]["workers"],
                      "levelling")


def _start(out: Path, config: Path | None, overrides: list[str] | None):
    cfg = config_from_cli(config, overrides, DEFAULTS)
    out.mkdir(parents=True, exist_ok=True)
    return cfg, time.time()


def _features(levelled, names, cfg) -> pd.DataFrame:
    from tmdlearn.afm.morphology import features_table

    table = features_table(levelled, names, cfg["run"]["workers"], **cfg["features"])
    return table.reset_index()


@app.command("level")
def level_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
              overrides: list[str] = SET_OPTION) -> None:
    """Level every image; write levelled .npz files, rms.csv/.md (raw vs levelled Sq, nm) and a
    preview PNG per image."""
    from tmdlearn.afm.level import plane_fit
    from tmdlearn.io import write_height_map
    from tmdlearn.report.figures import plt, save_figure
    from tmdlearn.report.run import write_run_json
    from tmdlearn.report.tables import write_table

    cfg, started = _start(out, config, overrides)
    items = collect(inputs)
    levelled = _level_all(items, cfg)
    rows = []
    for (name, raw), flat in zip(items, levelled, strict=True):
        stem = Path(name).with_suffix("").as_posix().replace("/", "__")
        write_height_map(out / "levelled" / f"{stem}.npz", flat)
        fig, axes = plt.subplots(1, 2, figsize=(8, 4))
        axes[0].imshow(plane_fit(raw.height_nm), cmap="afmhot")
        axes[0].set_title("raw (plane removed)")
        low, high = np.nanpercentile(flat.height_nm, [1, 99])
        axes[1].imshow(flat.height_nm, cmap="afmhot", vmin=low, vmax=high)
        axes[1].set_title(f"levelled ({low:.2g} to {high:.2g} nm)")
        for ax in axes:
            ax.axis("off")
        save_figure(fig, out / "previews" / f"{stem}.png", dpi=100)
        rows.append({"image": name, "pixels": "x".join(map(str, raw.shape)),
                     "pixel_size_nm": raw.pixel_size_nm,
                     "raw_sq_nm": float(np.nanstd(raw.height_nm)),
                     "levelled_sq_nm": float(np.nanstd(flat.height_nm))})
    write_table(pd.DataFrame(rows), out / "rms")
    write_run_json(out, cfg, started, command="afm level", images=len(items))
    typer.echo(f"levelled {len(items)} image(s) into {out}")


@app.command("features")
def features_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
                 overrides: list[str] = SET_OPTION) -> None:
    """Level every image and write its physical features to features.csv/.md (one row each)."""
    from tmdlearn.report.run import write_run_json
    from tmdlearn.report.tables import write_table

    cfg, started = _start(out, config, overrides)
    items = collect(inputs)
    table = _features(_level_all(items, cfg), [n for n, _ in items], cfg)
    write_table(table, out / "features")
    write_run_json(out, cfg, started, command="afm features", images=len(items))
    typer.echo(f"wrote {out / 'features.csv'} ({len(table)} image(s))")


@app.command("embed")
def embed_cmd(inputs: list[Path] = INPUTS, out: Path = OUT, config: Path = CONFIG_OPTION,
              overrides: list[str] = SET_OPTION) -> None:
    """Level, embed with a pretrained CNN, reduce with UMAP and PCA, and correlate the axes
    with the physical features: embedding.csv, features.csv, correlations.csv/.md,
    thumbnails_umap.png, thumbnails_pca.png, correlations_umap.png, correlations_pca.png."""
    from tmdlearn.afm.embed import axis_correlations, embed, reduce
    from tmdlearn.afm.figures import correlation_heatmap, thumbnail_map
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_run_json
    from tmdlearn.report.tables import write_table

    cfg, started = _start(out, config, overrides)
    e = cfg["embed"]
    items = collect(inputs)
    if len(items) < 4:
        raise InputError(f"embedding analysis needs at least 4 images, got {len(items)}")
    names = [n for n, _ in items]
    levelled = _level_all(items, cfg)
    features = _features(levelled, names, cfg)
    vectors = embed(levelled, e["backbone"], e["batch_size"], e["device"],
                    out / "cache" if e["cache"] else None, e["weights"], e["size"], e["clip_nm"])
    methods = [e["methods"]] if isinstance(e["methods"], str) else list(e["methods"])
    coords = {m: reduce(vectors, m, 2, e["n_neighbors"], e["seed"]) for m in methods}
    embedding = pd.DataFrame({"image": names})
    tables = []
    for method, xy in coords.items():
        axes = [f"{method}_1", f"{method}_2"]
        embedding[axes[0]], embedding[axes[1]] = xy[:, 0], xy[:, 1]
        corr = axis_correlations(xy, features.drop(columns="image"), axes, e["n_boot"],
                                 seed=e["seed"])
        tables.append(corr)
        label = "UMAP" if method == "umap" else "PC"
        save_figure(thumbnail_map(xy, [m.height_nm for m in levelled], e["clip_nm"],
                                  axis_names=(f"{label} 1", f"{label} 2")),
                    out / f"thumbnails_{method}.png")
        save_figure(correlation_heatmap(corr), out / f"correlations_{method}.png")
    write_table(embedding, out / "embedding")
    write_table(features, out / "features")
    write_table(pd.concat(tables, ignore_index=True), out / "correlations")
    write_run_json(out, cfg, started, command="afm embed", images=len(items),
                   feature_dim=int(vectors.shape[1]))
    typer.echo(f"wrote {out / 'correlations.csv'} ({len(items)} images, {e['backbone']})")
