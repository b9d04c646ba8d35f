"""Scan distortion measured from the two lattices of simulated bilayers with a planted one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from tmdlearn.stem.distortion import scan_distortion, undistort
from tmdlearn.synth.stem import StemSimConfig, simulate_image

#: A clean bilayer: no holes, edges or vacancies, a perfect microscope apart from the scan.
CLEAN = {"size_px": 256, "hole_probability": 0.0, "edge_probability": 0.0,
         "vacancy_fraction": 0.0, "thermal_sigma_angstrom": 0.0, "magnification_jitter": 0.0,
         "native_ratio": (1.0, 1.0), "amorphous_coverage": (0.0, 0.0)}


def _bonds(xy: np.ndarray) -> np.ndarray:
    return cKDTree(xy).query(xy, k=4)[0][:, 1:].ravel()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_scan_distortion_is_measured_and_removed(seed):
    micro = {"scan_scale": 0.05, "scan_shear": 0.04, "drift_angstrom": 0.0, "flyback_px": 0.0,
             "jitter_angstrom": 0.0}
    sample = simulate_image(StemSimConfig(microscope=micro, **CLEAN), seed)
    p = sample.params
    planted = np.array([[1 + p["scale_x"], p["shear"]], [0.0, 1 + p["scale_y"]]])
    # pixels are the inverse of the scan's affine map applied to the specimen, so the
    # measured D Dᵀ is A Aᵀ with A = inverse(planted), scaled to determinant 1
    a = np.linalg.inv(planted)
    measured = scan_distortion(sample.atoms)
    target = a @ a.T / np.sqrt(np.linalg.det(a @ a.T))
    assert np.allclose(measured @ measured.T, target, atol=2e-3)
    for layer in (0, 1):
        xy = sample.atoms[sample.atoms.layer == layer][["x_px", "y_px"]].to_numpy()
        before, after = _bonds(xy), _bonds(undistort(xy, measured))
        near = before < 1.2 * np.median(before)
        assert np.std(after[near]) < 0.1 * np.std(before[near])


def test_undistorted_image_gives_identity():
    micro = {"scan_scale": 0.0, "scan_shear": 0.0, "drift_angstrom": 0.0, "flyback_px": 0.0,
             "jitter_angstrom": 0.0}
    sample = simulate_image(StemSimConfig(microscope=micro, **CLEAN), 3)
    assert np.allclose(scan_distortion(sample.atoms), np.eye(2), atol=1e-3)
    assert np.allclose(scan_distortion(sample.atoms.iloc[:10]), np.eye(2))


def test_analysis_measures_bonds_without_the_scan_distortion():
    from tmdlearn.stem.analysis import analyse_atoms

    micro = {"scan_scale": 0.05, "scan_shear": 0.04, "drift_angstrom": 0.0, "flyback_px": 0.0,
             "jitter_angstrom": 0.0}
    sample = simulate_image(StemSimConfig(microscope=micro, **CLEAN), 1)
    atoms = sample.atoms.assign(species="C")
    pix = sample.pixel_size_angstrom
    fixed = analyse_atoms(atoms, pix, n_boot=10)
    raw = analyse_atoms(atoms, pix, n_boot=10, undistort=False)
    bonds, raw_bonds = fixed["bond_statistics"], raw["bond_statistics"]
    pooled = bonds[bonds.layer == "all"].iloc[0]
    assert fixed["scan_distortion"]["anisotropy_percent"] > 3
    # the overall scale (pixel-size calibration) is kept: the mean stays within the planted 2 %
    assert abs(pooled["mean_angstrom"] / 1.42 - 1) < 0.02
    assert pooled["fwhm_angstrom"] < 0.3 * raw_bonds[raw_bonds.layer == "all"].iloc[0][
        "fwhm_angstrom"]
