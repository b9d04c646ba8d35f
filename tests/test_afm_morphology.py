"""Morphology features on synthetic images with planted answers."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk as draw_disk
from skimage.feature import graycomatrix, graycoprops

from tmdlearn.afm.morphology import (
    bilayer_fraction,
    count_domains,
    dog_blob_count,
    features_table,
    film_mask,
    glcm_features,
    grain_boundaries,
    morphology_features,
    roughness,
    step_edges,
)
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError

N = 256


def _islands(centres, radius=10, step=0.65, noise=0.03, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.normal(0, noise, (N, N))
    truth = np.zeros((N, N), dtype=bool)
    for c in centres:
        rr, cc = draw_disk(c, radius, shape=(N, N))
        truth[rr, cc] = True
    return h + step * truth, truth


GRID = [(30 + 40 * i, 30 + 40 * j) for i in range(6) for j in range(6)]


def test_coverage_and_domain_count_of_planted_islands():
    h, truth = _islands(GRID)
    mask = film_mask(h)
    assert abs(mask.mean() - truth.mean()) < 0.005
    assert count_domains(mask) == 36
    assert count_domains(mask, method="components") == 36
    row = morphology_features(h, pixel_size_nm=4.0)  # 1.024 µm field
    assert row["domain_count"] == 36
    assert row["domain_density_um2"] == pytest.approx(36 / 1.024**2)
    assert row["coverage"] == pytest.approx(truth.mean(), abs=0.005)


def test_otsu_and_per_pixel_variants_agree_on_a_clean_film():
    h, truth = _islands(GRID, noise=0.01)
    for mask in (film_mask(h, threshold="otsu"), film_mask(h, sigma_px=0, opening_px=0),
                 film_mask(h, threshold=0.3)):
        assert abs(mask.mean() - truth.mean()) < 0.005


def test_coalesced_domains_split_at_the_neck_and_at_a_grain_boundary():
    h, _ = _islands([(100, 100), (100, 118)], radius=10)  # overlapping pair: one component
    mask = film_mask(h)
    assert count_domains(mask, method="components") == 1
    assert count_domains(mask, method="split") == 2
    # Two squares touching along a grain-boundary groove 0.15 nm deep, 2 px wide.
    g = np.zeros((N, N))
    g[50:150, 50:150] = 0.65
    g[50:150, 100:102] -= 0.15
    m = film_mask(g)
    assert count_domains(m, method="components") == 1
    assert count_domains(m & ~grain_boundaries(g)) == 2
    assert morphology_features(g, 2.0)["domain_count"] == 2


def test_particles_are_not_film():
    h, truth = _islands(GRID[:10])
    yy, xx = np.mgrid[0:N, 0:N]
    h += 5.0 * np.exp(-((yy - 200) ** 2 + (xx - 200) ** 2) / (2 * 4.0**2))
    assert count_domains(film_mask(h)) == 10
    assert count_domains(film_mask(h, particle_nm=None)) == 11


def test_step_edges_of_planted_terraces():
    h = np.zeros((N, N))
    for col in (64, 128, 192):  # three straight steps, each N pixels long
        h[:, col:] += 0.3
    count, length_px = step_edges(h)
    assert count == 3
    assert length_px == pytest.approx(3 * N, rel=0.05)
    assert step_edges(np.zeros((N, N))) == (0, 0)


def test_roughness_of_gaussian_noise():
    rng = np.random.default_rng(1)
    h = rng.normal(0, 0.5, (N, N))
    r = roughness(h)
    assert r["sq_nm"] == pytest.approx(0.5, rel=0.02)
    assert r["ra_nm"] == pytest.approx(0.5 * np.sqrt(2 / np.pi), rel=0.02)
    assert r["rms_vs_smoothed_nm"] > 0.9 * 0.5  # white noise is all fine texture
    smooth = roughness(np.sin(np.linspace(0, 4 * np.pi, N))[None, :] * np.ones((N, 1)))
    assert smooth["rms_vs_smoothed_nm"] < 0.01 * smooth["sq_nm"]


def test_dog_blobs_count_planted_bumps():
    yy, xx = np.mgrid[0:N, 0:N]
    h = np.zeros((N, N))
    centres = [(40 + 60 * i, 40 + 60 * j) for i in range(4) for j in range(3)]
    for cy, cx in centres:
        h += 1.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0**2))
    assert dog_blob_count(h) == len(centres)


def test_glcm_matches_scikit_image_and_sees_orientation():
    rng = np.random.default_rng(2)
    h = rng.normal(0, 0.4, (64, 64))
    ours = glcm_features(h, distances=(1,), angles=(0.0,))
    grey = np.clip((h - h.min()) / 3.0 * 63, 0, 63).astype(np.uint8)
    ref = graycomatrix(grey, [1], [0.0], levels=64, symmetric=True, normed=True)
    assert ours["glcm_contrast"] == pytest.approx(graycoprops(ref, "contrast")[0, 0])
    stripes = np.tile([0.0, 1.0], (64, 32))  # varies along x only
    along_x = glcm_features(stripes, angles=(0.0,))
    along_y = glcm_features(stripes, angles=(np.pi / 2,))
    assert along_y["glcm_contrast"] == 0 and along_y["glcm_homogeneity"] == 1
    assert along_x["glcm_contrast"] > 100


def test_bilayer_fraction_of_planted_second_layers():
    h, truth = _islands(GRID, radius=12)
    second, _ = _islands(GRID[:9], radius=5, noise=0.0)
    h = h + second
    expected = (second > 0.3).sum() / truth.sum()
    assert bilayer_fraction(h, film_mask(h)) == pytest.approx(expected, abs=0.02)


def test_features_table_has_units_and_names():
    h, _ = _islands(GRID)
    maps = [HeightMap(h, 4.0, source=None), HeightMap(h[:128, :128], 4.0)]
    table = features_table(maps, names=["a", "b"])
    assert list(table.index) == ["a", "b"]
    for column in ("coverage", "domain_density_um2", "mean_domain_area_um2",
                   "step_edge_length_um", "sq_nm", "ra_nm", "rms_vs_smoothed_nm",
                   "dog_blob_count", "glcm_dissimilarity", "bilayer_fraction"):
        assert column in table.columns
    assert np.isfinite(table.to_numpy(dtype=float)).all()
    with pytest.raises(InputError):
        morphology_features(h)  # no pixel size
    with pytest.raises(InputError):
        film_mask(h, threshold="magic")
