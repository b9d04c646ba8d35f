"""The HAADF detector of the STEM simulator: Poisson electron counting at the drawn dose, a
scintillator/PMT pulse-height spread (each electron's pulse Gamma distributed), readout noise, a
dark offset, a slow gain drift from line to line, a non-linear (power-law) response and a 16-bit
ADC (:func:`detect`).
"""

from __future__ import annotations

import numpy as np

from tmdlearn.synth.scan import smooth_series

#: ADC full scale of a 16-bit detector image, counts.
ADC_MAX = 65535.0


def detect(signal: np.ndarray, p: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Detector counts (float32, whole numbers in 0..65535) of a clean ``signal`` (1 = the
    mean electron count ``dose`` of a reference column), line by line along axis 0.

    Parameters
    ----------
    signal : (ny, nx) array
    p : dict
        A drawn microscope.
    rng : Generator

    Returns
    -------
    (ny, nx) float32 array
    """
    gain_drift = 1 + smooth_series(rng, signal.shape[0], max(signal.shape[0] / 10, 2),
                                    p["line_gain"])
    electrons = rng.poisson(np.clip(signal, 0, None) * p["dose"] * gain_drift[:, None])
    k = p["pulse_shape"]
    pulses = rng.gamma(np.maximum(electrons * k, 1e-9), 1 / k) * (electrons > 0)
    pulses = pulses + rng.normal(0, p["readout_sigma"], pulses.shape)
    top = max(float(np.percentile(pulses, 99.9)), 1e-9)
    response = top * np.sign(pulses) * (np.abs(pulses) / top) ** p["gamma"]
    counts = p["dark_offset"] + p["fill"] * (ADC_MAX - p["dark_offset"]) / top * response
    high = ADC_MAX
    if p["saturate"] > 0:
        high = min(high, float(np.percentile(counts, 100 * (1 - p["saturate"]))))
    return np.round(np.clip(counts, 0, high)).astype(np.float32)
