"""`tmdlearn stem`: Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.cli.common import CONFIG_OPTION, SET_OPTION, config_from_cli
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.progress import track

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    material: str = typer.Option("graphene", help="graphene or ws2."),
    n_train: int = typer.Option(100, help="Training images."),
    n_val: int = typer.Option(20, help="Validation images."),
    n_test: int = typer.Option(20, help="Test images."),
    size: int = typer.Option(256, help="Image size in pixels."),
    pixel_size: float = typer.Option(0.1, help="Nominal pixel size in Å (jittered)."),
    se_scenario: str = typer.Option("random", help="none, sublayer, layer, both or random."),
    microscope: str = typer.Option("real", help="real: aberrated probe, scan distortion, "
                                   "detector, contamination (docs/stem.md); ideal: Airy "
                                   "probe and Poisson noise only."),
    seed: int = typer.Option(0, help="Seed: same seed, same images."),
    tif: int = typer.Option(0, help="Also write the first TIF test images as OUT/test_K.tif."),
) -> None:
    """Simulate twisted-bilayer HAADF images with per-layer labels and true atom positions.

    Writes OUT/{train,val,test}.npz (image (N, ny, nx) counts, labels (N, layers*species, ny, nx),
    pixel_size_angstrom (N,)) and OUT/{split}_atoms.csv (image, x_px, y_px, layer, species, n_se).
    """
    from tmdlearn.data.containers import StemImage
    from tmdlearn.io import write_stem
    from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

    if microscope not in ("real", "ideal"):
        raise InputError(f"--microscope must be real or ideal, got {microscope!r}")
    real = {"microscope": {}, "atom_sigma_angstrom": (0.1, 0.25)} if microscope == "real" else {}
    cfg = StemSimConfig(material=material, size_px=size, pixel_size_angstrom=pixel_size,
                        se_scenario=se_scenario, **real)
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        if count <= 0:
            continue
        images, labels, pixels, tables = [], [], [], []
        for k in track(range(count), f"simulating {split}"):
            s = simulate_image(cfg, split_seed(seed, split, k))
            images.append(s.image)
            labels.append(s.labels.reshape(-1, size, size))
            pixels.append(s.pixel_size_angstrom)
            tables.append(s.atoms.assign(image=k))
            if split == "test" and k < tif:
                write_stem(out / f"test_{k}.tif", StemImage(s.image, s.pixel_size_angstrom))
        with atomic_path(out / f"{split}.npz") as tmp:
            np.savez_compressed(tmp, image=np.stack(images),
                                labels=np.stack(labels).astype(np.uint8),
                                pixel_size_angstrom=np.array(pixels),
                                species=np.array(cfg.species))
        atoms = pd.concat(tables, ignore_index=True)
        atoms["species"] = np.array(cfg.species)[atoms["species"]]
        with atomic_path(out / f"{split}_atoms.csv") as tmp:
            atoms[["image", "x_px", "y_px", "layer", "species", "n_se"]].to_csv(tmp, index=False)
        typer.echo(f"{split}: {count} images -> {out / f'{split}.npz'}")


@app.command("train")
def train_command(
    config: Path = CONFIG_OPTION,
    out: Path = typer.Option(Path("runs/stem"), "--out", "-o", help="Run folder."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint.pt."),
    overrides: list[str] = SET_OPTION,
) -> None:
    """Train Gomb-Net (or a U-Net baseline) on simulated images; see configs/stem-*.yaml.

    Writes OUT/model.pt (best validation mean IoU), OUT/checkpoint.pt, OUT/history.csv and
    OUT/run.json.
    """
    import time

    from tmdlearn.report.run import write_run_json
    from tmdlearn.stem.train import DEFAULTS, train

    started = time.time()
    cfg = config_from_cli(config, overrides, DEFAULTS)
    final = train(cfg, out, resume=resume, log=typer.echo)
    write_run_json(out, cfg, started, validation=final)
    typer.echo(f"model -> {out / 'model.pt'}")


def _check_single_channel(path: Path) -> None:
    """Refuse colour images before the reader averages their channels."""
    suffix = path.suffix.lower()
    shape = None
    try:
        if suffix == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        elif suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
    except (OSError, ValueError):
        return  # the reader reports unreadable files
    if shape is not None and len(shape) == 3 and shape[-1] in (3, 4):
        raise InputError(f"colour (RGB) image of shape {shape}: HAADF-STEM needs the "
                         "single-channel detector image", path)


def _predict_one(path: Path, out: Path, net, meta: dict, pixel_size: float | None,
                 threshold: str | float, lattice: bool, views: int, prior: float,
                 tile: int = 0) -> dict:
    """Atoms, masks, overlay and self-check (quality.json, render.png) of one image into
    ``out``; returns its summary row (with the verdict: trust, score, main reason)."""
    from tmdlearn.io import read
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_json
    from tmdlearn.stem.figures import overlay_figure, render_figure
    from tmdlearn.stem.inference import identify_atoms
    from tmdlearn.stem.quality import assess

    if path.is_file():
        _check_single_channel(path)
    stem_image = read(path, modality="stem", pixel_size_angstrom=pixel_size)
    atoms, masks = identify_atoms(stem_image, net, meta, threshold, lattice, views, prior,
                                  tile)
    with atomic_path(out / "atoms.csv") as tmp:
        atoms.to_csv(tmp, index=False)
    with atomic_path(out / "masks.npz") as tmp:
        np.savez_compressed(tmp, masks=masks.astype(np.uint8), species=np.array(meta["species"]),
                            pixel_size_angstrom=stem_image.pixel_size_angstrom)
    quality = assess(stem_image.intensity, atoms, stem_image.pixel_size_angstrom,
                     str(meta.get("material", "graphene")), int(meta["layers"]))
    write_json(out / "quality.json", {"file": path.name, **quality.to_dict()})
    fig = overlay_figure(stem_image.intensity, atoms, masks, stem_image.pixel_size_angstrom,
                         quality)
    save_figure(fig, out / "overlay.png")
    save_figure(render_figure(quality), out / "render.png")
    counts = atoms.groupby("layer").size()
    return {"file": path.name, "pixel_size_angstrom": stem_image.pixel_size_angstrom,
            "atoms": len(atoms),
            **{f"atoms_layer{k}": int(counts.get(k, 0)) for k in range(int(meta["layers"]))},
            "trust": quality.trust, "score": round(quality.score, 4),
            "main_reason": quality.main_reason}


def _warn_untrusted(row: dict, where: Path) -> None:
    """One warning line (stderr) for a prediction the self-check does not call ok."""
    if row["trust"] != "ok":
        typer.echo(f"warning: {where}: prediction {row['trust']} (score {row['score']:.2f}): "
                   f"{row['main_reason']}", err=True)


@app.command()
def predict(
    image: Path = typer.Argument(..., help="HAADF image (.tif, .npy, .npz, .dm3/.dm4/.emd), or "
                                 "a folder of them."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in Å (overrides "
                                     "the file's)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    model: Path = typer.Option(None, help="Model file (default: the shipped one)."),
    material: str = typer.Option("graphene", help="Shipped model to use when --model is not "
                                 "given."),
    threshold: str = typer.Option("logit0", help="logit0, otsu or a probability."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    lattice: bool = typer.Option(True, "--lattice/--no-lattice", help="Move atoms to the layer "
                                 "whose honeycomb they sit on."),
    views: int = typer.Option(1, help="Average the model over 1, 2 or 4 mirror images "
                              "(test-time augmentation; 4 is slower and a little more accurate)."),
    lattice_prior: float = typer.Option(0.0, "--lattice-prior", help="Pull each atom this "
                                        "fraction (0-1) of the way to its layer's fitted "
                                        "honeycomb site and repaint the masks there; for "
                                        "rigid lattices (it flattens mild strain alike; layers "
                                        "far from a honeycomb are left as found)."),
    tile: int = typer.Option(1024, help="Predict images larger than this many model pixels "
                             "per side in overlapping tiles of this size (bounds memory; 0: "
                             "always the whole image at once)."),
) -> None:
    """Find atoms layer by layer: OUT/atoms.csv (x_px, y_px, layer, species), masks, overlay,
    and a self-check OUT/quality.json (trust ok | doubtful | fail, score, reasons) with the
    rendered image OUT/render.png; a prediction not ok prints a warning (exit code 0).

    For a folder, every image goes to OUT/<file name>/ and OUT/summary.csv counts the atoms
    and gives each image's trust, score and main reason.
    """
    from tmdlearn.io.stem import STEM_FORMATS
    from tmdlearn.stem.inference import TILE_OVERLAP_PX, load_model

    if threshold not in ("logit0", "otsu"):
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(
                f"threshold must be logit0, otsu or a number, got {threshold!r}") from None
        if not 0 < threshold < 1:
            raise InputError(f"threshold probability must be in (0, 1), got {threshold}")
    if pixel_size is not None and not pixel_size > 0:
        raise InputError(f"--pixel-size must be positive, got {pixel_size}", image)
    if not 0 <= lattice_prior <= 1:
        raise InputError(f"--lattice-prior must be in [0, 1], got {lattice_prior}")
    if tile != 0 and tile < 2 * TILE_OVERLAP_PX:
        raise InputError(f"--tile must be 0 or at least {2 * TILE_OVERLAP_PX} px, got {tile}")
    net, meta = load_model(model, material, device)
    if not image.is_dir():
        row = _predict_one(image, out, net, meta, pixel_size, threshold, lattice, views,
                           lattice_prior, tile)
        layers = " / ".join(str(v) for k, v in row.items() if k.startswith("atoms_layer"))
        typer.echo(f"{row['atoms']} atoms ({layers} per layer), trust {row['trust']} (score "
                   f"{row['score']:.2f}) -> {out / 'atoms.csv'}")
        _warn_untrusted(row, image)
        return
    files = sorted(p for p in image.iterdir() if p.is_file() and p.suffix.lower() in STEM_FORMATS)
    if not files:
        raise InputError(f"no STEM images ({', '.join(STEM_FORMATS)})", image)
    rows = [_predict_one(path, out / path.name, net, meta, pixel_size, threshold, lattice, views,
                         lattice_prior, tile)
            for path in track(files, "finding atoms")]
    with atomic_path(out / "summary.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    trusted = sum(r["trust"] == "ok" for r in rows)
    typer.echo(f"{len(files)} images, {sum(r['atoms'] for r in rows)} atoms, {trusted} ok -> "
               f"{out / 'summary.csv'}")
    for path, row in zip(files, rows, strict=True):
        _warn_untrusted(row, path)


@app.command()
def analyze(
    atoms_csv: Path = typer.Argument(..., help="atoms.csv from `tmdlearn stem predict`."),
    pixel_size: float = typer.Option(..., "--pixel-size", help="Pixel size in Å."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    material: str = typer.Option("graphene", help="graphene or ws2."),
    masks: Path = typer.Option(None, help="masks.npz beside atoms.csv (for the map size)."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples of the KDEs."),
    a_ws2: float = typer.Option(3.153, help="WS2 lattice constant, Å (Vegard)."),
    a_wse2: float = typer.Option(3.282, help="WSe2 lattice constant, Å (Vegard)."),
    bond_max: float = typer.Option(None, "--bond-max", help="Leave nearest-neighbour distances "
                                   "above this (Å) out of the bond mean and FWHM (default: "
                                   "none, as the Gomb-Net study)."),
    undistort: bool = typer.Option(True, "--undistort/--no-undistort", help="Remove the "
                                   "anisotropic scan distortion both layers' honeycombs share "
                                   "before measuring lattice constants and bonds (for "
                                   "unstrained layers)."),
    seed: int = typer.Option(0),
) -> None:
    """Bond lengths, lattice constant per layer, Vegard Se fraction, moiré maps, KDEs.

    Writes OUT/lattice.{csv,md}, OUT/bonds.{csv,md} (the Gomb-Net study's bond statistic: two
    nearest neighbours of every atom, C–C or W–X, mean and FWHM per layer and pooled),
    OUT/analysis.json and figures.
    """
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_json
    from tmdlearn.report.tables import write_table
    from tmdlearn.stem.analysis import analyse_atoms
    from tmdlearn.stem.figures import bond_histogram_figure, kde_figure, order_parameter_figure

    if not pixel_size > 0:
        raise InputError(f"--pixel-size must be positive, got {pixel_size}")
    if material not in ("graphene", "ws2"):
        raise InputError(f"material must be graphene or ws2, got {material!r}")
    try:
        atoms = pd.read_csv(atoms_csv)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read atoms table ({err.__class__.__name__})", atoms_csv) from None
    missing = {"x_px", "y_px", "layer", "species"} - set(atoms.columns)
    if missing:
        raise InputError(f"atoms table lacks columns {sorted(missing)}", atoms_csv)
    masks = masks or atoms_csv.parent / "masks.npz"
    if masks.is_file():
        shape = tuple(np.load(masks)["masks"].shape[-2:])
    else:
        shape = (int(np.ceil(atoms.y_px.max())) + 1, int(np.ceil(atoms.x_px.max())) + 1)
    if bond_max is not None and not bond_max > 0:
        raise InputError(f"--bond-max must be positive, got {bond_max}")
    result = analyse_atoms(atoms, pixel_size, material, shape, n_boot, seed, a_ws2, a_wse2,
                           bond_max, undistort)
    write_table(result["lattice"], out / "lattice")
    bonds = result["bond_statistics"]
    write_table(bonds, out / "bonds")
    summary = {"scan_distortion": result.get("scan_distortion"),
               "lattice": result["lattice"].to_dict("records"),
               "bond_statistics": {str(row.pop("layer")): row for row in bonds.to_dict("records")}}
    if "bonds" in result and len(result["bonds"]):
        save_figure(bond_histogram_figure(result["bonds"]), out / "bond_histogram.png")
        summary["bond_median_angstrom"] = float(np.median(result["bonds"]))
    if result.get("maps"):
        save_figure(order_parameter_figure(result["maps"]), out / "order_parameter.png")
    if "kde" in result:
        save_figure(kde_figure(result["kde"], n_boot), out / "se_vs_moire_kde.png")
        summary["kde_mse"] = {k: result["kde"][k] for k in ("mse", "mse_low", "mse_high")}
    write_json(out / "analysis.json", summary)
    typer.echo(result["lattice"].to_string(index=False))
    typer.echo("bonds (two nearest neighbours of every atom):")
    typer.echo(bonds.to_string(index=False, float_format="{:.4f}".format))
