"""`tmdlearn synth`: Generate the embedded datasets (simulators with stored ground truth)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)

OUT_ARGUMENT = typer.Argument(None, help="Folder to write (manifest.csv, truth.csv, files): "
                              "new or empty, or this command's earlier dataset (or --out).")
OUT_OPTION = typer.Option(None, "--out", "-o", help="The folder to write, as the other "
                          "commands take it (instead of OUT).")
SEED_OPTION = typer.Option(0, "--seed", help="Random seed: same seed, same data.")
OVERWRITE = typer.Option(False, "--overwrite", help="Write into a folder that holds other "
                         "files or another dataset (files of the same name are replaced).")


@app.callback()
def _group() -> None:
    """Generate the embedded datasets (simulators with stored ground truth)."""


def _folder(out: Path | None, out_option: Path | None) -> Path:
    """The output folder, given as OUT or as --out (one of them)."""
    from tmdlearn.errors import InputError

    if (out is None) == (out_option is None):
        raise InputError("give the output folder once: OUT or --out")
    return out if out is not None else out_option


def _write(writer, out: Path, arguments: tuple, overwrite: bool) -> None:
    """Write a dataset with ``writer(out, *arguments)`` into a folder ``--out`` may take
    (:func:`~tmdlearn.report.outdir.prepare_out`: not another command's dataset, nor a folder
    of other files, unless ``overwrite``), with its run.json; say where its manifest is."""
    import time

    from tmdlearn.report.outdir import prepare_out
    from tmdlearn.report.run import write_run_json

    started = time.time()
    prepare_out(out, overwrite)
    writer(out, *arguments)
    write_run_json(out, {"writer": writer.__name__, "arguments": list(arguments)}, started)
    typer.echo(f"wrote {out / 'manifest.csv'}")


@app.command("mos2-campaign")
def mos2_campaign(
    out: Path = OUT_ARGUMENT,
    samples: int = typer.Option(40, "--samples", help="Growth runs (each: center + edge)."),
    pixels: int = typer.Option(512, "--pixels", help="AFM pixels per side."),
    seed: int = SEED_OPTION,
    small: bool = typer.Option(False, "--small", help="Demo size: 40 samples, 256 px, 1 power."),
    overwrite: bool = OVERWRITE,
    out_option: Path = OUT_OPTION,
) -> None:
    """MOCVD MoS2 campaign: AFM (1 and 5 µm), Raman (532 nm), PL, with the film state."""
    from tmdlearn.synth.campaign import write_mos2_campaign

    out = _folder(out, out_option)
    _write(write_mos2_campaign, out, (min(samples, 40), seed, min(pixels, 256), (1.0,), 3)
           if small else (samples, seed, pixels), overwrite)


@app.command("wse2-maps")
def wse2_maps(
    out: Path = OUT_ARGUMENT,
    flakes: int = typer.Option(6, "--flakes", help="Flakes (triangles and stars alternate)."),
    pixels: int = typer.Option(96, "--pixels", help="Map pixels per side (64-128 typical)."),
    seed: int = SEED_OPTION,
    small: bool = typer.Option(False, "--small", help="Demo size: 2 flakes of 48 px."),
    overwrite: bool = OVERWRITE,
    out_option: Path = OUT_OPTION,
) -> None:
    """WSe2 flake Raman + PL maps at 2.33 eV (resonant) and 1.96 eV, with defect regions."""
    from tmdlearn.synth.maps import write_wse2_maps

    out = _folder(out, out_option)
    _write(write_wse2_maps, out,
           (min(flakes, 2), min(pixels, 48), seed) if small else (flakes, pixels, seed),
           overwrite)


@app.command("tmd-materials")
def tmd_materials(
    out: Path = OUT_ARGUMENT,
    scale: float = typer.Option(1.0, "--scale", help="Fraction of the 1026 crops (476:182:"
                                "137:129:102) to write."),
    pixels: int = typer.Option(128, "--pixels", help="Crop pixels per side."),
    seed: int = SEED_OPTION,
    small: bool = typer.Option(False, "--small", help="Demo size: 1/10 of the crops, 64 px."),
    overwrite: bool = OVERWRITE,
    out_option: Path = OUT_OPTION,
) -> None:
    """Five-material AFM set (MoS2, WS2, WSe2, MoSe2, Mo-WSe2), several crops per sample."""
    from tmdlearn.synth.materials import write_tmd_materials

    out = _folder(out, out_option)
    _write(write_tmd_materials, out,
           (min(scale, 0.1), min(pixels, 64), seed) if small else (scale, pixels, seed),
           overwrite)


@app.command("all")
def all_(
    out: Path = OUT_ARGUMENT,
    seed: int = SEED_OPTION,
    small: bool = typer.Option(False, "--small", help="Demo size (under 2 minutes)."),
    overwrite: bool = OVERWRITE,
    out_option: Path = OUT_OPTION,
) -> None:
    """All three datasets into OUT/mos2-campaign, OUT/wse2-maps, OUT/tmd-materials."""
    out = _folder(out, out_option)
    mos2_campaign(out / "mos2-campaign", 40, 512, seed, small, overwrite, None)
    wse2_maps(out / "wse2-maps", 6, 96, seed, small, overwrite, None)
    tmd_materials(out / "tmd-materials", 1.0, 128, seed, small, overwrite, None)


def demo_step(out: Path):
    """Demo: write the embedded datasets (small) into ``out/data`` and summarise them."""
    import pandas as pd

    from tmdlearn.data import Dataset
    from tmdlearn.report.tables import write_table

    data = out / "data"
    all_(data, seed=0, small=True, overwrite=False, out_option=None)
    rows = []
    for name in ("mos2-campaign", "wse2-maps", "tmd-materials"):
        manifest = Dataset.open(data / name).table
        for (material, modality), group in manifest.groupby(["material", "modality"]):
            rows.append({"dataset": name, "material": material, "modality": modality,
                         "files": len(group), "samples": group["sample_id"].nunique()})
    write_table(pd.DataFrame(rows), out / "data_summary")
    return ("Embedded data", ["Simulated with stored ground truth by `tmdlearn synth all "
                              "--small` (see docs/synthetic-data.md).", Path("data_summary.md")])
