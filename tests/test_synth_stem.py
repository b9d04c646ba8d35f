"""The twisted-bilayer STEM simulator against planted ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree
from skimage.measure import label, regionprops

from tmdlearn.errors import InputError
from tmdlearn.synth.stem import StemSimConfig, simulate_batch, simulate_image

CLEAN = {"dose": 1e6, "contamination": 0.0, "background": 0.0, "hole_probability": 0.0,
         "edge_probability": 0.0, "vacancy_fraction": 0.0, "size_px": 128}


def _pixel(coordinate) -> np.ndarray:
    return np.round(np.asarray(coordinate)).astype(int).clip(0, 127)


def test_atoms_land_where_planted():
    sample = simulate_image(StemSimConfig(**CLEAN), seed=3)
    image, atoms = sample.image.astype(float), sample.atoms
    xy = atoms[["x_px", "y_px"]].to_numpy()
    tree = cKDTree(xy)
    # atoms at least 9 px from any other column and 6 px from the border
    dist, _ = tree.query(xy, k=2)
    ok = (dist[:, 1] > 9) & (xy.min(axis=1) > 6) & (xy.max(axis=1) < 121)
    assert ok.sum() > 10
    yy, xx = np.mgrid[:128, :128]
    errors = []
    for x, y in xy[ok]:
        w = image * ((xx - x) ** 2 + (yy - y) ** 2 <= 16)
        errors.append(np.hypot((w * xx).sum() / w.sum() - x, (w * yy).sum() / w.sum() - y))
    assert np.median(errors) < 0.3
    # brighter on atoms than between them
    on = image[_pixel(xy[:, 1]), _pixel(xy[:, 0])]
    assert on.mean() > 1.5 * image.mean()


def test_labels_are_disks_centred_on_atoms():
    cfg = StemSimConfig(**{**CLEAN, "thermal_sigma_angstrom": (0.05, 0.05)})
    sample = simulate_image(cfg, seed=5)
    radius_px = cfg.label_radius_angstrom / sample.pixel_size_angstrom
    for layer in range(2):
        truth = sample.atoms[sample.atoms.layer == layer][["x_px", "y_px"]].to_numpy()
        tree = cKDTree(truth)
        blobs = [r for r in regionprops(label(sample.labels[layer, 0]))
                 if min(r.bbox[:2]) > 0 and max(r.bbox[2:]) < 128]
        assert len(blobs) > 50
        centroids = np.array([r.centroid[::-1] for r in blobs])
        dist, _ = tree.query(centroids)
        assert np.median(dist) < 0.1 and np.max(dist) < 0.3
        # exact disks: a pixel is labelled if and only if it lies within the radius of an atom
        yy, xx = np.mgrid[:128, :128]
        nearest, _ = tree.query(np.column_stack([xx.ravel(), yy.ravel()]))
        interior = (np.minimum(xx, yy) > radius_px + 1) & (np.maximum(xx, yy) < 126 - radius_px)
        interior = interior.ravel()
        assert np.array_equal(sample.labels[layer, 0].ravel()[interior],
                              nearest[interior] <= radius_px)
        areas = np.array([r.area for r in blobs])
        assert np.allclose(areas.mean(), np.pi * radius_px**2, rtol=0.1)


def test_graphene_bond_length_from_truth():
    cfg = StemSimConfig(**{**CLEAN, "magnification_jitter": 0.0, "thermal_sigma_angstrom": 0.0})
    sample = simulate_image(cfg, seed=1)
    for layer in range(2):
        xy = sample.atoms[sample.atoms.layer == layer][["x_px", "y_px"]].to_numpy()
        dist, _ = cKDTree(xy).query(xy, k=2)
        bond = dist[:, 1] * sample.pixel_size_angstrom
        assert np.allclose(bond, 1.42, atol=0.01)


@pytest.mark.parametrize("scenario, expect", [
    ("none", [0.0, 0.0]), ("layer", [0.0, 0.6]), ("both", [0.6, 0.6]), ("sublayer", [0.0, 0.3]),
])
def test_se_fraction_scenarios(scenario, expect):
    cfg = StemSimConfig(**{**CLEAN, "material": "ws2", "se_scenario": scenario,
                           "se_fraction": (0.6, 0.6), "size_px": 256})
    sample = simulate_image(cfg, seed=2)
    chalcogen = sample.atoms[sample.atoms.species > 0]
    per_layer = chalcogen.groupby("layer")
    fractions = sorted(per_layer.n_se.sum() / (2 * per_layer.size()))
    assert np.allclose(fractions, expect, atol=0.07)
    # the species channel follows the number of Se atoms in the column
    assert (chalcogen.species == 1 + chalcogen.n_se).all()


def test_heavier_columns_are_brighter():
    cfg = StemSimConfig(**{**CLEAN, "material": "ws2", "se_scenario": "none"})
    sample = simulate_image(cfg, seed=4)
    a = sample.atoms
    peak = sample.image[_pixel(a.y_px), _pixel(a.x_px)]
    # W (Z=74) against an S2 column (2 x Z=16): Z**n with n >= 1.6 makes W clearly brighter
    assert np.median(peak[a.species == 0]) > 2 * np.median(peak[a.species == 1])


def test_column_gamma_compresses_the_columns_contrast():
    """The clean signal (1 = a W column's peak) raised to column_gamma: at 0.5 each column's
    peak over the W peak is the square root of what it was, and the drawn power is recorded."""
    base = {**CLEAN, "material": "ws2", "layers": 1, "se_scenario": "none", "z_exponent": 1.8,
            "metal_z_offset": 0.2}
    plain, compressed = (simulate_image(StemSimConfig(**base, column_gamma=g), seed=4)
                         for g in (1.0, 0.5))
    a = plain.atoms
    ratio = []
    for sample in (plain, compressed):
        peak = sample.image[_pixel(a.y_px), _pixel(a.x_px)]
        ratio.append(np.median(peak[a.species == 1]) / np.median(peak[a.species == 0]))
    assert ratio[0] < 0.3  # S2 against W, as drawn
    assert ratio[1] == pytest.approx(np.sqrt(ratio[0]), rel=0.05)
    assert compressed.params["column_gamma"] == 0.5
    drawn = simulate_image(StemSimConfig(**base, column_gamma=(0.5, 1.2)), seed=4)
    assert 0.5 <= drawn.params["column_gamma"] <= 1.2 and drawn.params["column_gamma"] != 1.0


def test_deterministic_and_seeded():
    cfg = StemSimConfig(size_px=64)
    a, b, c = (simulate_batch(cfg, seed, "train", 0, 2) for seed in (0, 0, 1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    test = simulate_batch(cfg, 0, "test", 0, 1)
    assert not np.array_equal(a[0][0], test[0][0])


def test_bad_config():
    with pytest.raises(InputError):
        StemSimConfig.from_dict({"material": "mos3"})
    with pytest.raises(InputError):
        StemSimConfig.from_dict({"twist": 3})
    with pytest.raises(InputError, match="column_gamma"):
        StemSimConfig.from_dict({"column_gamma": [0.0, 1.0]})
