"""Physical read-outs of spectra (the study's Table 6, S6): the A1g–E2g split (cm⁻¹) of Raman and
the A-exciton FWHM (eV) of PL, fitted with the spectroscopy engine (presets ``mos2-raman`` and
``mos2-pl``) on generated and on true spectra."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tmdlearn.spectra import fit_peaks, load_model

#: modality -> (peak preset, fitted column, label with unit)
READOUTS = {"raman": ("mos2-raman", "split_A1g_E2g", "A1g–E2g split (cm-1)"),
            "pl": ("mos2-pl", "A_fwhm", "PL A FWHM (eV)")}


def read_feature(spectra: np.ndarray, axis: np.ndarray, modality: str,
                 only_ok: bool = True, include: Sequence[str] = ()) -> np.ndarray:
    """The modality's read-out feature (N,) from (N, L) spectra on ``axis``; NaN where the
    fit failed or a peak it uses is absent and, with ``only_ok``, where the verdict is not
    ``ok`` (:mod:`tmdlearn.spectra.quality`).

    Parameters
    ----------
    spectra : (N, L) array
        Spectra (e.g. min-max normalised).
    axis : (L,) array
        Raman shift (cm⁻¹) or photon energy (eV).
    modality : str
        "raman" or "pl" (a key of :data:`READOUTS`).
    only_ok : bool
        Keep only fits whose verdict is ok.
    include : sequence of str
        Optional peaks of the preset to fit too (the workflow's ``generation.readout_include``,
        e.g. the sapphire lines).

    Returns
    -------
    (N,) array
        A1g–E2g split (cm⁻¹) for Raman, A-exciton FWHM (eV) for PL.
    """
    preset, column, _ = READOUTS[modality]
    model = load_model(preset, tuple(include))
    fit = fit_peaks(np.asarray(spectra, dtype=float), model, axis=axis, progress=False)
    feature = fit.table()[column].to_numpy(dtype=float, copy=True)
    if only_ok:
        feature[fit.verdict != "ok"] = np.nan
    return feature
