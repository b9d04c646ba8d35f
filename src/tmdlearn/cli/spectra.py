"""`tmdlearn spectra`: Preprocess and fit Raman / PL spectra and maps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from tmdlearn.cli.common import (
    CONFIG_OPTION,
    SET_OPTION,
    config_from_cli,
    engine_options,
    report_skipped,
)
from tmdlearn.errors import InputError

app = typer.Typer(no_args_is_help=True)

INPUTS = typer.Argument(..., help="Spectrum / map files, folders of them, or a manifest CSV "
                        "with a 'path' column.")
MODEL = typer.Option(..., "--model", "-m", help="Preset (mos2-raman, mos2-pl, mose2-raman, "
                     "mose2-pl, wse2-raman, wse2-pl) or a peak-model YAML file.")
OUT = typer.Option(..., "--out", "-o", help="Output table (.csv; a .md copy is written too).")
WITH = typer.Option(None, "--with", help="Optional peak of the model to include "
                    "(repeatable), e.g. --with sapphire.")
FIGURE = typer.Option(None, "--figure", help="PNG of a few fits with components and "
                      "residuals.")
NEXUS = typer.Option(None, "--nexus", help="NeXus file (.nxs) of the parameter maps with "
                     "standard errors and units; needs exactly one map input.")
SCHEDULER, WORKERS = engine_options("zarr map stores", workers_null="the CPU cores")
OVERWRITE = typer.Option(False, "--overwrite", help="Zarr map stores: write into a non-empty "
                         "--out folder, and start over a result store of a different command.")


@app.callback()
def _group() -> None:
    """Preprocess and fit Raman / PL spectra and maps."""


def _fit_all(inputs, model_name, include, config_path, overrides, run=None):
    """The config of a command (its inputs and model in ``data``, ``run`` updated by the
    options that are set) and the workflow's Outcome (``info["skipped"]``: the error lines of
    a folder's files that could not be read, left out; ``info["other_axis"]``: the InputErrors
    of a folder's files on an axis the model cannot take, left out)."""
    from tmdlearn.spectra import workflow

    cfg = config_from_cli(config_path, overrides, workflow.DEFAULTS)
    configured = cfg["data"]["include"] or []
    configured = [configured] if isinstance(configured, str) else list(configured)
    wanted = configured + list(include or ())  # the config's optional peaks, then --with
    cfg["data"].update(inputs=[str(p) for p in inputs], model=model_name,
                       include=list(dict.fromkeys(wanted)))
    cfg["run"].update({k: v for k, v in (run or {}).items() if v is not None})
    skipped: list = []
    loaded = workflow.load(cfg, skipped)
    outcome = workflow.run(loaded, cfg)
    outcome.info["skipped"] = [str(err) for err in skipped]
    outcome.info["other_axis"] = loaded["other_axis"]
    return cfg, outcome


def _echo_other_axis(outcome) -> None:
    """One warning line per reason for the folder files left out as on another axis than the
    model (a folder of Raman and PL files fitted with a Raman model): a result, exit code 0."""
    names: dict[str, list[str]] = {}
    for err in outcome.info.get("other_axis", ()):
        names.setdefault(err.problem, []).append(err.path.name)
    for problem, files in names.items():
        shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
        typer.echo(f"warning: left out {shown}: {problem}", err=True)


@app.command()
def fit(inputs: list[Path] = INPUTS, model: str = MODEL, out: Path = OUT,
        include: list[str] = WITH, figure: Path = FIGURE, nexus: Path = NEXUS,
        config: Path = CONFIG_OPTION, overrides: list[str] = SET_OPTION,
        scheduler: str = SCHEDULER, workers: int = WORKERS, overwrite: bool = OVERWRITE) -> None:
    """Fit a peak model to every spectrum (and every map pixel): one table row each. A zarr
    map store (tmdlearn convert) is fitted a chunk at a time into the run folder --out
    (fits.zarr, resumable: run the same command again after an interruption)."""
    from tmdlearn.engine.stores import is_zarr_store
    from tmdlearn.report.figures import save_figure
    from tmdlearn.spectra.workflow import examples_figure

    if any(is_zarr_store(p) for p in inputs):
        if figure is not None or nexus is not None:
            raise InputError("--figure and --nexus need the map in memory: not for a zarr map "
                             "store (its fits are in OUT/fits.zarr)")
        _fit_store(inputs, model, out, include, config, overrides,
                   {"scheduler": scheduler, "workers": workers, "overwrite": overwrite or None})
        return
    _check_table_out(out, inputs)
    _, outcome = _fit_all(inputs, model, include, config, overrides)
    table = outcome.tables["fits"]
    if figure is not None:
        save_figure(examples_figure(outcome), figure)
    if nexus is not None:
        _write_nexus(nexus, outcome.details["maps"])
    csv_path, _ = _write(table, out)
    typer.echo(f"fitted {len(table)} spectra ({outcome.metrics['converged']} converged) -> "
               f"{csv_path}")
    _echo_verdicts(table)
    _echo_other_axis(outcome)
    report_skipped(outcome)


