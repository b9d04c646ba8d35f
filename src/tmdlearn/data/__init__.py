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

__all__ = [
    "EV_IN_CM1",
    "HC_EV_NM",
    "HeightMap",
    "SpectralMap",
    "Spectra",
    "StemImage",
    "ev_to_nm",
    "nm_to_ev",
    "raman_shift_to_wavelength",
    "wavelength_to_raman_shift",
]
