"""Typed containers, the dataset manifest, modality pairing and grouped splits."""

from tmdlearn.data.containers import (
    EV_IN_CM1,
    HC_EV_NM,
    HeightMap,
    Spectra,
    SpectralMap,
    StemImage,
    ev_to_nm,
    nm_to_ev,
    raman_shift_to_wavelength,
    wavelength_to_raman_shift,
)
from tmdlearn.data.manifest import MODALITIES, Dataset, Pairs
from tmdlearn.data.splits import grouped_holdout, grouped_kfold

__all__ = [
    "EV_IN_CM1",
    "HC_EV_NM",
    "Dataset",
    "HeightMap",
    "MODALITIES",
    "Pairs",
    "SpectralMap",
    "Spectra",
    "StemImage",
    "ev_to_nm",
    "grouped_holdout",
    "grouped_kfold",
    "nm_to_ev",
    "raman_shift_to_wavelength",
    "wavelength_to_raman_shift",
]
