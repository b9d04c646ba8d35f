"""Planted paired AFM features / Raman / PL data for the cross-modal tests.

A latent coverage ``a`` per sample drives the image features strongly, the Raman A1g–E2g split
(18 + 5a cm⁻¹) strongly and the PL only weakly; a second latent ``b`` drives the PL width.
"""

from __future__ import annotations

import numpy as np

from tmdlearn.crossmodal.data import PL_GRID, RAMAN_GRID, CrossModalData
from tmdlearn.spectra import normalise


def lorentzian(x, center, fwhm, height):
    return height / (1 + ((x - center) / (fwhm / 2)) ** 2)


def gaussian(x, center, fwhm, height):
    return height * np.exp(-4 * np.log(2) * ((x - center) / fwhm) ** 2)


def planted(n_samples: int = 24, locations: int = 2, n_features: int = 32,
            seed: int = 0) -> tuple[CrossModalData, dict]:
    rng = np.random.default_rng(seed)
    a_sample, b_sample = rng.uniform(0, 1, n_samples), rng.uniform(0, 1, n_samples)
    keys, a, b = [], [], []
    for s in range(n_samples):
        for loc in range(locations):
            keys.append((f"S{s:03d}", f"L{loc}"))
            a.append(np.clip(a_sample[s] + rng.normal(0, 0.03), 0, 1))
            b.append(np.clip(b_sample[s] + rng.normal(0, 0.03), 0, 1))
    a, b = np.asarray(a), np.asarray(b)
    n = len(keys)
    mixing = rng.normal(size=(3, n_features))
    latent = np.stack([a, a ** 2, rng.normal(0, 0.05, n)], axis=1)
    features = latent @ mixing + rng.normal(0, 0.05, (n, n_features))
    x_r, x_p = RAMAN_GRID.axis, PL_GRID.axis
    split = 18 + 5 * a
    e2g = 385.5 - 1.0 * a
    raman = (lorentzian(x_r[None], e2g[:, None], 4, 0.6 + 0.3 * a[:, None])
             + lorentzian(x_r[None], (e2g + split)[:, None], 5, 1.0)
             + lorentzian(x_r[None], 455, 12, 0.15)
             + rng.normal(0, 0.01, (n, x_r.size)))
    pl_fwhm = 0.05 + 0.04 * b + 0.005 * a
    pl = (gaussian(x_p[None], 1.88, pl_fwhm[:, None], 1.0)
          + gaussian(x_p[None], 1.84, 0.07, 0.3) + gaussian(x_p[None], 2.03, 0.1, 0.25)
          + rng.normal(0, 0.01, (n, x_p.size)))
    data = CrossModalData(keys, [np.zeros((4, 4), np.float32)] * n, normalise(raman),
                          normalise(pl), x_r, x_p, image_features=features.astype(np.float32))
    return data, {"a": a, "b": b, "split": split, "pl_fwhm": pl_fwhm}
