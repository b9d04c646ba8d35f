"""`tmdlearn stem`: Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import typer

from tmdlearn.cli import common
from tmdlearn.cli.common import CONFIG_OPTION, OVERWRITE_OPTION, SET_OPTION, config_from_cli
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.report.outdir import command_name, prepare_out, running_command
from tmdlearn.stem.workflow import HELP

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Gomb-Net: atoms per layer in HAADF-STEM images of twisted bilayers (graphene; WS2 /
    WS2(1-x)Se2x, the model for other 2H TMDs too) and of monolayers (--monolayer)."""


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    overwrite: bool = OVERWRITE_OPTION,
    material: str = typer.Option("graphene", help="graphene, ws2 (WS2(1-x)Se2x) or mos2 "
                                 "(MoS2(1-x)Se2x)."),
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
    from tmdlearn.synth.stem_files import simulation_config, write_splits

    prepare_out(out, overwrite)
    cfg = simulation_config(material, size, pixel_size, se_scenario, microscope)
    write_splits(out, cfg, {"train": n_train, "val": n_val, "test": n_test}, seed, tif,
                 log=typer.echo)


@app.command("train")
def train_command(
    config: Path = CONFIG_OPTION,
    out: Path = typer.Option(Path("runs/stem"), "--out", "-o", help="Run folder."),
    overwrite: bool = OVERWRITE_OPTION,
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint/."),
    overrides: list[str] = SET_OPTION,
) -> None:
    """Train Gomb-Net (or a U-Net baseline) on simulated images; see configs/stem-*.yaml.

    Writes OUT/model/ (best validation mean IoU; a model folder with its card),
    OUT/checkpoint/, OUT/history.csv and OUT/run.json (at the end). An interrupted training
    (OUT/checkpoint/, no run.json yet) is continued with --resume.
    """
    import time

    from tmdlearn.report.outdir import is_run_folder
    from tmdlearn.report.run import model_records, write_run_json
    from tmdlearn.stem.train import DEFAULTS, train

    started = time.time()
    cfg = config_from_cli(config, overrides, DEFAULTS)
    if not (resume or overwrite) and (out / "checkpoint").is_dir() and not is_run_folder(out):
        raise InputError("--out holds an unfinished training (its checkpoint/, no run.json "
                         "yet): pass --resume to continue it, or --overwrite to start again", out)
    prepare_out(out, overwrite or resume)
    final = train(cfg, out, resume=resume, log=typer.echo)
    write_run_json(out, cfg, started, validation=final,
                   models=model_records(out, [out / "model", out / "checkpoint"]))
    typer.echo(f"model -> {out / 'model'}")


def _predict_one(cfg: dict, inputs: dict, out: Path, started: float) -> dict:
    """One image's outcome written to ``out``; returns its summary row."""
    from tmdlearn.report.run import write_outcome
    from tmdlearn.stem import workflow

    outcome = workflow.run(inputs, cfg)
    write_outcome(out, outcome, cfg, started)
    return outcome.metrics


def predict_file(task: tuple) -> dict:
    """One image of a folder predicted and written to its own folder (an engine task).

    Parameters
    ----------
    task : tuple
        ``(config, image, output folder, start time (s since the epoch), model inputs,
        command name)``; the image a path, or a frame of a STEM frame store
        (:class:`~tmdlearn.engine.imagestack.StackFrame`, sent as (store, index) and read
        here); model inputs None: loaded once per worker process (:func:`_worker_model`); the
        command name for the image's run.json (a worker process never ran the command line).

    Returns
    -------
    dict
        The image's summary row (file, pixel size in Å, atoms per layer, trust, score,
        main reason); for an image that cannot be read or predicted (an InputError) the row
        ``file``, trust ``error`` and the error's line as ``main_reason``.
    """
    from tmdlearn.engine.imagestack import StackFrame
    from tmdlearn.stem import workflow

    cfg, path, out, started, model, command = task
    running_command[0] = command  # a worker process never ran the command line
    if model is None:  # on a worker: its model, loaded by the first of its tasks
        key = repr(cfg["model"])
        if key not in _WORKER_MODELS:
            _WORKER_MODELS[key] = workflow.load_model_inputs(cfg)
        model = _WORKER_MODELS[key]
    try:
        image = path.load(cfg["data"]["pixel_size_angstrom"]) \
            if isinstance(path, StackFrame) else workflow.read_image(path, cfg)
        return _predict_one(cfg, {**model, "image": image}, out, started)
    except InputError as err:  # one bad image of a folder: its row says so, the rest go on
        return {"file": out.name, "trust": "error", "main_reason": str(err)}