@app.command()
def features(inputs: list[Path] = INPUTS, model: str = MODEL, out: Path = OUT,
             include: list[str] = WITH, config: Path = CONFIG_OPTION,
             overrides: list[str] = SET_OPTION) -> None:
    """The model's feature vector per spectrum (e.g. the WSe2 study's 24 Raman values)."""
    from tmdlearn.engine.stores import is_zarr_store
    from tmdlearn.spectra import vector_columns
    from tmdlearn.spectra.workflow import features_table

    stores = [p for p in inputs if is_zarr_store(p)]
    if stores:
        raise InputError("spectra features reads its inputs in memory: fit a zarr map store "
                         "with spectra fit (one array per parameter in fits.zarr)", stores[0])
    _check_table_out(out, inputs)
    _, outcome = _fit_all(inputs, model, include, config, overrides)
    table = features_table(outcome)
    csv_path, _ = _write(table, out)
    columns = vector_columns(outcome.details["model"])
    empty = int(table[columns].isna().to_numpy().sum())
    typer.echo(f"{len(table)} feature vectors of {len(columns)} values"
               + (f" ({empty} empty: a peak not there)" if empty else "") + f" -> {csv_path}")
    _echo_verdicts(outcome.tables["fits"])
    _echo_other_axis(outcome)
    report_skipped(outcome)


def _fit_store(inputs, model_name, out: Path, include, config_path, overrides,
               run: dict) -> None:
    """Fit a zarr map store into the run folder ``out``: fits.zarr (resumable), metrics.json,
    run.json and, for a small map, tables/fits.csv."""
    import time

    from tmdlearn.report.outdir import prepare_out
    from tmdlearn.report.run import write_outcome

    if out.suffix.lower() == ".csv":
        raise InputError("a zarr map store is fitted into a run folder: pass --out FOLDER "
                         "(fits.zarr, metrics.json, run.json)", out)
    prepare_out(out, bool(run["overwrite"]))
    started = time.time()
    cfg, outcome = _fit_all(inputs, model_name, include, config_path, overrides,
                            {**run, "store": str(out / "fits.zarr")})
    write_outcome(out, outcome, cfg, started)
    m = outcome.metrics
    typer.echo(f"fitted {m['spectra']} of {m['pixels']} spectra ({m['converged']} converged; "
               f"{m['chunks_fitted']} of {m['chunks']} chunks fitted now, "
               f"{m['chunks_found_done']} already done) -> {outcome.details['store']}")
    verdicts = {k.removeprefix("verdict_"): v for k, v in m.items() if k.startswith("verdict_")}
    if verdicts:
        typer.echo("verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))


def _echo_verdicts(table: pd.DataFrame) -> None:
    from tmdlearn.spectra.workflow import verdict_summary

    for line in verdict_summary(table):
        typer.echo(line)


def _write_nexus(path: Path, fitted_maps: list) -> None:
    from tmdlearn.interop.nexus import write_nexus
    from tmdlearn.spectra.fitmaps import fit_maps

    if len(fitted_maps) != 1:
        raise InputError(f"--nexus needs exactly one map among the inputs, got "
                         f"{len(fitted_maps)}", path)
    source, spectral_map, mask, result, cfg = fitted_maps[0]
    maps = fit_maps(result, mask, spectral_map)
    write_nexus(path, maps, config=cfg, inputs=[source])
    typer.echo(f"parameter maps ({len(maps.values)} images, {maps.shape[0]} x "
               f"{maps.shape[1]} pixels) -> {path}")


def _check_table_out(out: Path, inputs: list[Path]) -> None:
    """InputError, before any work, for an output table that is not a .csv path or whose .csv
    or .md copy would replace one of the input files."""
    from tmdlearn.spectra.inputs import expand_inputs

    if out.suffix.lower() not in (".csv", ""):
        raise InputError("the output table must be a .csv path", out)
    written = {out.with_suffix(suffix).resolve() for suffix in (".csv", ".md")}
    try:
        files = expand_inputs(list(inputs))
    except InputError:
        return  # a missing input: the workflow says so, after the config's own checks
    if any(path.resolve() in written for path in files):
        raise InputError("--out would replace one of the input files: choose another name",
                         out)


def _write(table: pd.DataFrame, out: Path):
    from tmdlearn.report.tables import write_table

    return write_table(table, out.with_suffix(".csv"))


def demo_step(out: Path):
    """Demo: fit every Raman spectrum of the embedded campaign; fitted vs planted A1g–E2g split."""
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.tables import write_table
    from tmdlearn.spectra.workflow import campaign_check

    outcome = campaign_check(out / "data" / "mos2-campaign")
    for name, table in outcome.tables.items():
        write_table(table, out / name)
    for name, figure in outcome.figures.items():
        save_figure(figure, out / f"{name}.png")
    m = outcome.metrics
    return ("Raman peak fitting", [
        f"{m['spectra']} campaign spectra fitted at once with the mos2-raman preset "
        f"(+ sapphire lines); {m['converged']} converged, {m['ok']} with an ok "
        f"verdict ({m['verdicts']}); on those, median |fitted − planted split| "
        f"{m['median_split_error_cm1']:.2f} cm⁻¹; split vs bilayer fraction Spearman ρ = "
        f"{m['spearman_split_bilayer']:.2f}.",
        Path("spectra_split.png"), Path("spectra_fit_examples.png"), Path("spectra_fits.md")])
