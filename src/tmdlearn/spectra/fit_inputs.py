"""The in-memory fit of the spectra workflow: every spectrum file and map pixel (masked,
despiked, converted, preprocessed) fitted with the peak model into one ``fits`` table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track
from tmdlearn.spectra.prepare import despiked_map, fit_options, in_model_unit, preprocessed


def fit_inputs(items: list[tuple[Path, Spectra | SpectralMap]], peak_model, config: dict,
               progress: bool | None = None) -> Outcome:
    """Fit the model to every spectrum and map pixel of ``items``, held in memory.

    Parameters
    ----------
    items : list of (Path, Spectra or SpectralMap)
        The inputs read by :func:`tmdlearn.spectra.workflow.load`.
    peak_model : PeakModel
        The model fitted to each spectrum.
    config : dict
        The spectra workflow's config (its ``mask``, ``preprocess``, ``fit`` and ``verdict``).
    progress : bool, optional
        Progress bars on, off or on a terminal only (None).

    Returns
    -------
    Outcome
        As :func:`tmdlearn.spectra.workflow.run` describes.
    """
    options = fit_options(config)
    tables, shown, fitted_maps = [], [], []
    with showing(progress):
        for path, data in track(items, "fitting"):
            data, spectra, mask, x_um, y_um = _spectra_of(path, data, config)
            spectra = in_model_unit(spectra, peak_model.unit, path)
            intensity = preprocessed(spectra.intensity, spectra.axis, config["preprocess"])
            result = _fitted(intensity, peak_model, spectra.axis, options)
            if x_um is not None:
                result.metadata.update(x_um=x_um, y_um=y_um)
                fitted_maps.append((path, data, mask, result, config))
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


def _spectra_of(path: Path, data, cfg: dict):
    """The spectra of one input (a map's masked pixels, despiked as a map if asked), the map
    and its mask, and the pixels' coordinates (µm; None for spectrum files)."""
    from tmdlearn.spectra.preprocess import background_mask

    if not isinstance(data, SpectralMap):
        if cfg["preprocess"]["despike"] == "map":
            raise InputError("preprocess.despike map needs a map input", path)
        return data, data, None, None, None
    mask = np.ones(data.shape, dtype=bool)
    if cfg["mask"]["method"] == "corners":
        mask = background_mask(data.intensity, float(cfg["mask"]["k"]),
                               int(cfg["mask"]["corner"]))
    elif cfg["mask"]["method"] != "none":
        raise InputError("mask.method must be none or corners")
    if cfg["preprocess"]["despike"] == "map":
        data = despiked_map(data, mask, cfg["preprocess"])
    x_um, y_um = (c[mask] for c in data.coordinates_um())
    return data, data.spectra(mask), mask, x_um, y_um


def _fitted(intensity: np.ndarray, peak_model, axis: np.ndarray, options: dict):
    from tmdlearn.spectra import fit_peaks

    try:
        return fit_peaks(intensity, peak_model, axis, **options)
    except TypeError as err:
        raise InputError(f"bad fit option in the config: {err}") from None
