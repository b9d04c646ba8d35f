"""Apply a run's saved models to new measurements (single-input models; fusion models need
paired inputs and are applied through :func:`tmdlearn.crossmodal.workflow.run`)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.crossmodal.data import SpectrumGrid, preprocess_spectrum
from tmdlearn.crossmodal.readout import READOUTS, read_feature
from tmdlearn.crossmodal.saved import load_models
from tmdlearn.data import HeightMap, Spectra
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.outcome import Outcome


def load_run(folder: str | Path, trust_mismatch: bool = False) -> dict:
    """The config, saved models and their folders (``model_folders``) of a ``tmdlearn
    crossmodal run`` folder (each model's card checked,
    :func:`tmdlearn.crossmodal.saved.load_models`).

    Parameters
    ----------
    folder : str or Path
        A ``crossmodal run`` folder (with run.json and models/).
    trust_mismatch : bool
        Load even when a model folder's checksums do not match its card.

    Returns
    -------
    dict
        config, models (by name), folder and model_folders.
    """
    folder = Path(folder)
    run_json = folder / "run.json"
    if not run_json.is_file():
        raise InputError("not a crossmodal run folder (no run.json)", folder)
    try:
        record = json.loads(run_json.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError("run.json is not JSON", run_json) from None
    wrote = record.get("command_name") if isinstance(record, dict) else None
    config = record.get("config") if isinstance(record, dict) else None
    if wrote and not str(wrote).endswith("crossmodal run") or not isinstance(config, dict) \
            or not {"data", "embedding", "generation"} <= set(config):
        raise InputError("not a crossmodal run folder" + (f": it holds a `{wrote}` run" if wrote
                                                          else ""), folder)
    models = load_models(folder / "models", config, trust_mismatch)
    if not models:
        raise InputError("the run folder holds no models", folder / "models")
    return {"config": config, "models": models, "folder": folder,
            "model_folders": [folder / "models" / name for name in models],
            "filters": record.get("filters") or {}}


def _grids(config: dict) -> dict[str, SpectrumGrid]:
    d = config["data"]
    return {"raman": SpectrumGrid(tuple(d["raman_window_cm1"]), int(d["raman_points"]), "cm-1"),
            "pl": SpectrumGrid(tuple(d["pl_window_ev"]), int(d["pl_points"]), "eV")}


def modality_of(item) -> str:
    """``afm`` for a height map, ``raman`` for spectra in cm⁻¹, ``pl`` for eV or nm.

    Parameters
    ----------
    item : HeightMap or Spectra
        A measurement read by :func:`tmdlearn.io.read`.

    Returns
    -------
    str
    """
    if isinstance(item, HeightMap):
        return "afm"
    if isinstance(item, Spectra):
        return "raman" if item.unit == "cm-1" else "pl"
    raise InputError(f"cannot use a {type(item).__name__} here: give AFM maps or spectra")


def predict_files(files, run: dict) -> tuple[pd.DataFrame, dict]:
    """Predictions for each file: a table (one row per file) and generated spectra
    ``{name: (axis, values, unit)}``.

    Parameters
    ----------
    files : sequence of str or Path
        AFM height maps or Raman / PL spectra.
    run : dict
        A run of :func:`load_run`.

    Returns
    -------
    table : DataFrame
        One row per file: file, modality, regression predictions ("<target> (<model>)"),
        read-out features of generated spectra and of the feature heads, the input's T² and Q
        over their limits among the run's training inputs (above 1: outside them), a
        ``warning`` ('' or why the predictions are extrapolations) and, for a file that cannot
        be read or used (a wrong axis, a damaged file), its ``error`` (the others are still
        predicted).
    generated : dict
        Name to (axis (L,) in cm⁻¹ or eV, normalised intensities (L,), unit).
    """
    rows, generated = [], {}
    for path in files:
        try:
            row, made = _predict_file(path, run)
        except InputError as err:  # this file's problem: the others are still predicted
            row, made = {"file": str(path), "error": err.problem}, {}
        rows.append(row)
        generated.update(made)
    return pd.DataFrame(rows), generated


def _predict_file(path, run: dict) -> tuple[dict, dict]:
    """One file's row of :func:`predict_files` and its generated spectra."""
    from tmdlearn.afm.embed import embed
    from tmdlearn.afm.level import level
    from tmdlearn.io import read

    config, models, grids = run["config"], run["models"], _grids(run["config"])
    # the run's read-out peaks (runs saved before the key: the plain presets)
    include = config["generation"].get("readout_include", {})
    generated = {}
    item = read(path)
    modality = modality_of(item)
    row: dict = {"file": str(path), "modality": modality}
    warnings = []
    if modality == "afm":
        warnings.append(_scan_warning(item, run.get("filters", {})))
        emb = config["embedding"]
        x = embed([level(item)], backbone=emb["backbone"], weights=emb["weights"],
                  device="cpu", clip_nm=float(emb["clip_nm"]))
    else:
        grid = grids[modality]
        spectra = item.to_unit(grid.unit) if item.unit != grid.unit else item
        x = preprocess_spectrum(spectra.intensity.mean(axis=0), spectra.axis, grid,
                                str(path))[None]
        bundle = models.get(f"regression_{modality}")
        if bundle is not None:
            for model in ("ridge", "svr"):
                for target, estimator in (bundle.get(model) or {}).items():
                    row[f"{target} ({model})"] = float(estimator.predict(x)[0])
            if "mlp" in bundle:
                values = bundle["mlp"].predict(x)[0]
                for target, value in zip(bundle["targets"], values, strict=True):
                    row[f"{target} (mlp)"] = float(value)
            for target, model in (bundle.get("cv_chosen") or {}).items():  # older runs: none
                row[f"{target} (cv-chosen: {model})"] = row.get(f"{target} ({model})")
    domain = models.get(f"domain_{modality}")
    if modality == "afm" and domain is not None:
        warnings.append(_resolution_warning(item, domain.pixel_size_nm))
    if domain is not None:  # runs saved before domains: not checked
        t2, q = domain.scores(x)
        row.update(input_t2_over_limit=float(t2[0] / domain.t2_limit),
                   input_q_over_limit=float(q[0] / domain.q_limit))
        warnings.append(domain.describe(t2, q)[0])
    row["warning"] = "; ".join(w for w in warnings if w)
    for output in ("raman", "pl"):
        task = f"{modality}->{output}"
        generator = models.get(f"generator_{task}")
        if generator is None:
            continue
        spectrum = generator.predict(x)
        axis = grids[output].axis
        name = f"{Path(path).stem}_{modality}_to_{output}"
        generated[name] = (axis, spectrum[0], grids[output].unit)
        feature = _feature_column(output)
        row[f"{feature}_from_generated"] = float(read_feature(
            spectrum, axis, output, include=include.get(output, []))[0])
        head = models.get(f"head_{task}")
        if head is not None:
            row[f"{feature}_head"] = float(np.ravel(head.predict(x))[0])
    return row, generated


