"""`tmdlearn spectra`: Preprocess and fit Raman / PL spectra and maps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.cli.common import CONFIG_OPTION, SET_OPTION, config_from_cli
from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.spectra.workflow import DEFAULTS

app = typer.Typer(no_args_is_help=True)

SPECTRA_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".asc", ".wdf", ".spc", ".nxs")

INPUTS = typer.Argument(..., help="Spectrum / map files, folders of them, or a manifest CSV "
                        "with a 'path' column.")
MODEL = typer.Option(..., "--model", "-m", help="Preset (mos2-raman, mos2-pl, wse2-raman, "
                     "wse2-pl) or a peak-model YAML file.")
OUT = typer.Option(..., "--out", "-o", help="Output table (.csv; a .md copy is written too).")
WITH = typer.Option(None, "--with", help="Optional peak of the model to include "
                    "(repeatable), e.g. --with sapphire.")
FIGURE = typer.Option(None, "--figure", help="PNG of a few fits with components and "
                      "residuals.")
NEXUS = typer.Option(None, "--nexus", help="NeXus file (.nxs) of the parameter maps with "
                     "standard errors and units; needs exactly one map input.")


@app.callback()
def _group() -> None:
    """Preprocess and fit Raman / PL spectra and maps."""


@app.command()
def fit(inputs: list[Path] = INPUTS, model: str = MODEL, out: Path = OUT,
        include: list[str] = WITH, figure: Path = FIGURE, nexus: Path = NEXUS,
        config: Path = CONFIG_OPTION, overrides: list[str] = SET_OPTION) -> None:
    """Fit a peak model to every spectrum (and every map pixel): one table row each."""
    fitted_maps = [] if nexus is not None else None
    table, _ = _fit_all(inputs, model, include, config, overrides, figure, fitted_maps)
    if nexus is not None:
        _write_nexus(nexus, fitted_maps)
    csv_path, _ = _write(table, out)
    n_ok = int(table["converged"].sum())
    typer.echo(f"fitted {len(table)} spectra ({n_ok} converged) -> {csv_path}")
    for line in verdict_summary(table):
        typer.echo(line)


def verdict_summary(table: pd.DataFrame, top: int = 3) -> list[str]:
    """Lines counting the verdicts and the ``top`` most frequent reasons of a fit table, e.g.
    ``383 of 401 spectra: no E2g/A1g peak (ΔBIC ≤ 10)``."""
    if "verdict" not in table.columns:
        return []
    from tmdlearn.spectra import VERDICTS

    counts = table["verdict"].value_counts()
    lines = ["verdicts: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in VERDICTS)]
    reasons = table.loc[table["verdict"] != "ok", "reasons"].astype(str)
    frequent = reasons.str.split("; ").explode()
    # a number in a reason (reduced χ² 14) is dropped so that alike reasons are counted together
    frequent = frequent.str.replace(r" [0-9.e+]+( \(misfit [0-9]+ % of the peak\))?$", "",
                                    regex=True)
    for reason, count in frequent[frequent != ""].value_counts().head(top).items():
        lines.append(f"{count} of {len(table)} spectra: {reason}")
    return lines


@app.command()
def features(inputs: list[Path] = INPUTS, model: str = MODEL, out: Path = OUT,
             include: list[str] = WITH, config: Path = CONFIG_OPTION,
             overrides: list[str] = SET_OPTION) -> None:
    """The model's feature vector per spectrum (e.g. the WSe2 study's 24 Raman values)."""
    from tmdlearn.spectra import vector_columns

    table, peak_model = _fit_all(inputs, model, include, config, overrides, None)
    ids = [c for c in ("source", "spectrum", "x_um", "y_um") if c in table.columns]
    columns = ids + vector_columns(peak_model) + ["converged"]
    columns += [c for c in ("verdict",) if c in table.columns]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"model {peak_model.name!r}: feature columns {missing} are not "
                         "produced by its peaks or features")
    csv_path, _ = _write(table[columns], out)
    n_values = len(vector_columns(peak_model))
    typer.echo(f"{len(table)} feature vectors of {n_values} values -> {csv_path}")
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


def _write(table: pd.DataFrame, out: Path):
    from tmdlearn.report.tables import write_table

    if out.suffix.lower() not in (".csv", ""):
        raise InputError("the output table must be a .csv path", out)
    return write_table(table, out.with_suffix(".csv"))


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files from paths, folders (their spectrum files, sorted) and manifests ('path' column,
    relative to the manifest's folder)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in SPECTRA_SUFFIXES)
            if not found:
                raise InputError(f"no spectrum files ({', '.join(SPECTRA_SUFFIXES)})", item)
            files += found
        elif item.is_file() and _is_manifest(item):
            with open(item, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            files += [(item.parent / row["path"]).resolve() for row in rows if row["path"]]
        elif item.exists():
            files.append(item)
        else:
            raise InputError("no such file or folder", item)
    return files


def _is_manifest(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "path" in [h.strip().lower() for h in header.split(",")]


def _fit_all(inputs, model_name, include, config_path, overrides, figure, fitted_maps=None):
    """The fit table of every input; with a ``fitted_maps`` list, (path, map, mask, fit,
    config) of each map input is appended to it."""
    from tmdlearn.io import read
    from tmdlearn.progress import track
    from tmdlearn.spectra import fit_peaks, load_model
    from tmdlearn.spectra.preprocess import background_mask

    cfg = config_from_cli(config_path, overrides, DEFAULTS)
    peak_model = load_model(model_name, tuple(include or ()))
    read_options = {k: v for k, v in cfg["read"].items() if v is not None}
    fit_options = {k: v for k, v in cfg["fit"].items() if v is not None}
    verdict = {k: v for k, v in cfg["verdict"].items() if v is not None and k != "enabled"}
    fit_options["verdict"] = verdict if cfg["verdict"]["enabled"] else False
    files = expand_inputs(inputs)
    tables, shown = [], []
    for path in track(files, "reading and fitting", total=len(files)):
        data = read(path, **read_options)
        if isinstance(data, SpectralMap):
            mask = np.ones(data.shape, dtype=bool)
            if cfg["mask"]["method"] == "corners":
                mask = background_mask(data.intensity, float(cfg["mask"]["k"]),
                                       int(cfg["mask"]["corner"]))
            elif cfg["mask"]["method"] != "none":
                raise InputError("mask.method must be none or corners")
            if cfg["preprocess"]["despike"] == "map":
                data = _despiked(data, mask, cfg["preprocess"])
            spectra = data.spectra(mask)
            x_um, y_um = (c[mask] for c in data.coordinates_um())
        elif isinstance(data, Spectra):
            if cfg["preprocess"]["despike"] == "map":
                raise InputError("preprocess.despike map needs a map input", path)
            spectra, x_um, y_um = data, None, None
        else:
            raise InputError(f"not a spectrum or spectral map ({type(data).__name__})", path)
        spectra = _converted(spectra, peak_model.unit, path)
        intensity = _preprocess(spectra.intensity, spectra.axis, cfg["preprocess"])
        try:
            result = fit_peaks(intensity, peak_model, spectra.axis, **fit_options)
        except TypeError as err:
            raise InputError(f"bad fit option in the config: {err}") from None
        if x_um is not None:
            result.metadata.update(x_um=x_um, y_um=y_um)
            if fitted_maps is not None:
                fitted_maps.append((path, data, mask, result, cfg))
        table = result.table()
        table.insert(0, "spectrum", np.arange(len(table)))
        table.insert(0, "source", path.name)
        tables.append(table)
        if figure is not None and len(shown) < 4:
            shown.append((result, spectra.axis, intensity, path.name))
    if not tables:
        raise InputError("no input files")
    if figure is not None:
        _figure(shown, figure, peak_model.unit)
    return pd.concat(tables, ignore_index=True), peak_model


def _converted(spectra: Spectra, unit: str, path: Path) -> Spectra:
    if spectra.unit == unit:
        return spectra
    try:
        return spectra.to_unit(unit)
    except ValueError:
        raise InputError(f"the spectra are in {spectra.unit} but the model in {unit}; set "
                         "read.excitation_nm (or read.unit)", path) from None


def _preprocess(intensity: np.ndarray, axis: np.ndarray, options: dict) -> np.ndarray:
    from tmdlearn.spectra import preprocess

    if options["despike"] != "map":  # map: done on the map before its spectra are taken
        intensity = preprocess.despike(intensity, options["despike"],
                                       options["despike_threshold"])
    if options["baseline"] != "none":
        intensity = intensity - preprocess.baseline(intensity, axis, options["baseline"])
    if options["normalise"] != "none":
        intensity = preprocess.normalise(intensity, options["normalise"], axis)
    return intensity


def _despiked(data: SpectralMap, mask: np.ndarray, options: dict) -> SpectralMap:
    from dataclasses import replace

    from tmdlearn.spectra.preprocess import despike

    return replace(data, intensity=despike(data.intensity, "map", options["despike_threshold"],
                                           mask, options["despike_spatial_k"]))


def _figure(shown, path: Path, unit: str) -> None:
    """Four spectra of a single input, or the first spectrum of each of up to four inputs."""
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.fit_figure import fit_figure, spread_indices

    if len(shown) == 1:
        result, axis, intensity, name = shown[0]
        panels = [(result, axis, intensity, i, f"{name} #{i}") for i in spread_indices(result)]
    else:
        panels = [(result, axis, intensity, 0, name) for result, axis, intensity, name in shown]
    save_figure(fit_figure(panels, unit), path)


def demo_step(out: Path):
    """Demo: fit every Raman spectrum of the embedded campaign; fitted vs planted A1g–E2g split."""
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    from tmdlearn.data import Dataset
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.tables import write_table
    from tmdlearn.spectra import fit_peaks, load_model

    data = Dataset.open(out / "data" / "mos2-campaign").filter(modality="raman")
    truth = pd.read_csv(out / "data" / "mos2-campaign" / "truth.csv").set_index("file")
    spectra = [data.load(row) for _, row in data.table.iterrows()]
    model = load_model("mos2-raman", ("sapphire", "sapphire378"))
    intensity = np.vstack([s.intensity for s in spectra])
    fit = fit_peaks(intensity, model, spectra[0].axis)
    table = fit.table()
    table.insert(0, "file", data.table["file"].to_numpy())
    planted = truth.loc[table["file"]]
    table["true_split"] = _planted_split(planted).to_numpy()
    ok = (table["verdict"] == "ok").to_numpy(bool)  # weak, absent and poor fits left out
    error = (table["split_A1g_E2g"] - table["true_split"]).abs()[ok]
    rho = spearmanr(table["split_A1g_E2g"][ok], planted["spot_bilayer_fraction"][ok]).statistic
    write_table(table[["file", "E2g_center", "A1g_center", "split_A1g_E2g", "true_split",
                       "ratio_2LA_A1g", "r2", "converged", "verdict", "reasons"]],
                out / "spectra_fits")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    axes[0].scatter(table["true_split"][ok], table["split_A1g_E2g"][ok], s=12)
    lims = [table["true_split"].min() - 0.3, table["true_split"].max() + 0.3]
    axes[0].plot(lims, lims, "k--", lw=0.8)
    axes[0].set(xlabel="planted A1g–E2g split (cm⁻¹)", ylabel="fitted split (cm⁻¹)",
                title=f"median |error| {np.median(error):.2f} cm⁻¹")
    axes[1].scatter(planted["spot_bilayer_fraction"][ok], table["split_A1g_E2g"][ok], s=12)
    axes[1].set(xlabel="planted bilayer fraction of the spot", ylabel="fitted split (cm⁻¹)",
                title=f"Spearman ρ = {rho:.2f}")
    save_figure(fig, out / "spectra_split.png")
    _figure([(fit, spectra[0].axis, intensity, "campaign")], out / "spectra_fit_examples.png",
            "cm-1")
    return ("Raman peak fitting", [
        f"{len(table)} campaign spectra fitted at once with the mos2-raman preset "
        f"(+ sapphire lines); {int(table['converged'].sum())} converged, {ok.sum()} with an ok "
        f"verdict ({verdict_summary(table)[0]}); on those, median |fitted − planted split| "
        f"{np.median(error):.2f} cm⁻¹; split vs bilayer fraction Spearman ρ = {rho:.2f}.",
        Path("spectra_split.png"), Path("spectra_fit_examples.png"), Path("spectra_fits.md")])


def _planted_split(truth: pd.DataFrame) -> pd.Series:
    """Height-weighted A1g minus E2g centre over the monolayer and bilayer parts of a spot."""
    def centre(mode: str) -> pd.Series:
        weights = [truth[f"{n}L_{mode}_height"] for n in (1, 2)]
        centres = [truth[f"{n}L_{mode}_center_cm1"] for n in (1, 2)]
        return sum(w * c for w, c in zip(weights, centres, strict=True)) / sum(weights)

    return centre("A1g") - centre("E2g")
