"""The spectra workflow: read, mask, convert, preprocess and fit spectra and maps.

``DEFAULTS`` (the documented config), ``load(cfg)`` (the model and the spectra of
``data.inputs``) and ``run(inputs, cfg)`` -> :class:`~tmdlearn.outcome.Outcome` whose table
``fits`` has one row per spectrum (and map pixel); :func:`features_table`,
:func:`examples_figure` and :func:`verdict_summary` read it.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.data.paths import contained
from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track

#: Defaults of ``spectra fit`` / ``spectra features``; any key can be set with ``--set``.
DEFAULTS = {
    # inputs: spectrum / map files, folders, manifests; model: a preset or a peak-model YAML;
    # include: optional peaks of the model (e.g. [sapphire])
    "data": {"inputs": [], "model": None, "include": []},
    "read": {"unit": None, "excitation_nm": None},
    # despike: none, difference, whitaker-hayes or map (maps only; spikes confirmed by the 3 x 3
    # neighbours); despike_threshold None: the method's default
    "preprocess": {"despike": "none", "despike_threshold": None, "despike_spatial_k": 6.0,
                   "baseline": "none", "normalise": "none"},
    "mask": {"method": "none", "k": 3.0, "corner": 3},
    "fit": {"solver": "lm", "backend": "numpy", "device": "auto", "dtype": "float64",
            "max_iter": None, "position_weight": 0.0, "chunk_size": 65536},
    # None: the model's value or tmdlearn.spectra.quality.DEFAULTS; enabled false skips it
    "verdict": {"enabled": True, "main": None, "unresolved": None, "present_dbic": None,
                "weak_snr": None, "chi2_max": None, "chi2_min": None, "misfit_max": None,
                "saturation_run": None, "saturation_snr": None},
    # zarr map stores only (tmdlearn convert): fitted a chunk at a time into the result store
    # ``store``, resumable; scheduler auto: processes from 200 000 spectra, else threads
    "run": {"scheduler": "auto", "workers": None, "chunk_pixels": 16384, "store": None,
            "overwrite": False},
}
SPECTRA_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".asc", ".wdf", ".spc", ".nxs")


def load(config: dict) -> dict:
    """The peak model and the spectra of the config's ``data``.

    Parameters
    ----------
    config : dict
        The workflow's config (:data:`DEFAULTS`).

    Returns
    -------
    dict
        ``model`` (PeakModel) and ``items``: every ``(path, Spectra or SpectralMap)``, or
        ``(path, MapStore)`` for a zarr map store (opened lazily).
    """
    from tmdlearn.engine.zarrstore import is_zarr_store, open_map_store
    from tmdlearn.io import read
    from tmdlearn.spectra import load_model

    data = config["data"]
    if not data["model"]:
        raise InputError("no peak model: set data.model (a preset or a peak-model YAML)")
    peak_model = load_model(data["model"], tuple(data["include"] or ()))
    read_options = {k: v for k, v in config["read"].items() if v is not None}
    files = expand_inputs([Path(p) for p in data["inputs"]])
    if not files:
        raise InputError("no input files")
    items = []
    for path in track(files, "reading", total=len(files)):
        if is_zarr_store(path):  # read lazily, fitted a chunk at a time
            store = open_map_store(path)
            if store.excitation_nm is None and config["read"]["excitation_nm"] is not None:
                store = replace(store, excitation_nm=float(config["read"]["excitation_nm"]))
            items.append((path, store))
            continue
        loaded = read(path, **read_options)
        if not isinstance(loaded, Spectra | SpectralMap):
            raise InputError(f"not a spectrum or spectral map ({type(loaded).__name__})", path)
        items.append((path, loaded))
    return {"model": peak_model, "items": items}


def run(inputs: dict, config: dict, progress: bool | None = None) -> Outcome:
    """Fit the model to every spectrum and map pixel of ``inputs``.

    Parameters
    ----------
    inputs : dict
        As :func:`load` returns.
    config : dict
        The workflow's config (:data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off or on a terminal only (None).

    Returns
    -------
    Outcome
        Table ``fits``: one row per spectrum; ``details``: the model (``model``), up to four
        fits for :func:`examples_figure` (``shown``) and, per map input,
        ``(path, map, mask, fit, config)`` (``maps``). A zarr map store (the only input then)
        is fitted a chunk at a time on the engine into the result store ``run.store``
        (:func:`tmdlearn.spectra.chunked.fit_store`): its Outcome holds counts and the
        store's path, and the table only for a small map.
    """
    from tmdlearn.engine.zarrstore import MapStore
    from tmdlearn.spectra import fit_peaks
    from tmdlearn.spectra.preprocess import background_mask

    cfg, peak_model = config, inputs["model"]
    stores = [(path, data) for path, data in inputs["items"] if isinstance(data, MapStore)]
    if stores:
        from tmdlearn.spectra.chunked import fit_store

        if len(inputs["items"]) != 1:
            raise InputError("a zarr map store is fitted on its own: one input per command",
                             stores[0][0])
        return fit_store(*stores[0], peak_model, cfg, progress)
    options = fit_options(cfg)
    tables, shown, fitted_maps = [], [], []
    with showing(progress):
        for path, data in track(inputs["items"], "fitting"):
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
            else:
                if cfg["preprocess"]["despike"] == "map":
                    raise InputError("preprocess.despike map needs a map input", path)
                spectra, x_um, y_um = data, None, None
            spectra = in_model_unit(spectra, peak_model.unit, path)
            intensity = preprocessed(spectra.intensity, spectra.axis, cfg["preprocess"])
            try:
                result = fit_peaks(intensity, peak_model, spectra.axis, **options)
            except TypeError as err:
                raise InputError(f"bad fit option in the config: {err}") from None
            if x_um is not None:
                result.metadata.update(x_um=x_um, y_um=y_um)
                fitted_maps.append((path, data, mask, result, cfg))
            table = result.table()
            table.insert(0, "spectrum", np.arange(len(table)))
            table.insert(0, "source", path.name)
            tables.append(table)
            if len(shown) < 4:
                shown.append((result, spectra.axis, intensity, path.name))
    if not tables:
        raise InputError("no input files")
    table = pd.concat(tables, ignore_index=True)
    counts = table["verdict"].value_counts() if "verdict" in table.columns else {}
    metrics = {"spectra": len(table), "converged": int(table["converged"].sum()),
               **{f"verdict_{v}": int(n) for v, n in dict(counts).items()}}
    return Outcome(metrics=metrics, tables={"fits": table},
                   details={"model": peak_model, "shown": shown, "maps": fitted_maps})


def fit_options(config: dict) -> dict:
    """The keyword arguments of :func:`~tmdlearn.spectra.peaks.fit_peaks` from a config's
    ``fit`` and ``verdict`` sections.

    Parameters
    ----------
    config : dict
        The spectra workflow's config.

    Returns
    -------
    dict
        The ``fit`` keys that are set, and ``verdict`` (a dict of options, or False).
    """
    options = {k: v for k, v in config["fit"].items() if v is not None}
    verdict = {k: v for k, v in config["verdict"].items() if v is not None and k != "enabled"}
    options["verdict"] = verdict if config["verdict"]["enabled"] else False
    return options


def features_table(outcome: Outcome) -> pd.DataFrame:
    """The model's feature vector per spectrum (e.g. the WSe2 study's 24 Raman values), then
    ``converged`` and ``verdict``.

    Parameters
    ----------
    outcome : Outcome
        What :func:`run` returned.

    Returns
    -------
    DataFrame
    """
    from tmdlearn.spectra import vector_columns

    table, peak_model = outcome.tables["fits"], outcome.details["model"]
    ids = [c for c in ("source", "spectrum", "x_um", "y_um") if c in table.columns]
    columns = ids + vector_columns(peak_model) + ["converged"]
    columns += [c for c in ("verdict",) if c in table.columns]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"model {peak_model.name!r}: feature columns {missing} are not "
                         "produced by its peaks or features")
    return table[columns]


def verdict_summary(table: pd.DataFrame, top: int = 3) -> list[str]:
    """Lines counting the verdicts and the ``top`` most frequent reasons of a fit table, e.g.
    ``383 of 401 spectra: no E2g/A1g peak (ΔBIC ≤ 10)``.

    Parameters
    ----------
    table : DataFrame
        A fit table.
    top : int

    Returns
    -------
    list of str
    """
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


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files from paths, folders (their spectrum files, sorted) and manifests ('path' column,
    relative to the manifest's folder and inside it).

    Parameters
    ----------
    inputs : list of Path

    Returns
    -------
    list of Path
    """
    files: list[Path] = []
    from tmdlearn.engine.zarrstore import is_zarr_store

    for item in inputs:
        if is_zarr_store(item):
            files.append(item)
        elif item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in SPECTRA_SUFFIXES)
            if not found:
                raise InputError(f"no spectrum files ({', '.join(SPECTRA_SUFFIXES)})", item)
            files += found
        elif item.is_file() and _is_manifest(item):
            with open(item, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            files += [contained(item.parent, row["path"], item).resolve()
                      for row in rows if row["path"]]
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


def in_model_unit(spectra: Spectra, unit: str, path: Path) -> Spectra:
    """``spectra`` on the peak model's axis unit.

    Parameters
    ----------
    spectra : Spectra
        Spectra in any unit (cm⁻¹, eV, nm).
    unit : str
        The model's unit.
    path : Path
        Their file, for the message.

    Returns
    -------
    Spectra
        Converted (nm <-> cm⁻¹ needs ``excitation_nm``), or ``spectra`` when already in ``unit``.
    """
    if spectra.unit == unit:
        return spectra
    try:
        return spectra.to_unit(unit)
    except ValueError:
        raise InputError(f"the spectra are in {spectra.unit} but the model in {unit}; set "
                         "read.excitation_nm (or read.unit)", path) from None


def preprocessed(intensity: np.ndarray, axis: np.ndarray, options: dict) -> np.ndarray:
    """Spectra despiked, baseline-subtracted and normalised spectrum by spectrum as the config's
    ``preprocess`` section says (``despike: map`` is done on the map beforehand).

    Parameters
    ----------
    intensity : (N, L) array
        Spectra, in intensity units (counts).
    axis : (L,) array
        Their axis (cm⁻¹ or eV).
    options : dict
        The ``preprocess`` section.

    Returns
    -------
    (N, L) array
    """
    from tmdlearn.spectra import preprocess
    from tmdlearn.spectra.despike import despike

    if options["despike"] != "map":  # map: done on the map before its spectra are taken
        intensity = despike(intensity, options["despike"], options["despike_threshold"])
    if options["baseline"] != "none":
        intensity = intensity - preprocess.baseline(intensity, axis, options["baseline"])
    if options["normalise"] != "none":
        intensity = preprocess.normalise(intensity, options["normalise"], axis)
    return intensity


def _despiked(data: SpectralMap, mask: np.ndarray, options: dict) -> SpectralMap:
    from tmdlearn.spectra.despike import despike

    return replace(data, intensity=despike(data.intensity, "map", options["despike_threshold"],
                                           mask, options["despike_spatial_k"]))


def examples_figure(outcome: Outcome):
    """Four spectra of a single input, or the first spectrum of each of up to four inputs, with
    their fitted components and residuals.

    Parameters
    ----------
    outcome : Outcome
        What :func:`run` returned.

    Returns
    -------
    Figure
    """
    return _figure(outcome.details["shown"], outcome.details["model"].unit)


def _figure(shown, unit: str):
    from tmdlearn.spectra.fit_figure import fit_figure, spread_indices

    if len(shown) == 1:
        result, axis, intensity, name = shown[0]
        panels = [(result, axis, intensity, i, f"{name} #{i}") for i in spread_indices(result)]
    else:
        panels = [(result, axis, intensity, 0, name) for result, axis, intensity, name in shown]
    return fit_figure(panels, unit)


def campaign_check(folder: str | Path) -> Outcome:
    """Every Raman spectrum of a synthetic MoS2 campaign (``tmdlearn synth``) fitted at once
    with the mos2-raman preset (+ sapphire lines), against its planted truth (``truth.csv``).

    Parameters
    ----------
    folder : str or Path
        The campaign folder.

    Returns
    -------
    Outcome
        Metrics: spectra, converged, ok (verdict), ``median_split_error_cm1`` (|fitted − planted
        A1g–E2g split| over the ok fits) and ``spearman_split_bilayer`` (fitted split vs the
        planted bilayer fraction of the spot); table ``spectra_fits``; figures ``spectra_split``
        and ``spectra_fit_examples``.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    from tmdlearn.io import open_dataset
    from tmdlearn.spectra import fit_peaks, load_model

    folder = Path(folder)
    data = open_dataset(folder).filter(modality="raman")
    truth = pd.read_csv(folder / "truth.csv").set_index("file")
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
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    axes[0].scatter(table["true_split"][ok], table["split_A1g_E2g"][ok], s=12)
    lims = [table["true_split"].min() - 0.3, table["true_split"].max() + 0.3]
    axes[0].plot(lims, lims, "k--", lw=0.8)
    axes[0].set(xlabel="planted A1g–E2g split (cm⁻¹)", ylabel="fitted split (cm⁻¹)",
                title=f"median |error| {np.median(error):.2f} cm⁻¹")
    axes[1].scatter(planted["spot_bilayer_fraction"][ok], table["split_A1g_E2g"][ok], s=12)
    axes[1].set(xlabel="planted bilayer fraction of the spot", ylabel="fitted split (cm⁻¹)",
                title=f"Spearman ρ = {rho:.2f}")
    columns = ["file", "E2g_center", "A1g_center", "split_A1g_E2g", "true_split",
               "ratio_2LA_A1g", "r2", "converged", "verdict", "reasons"]
    metrics = {"spectra": len(table), "converged": int(table["converged"].sum()),
               "ok": int(ok.sum()), "median_split_error_cm1": float(np.median(error)),
               "spearman_split_bilayer": float(rho), "verdicts": verdict_summary(table)[0]}
    return Outcome(metrics=metrics, tables={"spectra_fits": table[columns]},
                   figures={"spectra_split": fig, "spectra_fit_examples": _figure(
                       [(fit, spectra[0].axis, intensity, "campaign")], "cm-1")})


def _planted_split(truth: pd.DataFrame) -> pd.Series:
    """Height-weighted A1g minus E2g centre over the monolayer and bilayer parts of a spot."""
    def centre(mode: str) -> pd.Series:
        weights = [truth[f"{n}L_{mode}_height"] for n in (1, 2)]
        centres = [truth[f"{n}L_{mode}_center_cm1"] for n in (1, 2)]
        return sum(w * c for w, c in zip(weights, centres, strict=True)) / sum(weights)

    return centre("A1g") - centre("E2g")
