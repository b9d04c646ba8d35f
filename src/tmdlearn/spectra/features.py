"""Features from peak fits: the output table, derived quantities and the studies' vectors.

A model's ``features`` list defines derived columns, each one of
``{name: ..., difference: [a, b]}`` (a - b) or ``{name: ..., ratio: [a, b]}`` (a / b) over the
fit's columns (``A1g_center``, ``2LA_height``, ...). Its ``vector`` lists the columns of the
study's feature vector (the WSe2 study's 24 Raman values: centre, FWHM and height of its eight
Lorentzians; its 3 PL values: those of one Gaussian); without one, the vector is every peak's
centre, FWHM and height.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmdlearn.errors import InputError
from tmdlearn.spectra.peakmodel import PeakModel

_OPERATIONS = {"difference": np.subtract, "ratio": np.divide}
_PARTS = ("center", "fwhm", "height", "eta")


def derived_features(columns: dict[str, np.ndarray], model: PeakModel) -> dict[str, np.ndarray]:
    """The model's derived features computed from fitted ``columns``.

    Parameters
    ----------
    columns : dict of (N,) arrays
        Fitted values by column name.
    model : PeakModel

    Returns
    -------
    dict of (N,) arrays
    """
    out = {}
    for spec in model.features:
        operation = [op for op in _OPERATIONS if op in spec]
        if "name" not in spec or len(operation) != 1:
            raise InputError(f"feature {spec!r} needs a name and one of {sorted(_OPERATIONS)}")
        first, second = spec[operation[0]]
        missing = [c for c in (first, second) if c not in columns]
        if missing:
            raise InputError(f"feature {spec['name']!r} uses unknown columns {missing}")
        with np.errstate(divide="ignore", invalid="ignore"):
            out[spec["name"]] = _OPERATIONS[operation[0]](columns[first], columns[second])
    return out


def fit_table(fit, blank_absent: bool = True) -> pd.DataFrame:
    """One row per spectrum: ``x_um, y_um`` (maps), per peak ``<peak>_center``, ``_fwhm``,
    ``_height`` each followed by its ``_stderr``, then (judged fits) ``<peak>_snr``,
    ``_dbic``, ``_present``; the derived features, then ``r2, rmse``, (judged) ``noise,
    chi2``, ``converged, status``, (judged) ``verdict, reasons``.

    Parameters
    ----------
    fit : PeakFit
    blank_absent : bool
        NaN for the values of a peak that is not present (and the features built from them);
        ``fit.values`` keeps what the solver returned.

    Returns
    -------
    DataFrame
    """
    table: dict[str, np.ndarray] = {}
    judged = fit.quality
    for key in ("x_um", "y_um"):
        if key in fit.metadata:
            table[key] = np.asarray(fit.metadata[key])
    peak_columns = {}
    for k, peak in enumerate(fit.model.peaks):
        absent = None if judged is None or not blank_absent else ~judged["present"][:, k]
        for part in _PARTS:
            name = f"{peak.name}_{part}"
            if name in fit.names:
                i = fit.names.index(name)
                value, error = fit.values[:, i], fit.stderr[:, i]
                if absent is not None:
                    value = np.where(absent, np.nan, value)
                    error = np.where(absent, np.nan, error)
                table[name], table[f"{name}_stderr"] = value, error
                peak_columns[name] = value
        if judged is not None:
            table[f"{peak.name}_snr"] = judged["snr"][:, k]
            table[f"{peak.name}_dbic"] = judged["dbic"][:, k]
            table[f"{peak.name}_present"] = judged["present"][:, k]
    table.update(derived_features(peak_columns, fit.model))
    table.update(r2=fit.r2, rmse=fit.rmse)
    if judged is not None:
        table.update(noise=judged["noise"], chi2=judged["chi2"])
    table.update(converged=fit.converged, status=fit.status_names)
    if judged is not None:
        table.update(verdict=fit.verdict, reasons=fit.reasons)
    return pd.DataFrame(table)


def vector_columns(model: PeakModel) -> list[str]:
    """Names of the model's feature-vector columns.

    Parameters
    ----------
    model : PeakModel

    Returns
    -------
    list of str
    """
    if model.vector:
        return list(model.vector)
    return [f"{p.name}_{part}" for p in model.peaks for part in ("center", "fwhm", "height")]


def feature_vector(table: pd.DataFrame, model: PeakModel) -> np.ndarray:
    """The study's feature vector from a fit table (see :func:`vector_columns`).

    Parameters
    ----------
    table : DataFrame
        A :func:`fit_table`.
    model : PeakModel

    Returns
    -------
    (N, D) array
    """
    columns = vector_columns(model)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"the fit table lacks the columns {missing} of model {model.name!r}")
    return table[columns].to_numpy(dtype=float)