def _scan_warning(image, filters: dict) -> str:
    """'' or why an AFM image is outside what the run was trained on: a scan size more than
    10 % from the run's (``run.json`` filters, e.g. 1 µm), whose embedding the models never saw."""
    trained = (filters.get("afm") or {}).get("scan_size_um")
    scan = image.pixel_size_nm * image.shape[1] / 1000.0
    if not trained or abs(scan / float(trained) - 1) <= 0.1:
        return ""
    return (f"a {scan:.3g} µm scan; the models were trained on {float(trained):g} µm scans: "
            "its predictions are extrapolations")


def _resolution_warning(image, trained_nm: float) -> str:
    """'' or why an AFM image's pixel size (nm) more than 25 % from the training maps' median
    (``trained_nm``; NaN: not recorded) makes its embedding an extrapolation."""
    if not np.isfinite(trained_nm) or abs(image.pixel_size_nm / trained_nm - 1) <= 0.25:
        return ""
    return (f"{image.pixel_size_nm:.3g} nm pixels; the models were trained on "
            f"{trained_nm:.3g} nm pixels (another resolution): its predictions are "
            "extrapolations")


def _feature_column(output: str) -> str:
    """The read-out feature's column stem with its unit: ``raman_split_A1g_E2g_cm1``
    (A1g–E2g split, cm⁻¹) or ``pl_A_fwhm_eV`` (A-exciton FWHM, eV)."""
    unit = "cm1" if output == "raman" else "eV"
    return f"{output}_{READOUTS[output][1]}_{unit}"


def predict(files, folder: str | Path, trust_mismatch: bool = False) -> Outcome:
    """``crossmodal predict``: the models of the run ``folder`` applied to ``files``
    (:func:`predict_files`): table ``predictions``, ``generated/<name>.csv`` per generated
    spectrum (axis, intensity), the run's models as the loaded ones.

    Parameters
    ----------
    files : sequence of str or Path
        AFM height maps or Raman / PL spectra.
    folder : str or Path
        A ``crossmodal run`` folder.
    trust_mismatch : bool
        Load even when a model folder's checksums do not match its card.

    Returns
    -------
    Outcome
    """
    run = load_run(folder, trust_mismatch)
    table, generated = predict_files(files, run)
    writers = {f"generated/{name}.csv": partial(_write_spectrum, axis=axis, values=values,
                                                unit=unit)
               for name, (axis, values, unit) in generated.items()}
    failed = int(table["error"].notna().sum()) if "error" in table else 0
    return Outcome(metrics={"files": len(table), "failed": failed, "generated": len(generated)},
                   tables={"predictions": table}, files=writers, folders=("", ""),
                   loaded_models=run["model_folders"])


def _write_spectrum(path: Path, axis, values, unit: str) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame({f"axis_{unit}": axis, "intensity": values}).to_csv(tmp, index=False)
