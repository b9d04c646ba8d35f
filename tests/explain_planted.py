"""A small planted Raman/PL map pair for the explain tests (tests only, not a simulator).

Eight Lorentzians at the wse2-raman positions with spatially varying heights; one PL Gaussian
whose height follows the A1' height strongly in the pristine half of a disc flake
(``coupling``) and only weakly in the defect half (marked in the Raman by a broader A1' and a
stronger 2LA); ``coupling=0`` removes the relation.
"""

import numpy as np

from tmdlearn.data.containers import SpectralMap

CENTERS = np.array([220.0, 245.0, 252.0, 259.0, 286.0, 360.0, 374.0, 395.0])
FWHM = np.array([8.0, 3.0, 3.0, 7.0, 9.0, 7.0, 7.0, 7.0])
HEIGHT = np.array([30.0, 60.0, 200.0, 90.0, 25.0, 20.0, 30.0, 25.0])
REGIONS = {0: "substrate", 1: "pristine", 2: "defect"}


def _smooth_field(rng, shape, scale=4.0):
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=shape), scale)
    return (field - field.mean()) / field.std()


def planted_pair(n=30, coupling=1.0, seed=0, noise=2.0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n]
    r = np.hypot(x - (n - 1) / 2, y - (n - 1) / 2)
    flake = r < 0.42 * n
    truth = np.where(flake, np.where(x < n / 2, 1, 2), 0)
    shift = np.arange(170.0, 420.0, 1.0)
    energy = np.linspace(1.40, 1.90, 200)
    # independent per-pixel variations: smooth random fields would correlate by chance
    heights = HEIGHT[None, None, :] * (1 + 0.3 * rng.standard_normal((n, n, CENTERS.size)))
    heights = np.clip(heights, 0.2 * HEIGHT, None) * flake[..., None]
    centers = CENTERS + 0.4 * rng.normal(size=(n, n, 8))
    widths = FWHM * (1 + 0.05 * rng.normal(size=(n, n, 8)))
    defect = truth == 2                 # defect signature: broader A1', stronger 2LA
    widths[defect, 2] *= 1.5
    heights[defect, 3] *= 1.5
    offset = (shift - centers[..., None]) / (widths[..., None] / 2)
    profile = heights[..., None] / (1 + offset ** 2)
    raman = profile.sum(axis=2) + 50 + 0.05 * shift + noise * rng.normal(size=(n, n, shift.size))
    a1 = (heights[..., 2] - HEIGHT[2]) / HEIGHT[2]          # relative A1' height
    pristine = truth == 1
    slope = np.where(pristine, 1.0, 0.15) * coupling
    pl_height = 1000 * (1 + slope * a1 + 0.03 * rng.normal(size=(n, n)))
    if coupling == 0:
        pl_height = 1000 * (1 + 0.3 * _smooth_field(rng, (n, n)))
    pl_height = np.where(flake, np.clip(pl_height, 200, None), 0)
    pl_center = 1.65 + 0.005 * rng.normal(size=(n, n))
    pl_fwhm = 0.05 * (1 + 0.05 * rng.normal(size=(n, n)))
    sigma = pl_fwhm / 2.3548
    z = (energy - pl_center[..., None]) / sigma[..., None]
    pl = pl_height[..., None] * np.exp(-0.5 * z ** 2)
    pl = pl + 20 + 5 * rng.normal(size=(n, n, energy.size))
    return {"raman": SpectralMap(raman, shift, "cm-1", 1.0, 532.0),
            "pl": SpectralMap(pl, energy, "eV", 1.0, 532.0),
            "truth": truth, "regions": REGIONS}