#: Model inputs a worker process loaded, by the repr of their ``model`` settings.
_WORKER_MODELS: dict[str, dict] = {}


def _summary_table(rows: list[dict], failed) -> pd.DataFrame:
    """A folder's summary.csv: the columns in a done image's order whatever image comes first
    (an error row, ``failed(row)``, has only a few of them), atom counts as integers."""
    table = pd.DataFrame(rows)
    done = [row for row in rows if not failed(row)]
    if done:
        table = table[list(dict.fromkeys([*done[0], *table.columns]))]
    for column in table.columns:
        if column.startswith("atoms"):
            table[column] = table[column].astype("Int64")
    return table


def _note_overridden(row: dict, where: Path) -> None:
    """A note when --pixel-size replaced a different pixel size the file states, and how a Mo
    film's species were read (:func:`tmdlearn.stem.films.film_species`)."""
    if row.get("file_pixel_size_angstrom"):
        typer.echo(f"note: {where}: --pixel-size {row['pixel_size_angstrom']:g} Å used; the "
                   f"file states {row['file_pixel_size_angstrom']:.4g} Å", err=True)
    if row.get("species_note"):
        typer.echo(f"note: {where}: {row['species_note']}", err=True)


def _warn_untrusted(row: dict, where: Path) -> None:
    """One warning line (stderr) for a prediction the self-check does not call ok."""
    if row["trust"] != "ok":
        typer.echo(f"warning: {where}: prediction {row['trust']} (score {row['score']:.2f}): "
                   f"{row['main_reason']}", err=True)


