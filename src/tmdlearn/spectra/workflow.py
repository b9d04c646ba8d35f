"""The spectra workflow: read, mask, convert, preprocess and fit spectra and maps."""

from __future__ import annotations

#: Defaults of ``spectra fit`` / ``spectra features``; any key can be set with ``--set``.
DEFAULTS = {
    "read": {"unit": None, "excitation_nm": None},
    # despike: none, difference, whitaker-hayes or map (maps only; spikes confirmed by the 3 x 3
    # neighbours); despike_threshold None: the method's default
    "preprocess": {"despike": "none", "despike_threshold": None, "despike_spatial_k": 6.0,
                   "baseline": "none", "normalise": "none"},
    "mask": {"method": "none", "k": 3.0, "corner": 3},
    "fit": {"solver": "lm", "backend": "numpy", "device": "auto", "dtype": "float64",
            "max_iter": None, "position_weight": 0.0, "chunk_size": 65536},
    # None: the model's value or tmdlearn.spectra.quality.DEFAULTS; enabled false skips it
    "verdict": {"enabled": True, "main": None, "present_dbic": None, "weak_snr": None,
                "chi2_max": None, "chi2_min": None, "misfit_max": None,
                "saturation_run": None, "saturation_snr": None},
}
