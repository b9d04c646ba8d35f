"""Raman / PL spectroscopy: preprocessing, batched peak fitting and peak features.

>>> from tmdlearn.spectra import fit_peaks, load_model
>>> fit = fit_peaks(intensity, "mos2-raman", axis=shift_cm1)   # (N, L), (L,)
>>> table = fit.table()          # E2g_center, ..., split_A1g_E2g, r2, ..., verdict, reasons
"""

from tmdlearn.spectra.curves import model_curves
from tmdlearn.spectra.despike import (
    DESPIKE,
    despike,
    despike_difference,
    despike_map,
    despike_whitaker_hayes,
)
from tmdlearn.spectra.features import derived_features, feature_vector, fit_table, vector_columns
from tmdlearn.spectra.mapfit import fit_map, parameter_maps
from tmdlearn.spectra.peakmodel import PRESETS, Peak, PeakModel, Region, load_model
from tmdlearn.spectra.peaks import STATUS, PeakFit, fit_peaks
from tmdlearn.spectra.preprocess import (
    anchor_baseline,
    background_mask,
    baseline,
    crop,
    normalise,
    resample,
)
from tmdlearn.spectra.presence import noise_sigma
from tmdlearn.spectra.quality import VERDICTS

__all__ = [
    "DESPIKE",
    "PRESETS",
    "STATUS",
    "VERDICTS",
    "Peak",
    "PeakFit",
    "PeakModel",
    "Region",
    "anchor_baseline",
    "background_mask",
    "baseline",
    "crop",
    "derived_features",
    "despike",
    "despike_difference",
    "despike_map",
    "despike_whitaker_hayes",
    "feature_vector",
    "fit_map",
    "fit_peaks",
    "fit_table",
    "load_model",
    "model_curves",
    "noise_sigma",
    "normalise",
    "parameter_maps",
    "resample",
    "vector_columns",
]