@app.command()
def predict(
    image: Path = typer.Argument(..., help="HAADF image (.tif, .npy, .npz, .nhdf/.ndata1 of "
                                 "Nion Swift, .dm3/.dm4/.emd/.ser), "
                                 "a folder of them, or a STEM frame store (tmdlearn convert "
                                 "--modality stem)."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in Å (overrides "
                                     "the file's)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    overwrite: bool = OVERWRITE_OPTION,
    model: Path = typer.Option(None, help="Model folder (default: the shipped one)."),
    material: str = typer.Option(None, help="graphene, or a TMD film: ws2, wse2, ws2-wse2, "
                                 "mos2, mose2, mos2-mose2 (the shipped WS2 model; a Mo film's "
                                 "species are read from the column brightness): the shipped "
                                 "model to use when --model is not given (default graphene); "
                                 "with --model, the material the model must be for."),
    trust_mismatch: bool = typer.Option(False, "--trust-mismatch", help="Load a model whose "
                                        "weight files differ from the sha256 in its card "
                                        "(with a warning)."),
    threshold: str = typer.Option("logit0", help="logit0, otsu or a probability."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    lattice: bool = typer.Option(True, "--lattice/--no-lattice", help="Move atoms to the layer "
                                 "whose honeycomb they sit on."),
    views: int = typer.Option(1, help="Average the model over 1, 2 or 4 mirror images "
                              "(test-time augmentation; 4 is slower and a little more accurate)."),
    lattice_prior: float = typer.Option(0.0, "--lattice-prior", help="find.lattice_prior: "
                                        + HELP["find.lattice_prior"]),
    tile: int = typer.Option(1024, help="Predict images larger than this many model pixels "
                             "per side in overlapping tiles of this size (bounds memory; 0: "
                             "always the whole image at once)."),
    refine: bool = typer.Option(False, "--refine/--no-refine", help="find.refine: "
                                + HELP["find.refine"]),
    monolayer: bool = typer.Option(False, "--monolayer/--no-monolayer", help="find.monolayer: "
                                   + HELP["find.monolayer"]),
    frames: str = typer.Option("first", help="data.frames: " + HELP["data.frames"]),
    scheduler: str = common.SCHEDULER_OPTION,
    workers: int = common.WORKERS_OPTION,
) -> None:
    """Find atoms layer by layer: OUT/atoms.csv (x_px, y_px, layer, species), masks, overlay,
    and a self-check OUT/quality.json (trust ok | doubtful | fail, score, reasons) with the
    rendered image OUT/render.png; a prediction not ok prints a warning (exit code 0).

    For a folder, every image goes to OUT/<file name>/ and OUT/summary.csv counts the atoms
    and gives each image's trust, score and main reason (an image that cannot be read or
    predicted: trust "error", its error line, and exit code 2 after the others); each image
    is a task of the --scheduler (on a cluster, OUT must be on storage its workers share). A
    STEM frame store (``tmdlearn convert FOLDER frames.zarr --modality stem``) is treated as
    such a folder: OUT/<frame name>/ per frame, each task reading its own frame from the
    store.
    """
    import time

    from tmdlearn.engine import map_tasks, workflow_engine
    from tmdlearn.engine.imagestack import STEM, open_image_stack
    from tmdlearn.engine.stores import is_zarr_store
    from tmdlearn.io.stem import STEM_FORMATS
    from tmdlearn.report.run import write_run_json
    from tmdlearn.stem import workflow

    prepare_out(out, overwrite)
    started = time.time()
    cfg = copy.deepcopy(workflow.DEFAULTS)
    cfg["data"].update(image=str(image), pixel_size_angstrom=pixel_size, frames=frames)
    cfg["model"].update(path=model, material=material, device=device,
                        trust_mismatch=trust_mismatch)
    cfg["find"].update(threshold=threshold, lattice=lattice, views=views,
                       lattice_prior=lattice_prior, tile=tile, refine=refine,
                       monolayer=monolayer)
    common.set_engine(cfg, scheduler, workers)
    if not image.is_dir():
        row = _predict_one(cfg, workflow.load(cfg), out, started)
        counts = [str(v) for k, v in row.items() if k.startswith("atoms_layer")]
        layers = f"{' / '.join(counts)} per layer" if len(counts) > 1 else "one layer"
        twist = "" if row["twist_deg"] is None else f", layers twisted {row['twist_deg']:.1f}°"
        if twist and row["fft_twist_deg"] is not None:
            twist += f" (image FFT {row['fft_twist_deg']:.1f}°)"
        typer.echo(f"{row['atoms']} atoms ({layers}){twist}, trust {row['trust']} "
                   f"(score {row['score']:.2f}) -> {out / 'atoms.csv'}")
        _note_overridden(row, image)
        _warn_untrusted(row, image)
        return
    if is_zarr_store(image):
        stack = open_image_stack(image, STEM)
        names, files = stack.names, [stack.image(i) for i in range(len(stack))]
    else:
        files = sorted(p for p in image.iterdir()
                       if p.is_file() and p.suffix.lower() in STEM_FORMATS)
        if not files:
            raise InputError(f"no STEM images ({', '.join(STEM_FORMATS)})", image)
        names, cfg["data"]["image"] = [path.name for path in files], str(files[0])
    model = workflow.load_model_inputs(cfg)  # a bad model or option: one line before any task
    with workflow_engine(cfg["run"], len(files), workflow.LARGE_FOLDER,
                         parallel_threads=False) as engine:
        here = model if engine.client is None else None
        rows = map_tasks(engine, predict_file,
                         [(cfg, path, out / name, started, here, command_name())
                          for name, path in zip(names, files, strict=True)], "finding atoms")
    with atomic_path(out / "summary.csv") as tmp:
        _summary_table(rows, lambda row: row["trust"] == "error").to_csv(tmp, index=False)
    write_run_json(out, cfg, started)  # the folder's own run: rerun into it, or --out checks
    trusted = sum(r["trust"] == "ok" for r in rows)
    failed = [r for r in rows if r["trust"] == "error"]
    typer.echo(f"{len(files)} images, {sum(r.get('atoms', 0) for r in rows)} atoms, {trusted} "
               f"ok" + (f", {len(failed)} not predicted" if failed else "")
               + f" -> {out / 'summary.csv'}")
    for name, row in zip(names, rows, strict=True):
        if row["trust"] != "error":
            _note_overridden(row, image / name)
            _warn_untrusted(row, image / name)
    for row in failed:
        typer.echo(f"error: {row['main_reason']}", err=True)
    if failed:
        raise typer.Exit(2)


@app.command()
def analyze(
    atoms_csv: Path = typer.Argument(..., help="atoms.csv from `tmdlearn stem predict`, or "
                                     "the folder it wrote (one image's, or a folder "
                                     "prediction's: every image analysed)."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in Å (default: "
                                     "the one the stem predict run beside ATOMS_CSV used)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    overwrite: bool = OVERWRITE_OPTION,
    material: str = typer.Option(None, help="graphene or a TMD film (ws2, mos2, ...; default: "
                                 "the stem predict run's model's, else graphene)."),
    masks: Path = typer.Option(None, help="masks.npz beside atoms.csv (for the map size)."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples of the KDEs."),
    a_ws2: float = typer.Option(None, help="Sulphide lattice constant, Å (Vegard; default "
                                "WS2 3.153, or MoS2 3.160 for Mo columns)."),
    a_wse2: float = typer.Option(None, help="Selenide lattice constant, Å (Vegard; default "
                                 "WSe2 3.282, or MoSe2 3.288 for Mo columns)."),
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

    The output folder of a folder prediction (stem predict FOLDER) is analysed image by image
    into OUT/<image>/, and OUT/summary.csv gives each image's bond mean and FWHM and lattice
    constant per layer, twist, the prediction's trust and the warnings (an image that cannot
    be analysed: its error line, and exit code 2 after the others).
    """
    from tmdlearn.report.run import write_run_json

    if n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {n_boot}")
    options = {"pixel_size": pixel_size, "material": material, "masks": masks,
               "n_boot": n_boot, "a_ws2": a_ws2, "a_wse2": a_wse2, "bond_max": bond_max,
               "undistort": undistort, "seed": seed}
    if not (atoms_csv.is_dir() and not (atoms_csv / "atoms.csv").exists()):
        atoms_csv = atoms_csv / "atoms.csv" if atoms_csv.is_dir() else atoms_csv
        _analyze_one(atoms_csv, out, overwrite, options, single=True)
        return
    images = sorted(p for p in atoms_csv.iterdir() if (p / "atoms.csv").is_file())
    if not images:
        raise InputError("no atoms.csv here nor in its subfolders: give the output folder of "
                         "stem predict", atoms_csv)
    if masks is not None:
        raise InputError("--masks is for one image's atoms.csv, not a folder prediction", masks)
    import time

    prepare_out(out, overwrite)
    started = time.time()
    rows = []
    for folder in images:
        try:
            rows.append(_analyze_one(folder / "atoms.csv", out / folder.name, overwrite,
                                     options, single=False))
        except InputError as err:
            rows.append({"image": folder.name, "error": str(err)})
    with atomic_path(out / "summary.csv") as tmp:
        _summary_table(rows, lambda row: bool(row.get("error"))).to_csv(tmp, index=False)
    write_run_json(out, {"atoms": str(atoms_csv), **{k: v for k, v in options.items()
                                                     if k != "masks"}}, started)
    failed = [row["error"] for row in rows if row.get("error")]
    typer.echo(f"{len(rows) - len(failed)} of {len(rows)} images analysed -> "
               f"{out / 'summary.csv'}")
    for line in failed:
        typer.echo(f"error: {line}", err=True)
    if failed:
        raise typer.Exit(2)


def _analyze_one(atoms_csv: Path, out: Path, overwrite: bool, options: dict,
                 single: bool) -> dict:
    """Analyse one prediction's atoms into ``out`` (:func:`analyze`'s options); print its
    tables (``single``) or one line, and its warnings. Returns its summary.csv row."""
    import time

    from tmdlearn.report.run import write_outcome
    from tmdlearn.stem.workflow import (
        analyse,
        analysis_warnings,
        material_of,
        predict_record,
        read_atoms,
    )

    atoms, shape = read_atoms(atoms_csv, options["masks"])
    record = predict_record(atoms_csv)
    pixel_size, material = options["pixel_size"], options["material"]
    if pixel_size is None and "pixel_size_angstrom" not in record:
        raise InputError("no pixel size: give --pixel-size (no metrics.json of a stem predict "
                         "run beside the atoms says it)", atoms_csv)
    taken = [f"{key} {record[key]}" for key, given in
             (("pixel_size_angstrom", pixel_size), ("material", material))
             if given is None and key in record]
    pixel_size = record["pixel_size_angstrom"] if pixel_size is None else pixel_size
    guessed = material is None and "material" not in record
    material = (material or record.get("material") or material_of(atoms.species)).lower()
    prepare_out(out, overwrite)
    started = time.time()
    if taken and single:
        typer.echo(f"{', '.join(taken)} from the stem predict run in {record['source']}")
    if guessed:
        typer.echo(("" if single else f"{atoms_csv.parent.name}: ") + f"material {material}, "
                   "from the atoms' species (--material to say it)")
    outcome = analyse(atoms, shape, pixel_size, material, options["n_boot"], options["seed"],
                      options["a_ws2"], options["a_wse2"], options["bond_max"],
                      options["undistort"])
    write_outcome(out, outcome, {"atoms": atoms_csv, "pixel_size_angstrom": pixel_size,
                                 "material": material,
                                 **{k: options[k] for k in ("n_boot", "seed", "a_ws2", "a_wse2",
                                                            "bond_max", "undistort")},
                                 "from_predict_run": record.get("source") if taken else None},
                  started)
    bonds, lattice = outcome.tables["bonds"], outcome.tables["lattice"]
    layers = bonds[bonds["layer"].astype(str) != "all"]
    if single:
        typer.echo(lattice.to_string(index=False))
        typer.echo("bonds (two nearest neighbours of every atom):")
        typer.echo(bonds.to_string(index=False, float_format="{:.4f}".format))
    else:
        means = " / ".join(f"{v:.3f}" for v in layers["mean_angstrom"])
        widths = " / ".join(f"{v:.3f}" for v in layers["fwhm_angstrom"])
        typer.echo(f"{atoms_csv.parent.name}: bond mean {means} Å, FWHM {widths} Å per layer "
                   f"-> {out}")
    warnings = analysis_warnings(outcome, material, record.get("trust"), pixel_size)
    for line in warnings:
        typer.echo(f"warning: {atoms_csv}: {line}", err=True)
    row = {"image": atoms_csv.parent.name, "material": material,
           "pixel_size_angstrom": pixel_size, "atoms": len(atoms),
           "twist_deg": outcome.metrics.get("twist_deg"),
           "trust": record.get("trust", (None,))[0]}
    for _, layer in layers.iterrows():
        row[f"bond_mean_angstrom_layer{layer['layer']}"] = layer["mean_angstrom"]
        row[f"bond_fwhm_angstrom_layer{layer['layer']}"] = layer["fwhm_angstrom"]
    for layer_row in lattice.to_dict("records"):
        for key in ("lattice_constant_angstrom", "vegard_se_fraction", "species_se_fraction"):
            if key in layer_row:
                row[f"{key}_layer{int(layer_row['layer'])}"] = layer_row[key]
    row.update(warnings="; ".join(warnings), error="")
    return row
