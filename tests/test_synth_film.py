"""The planted film physics, measured from the outside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from synth_checks import otsu_coverage
from tmdlearn.synth.film import (
    GrowthParameters,
    film_state,
    grow_film,
    render_afm,
    sample_growth,
)


@pytest.fixture(scope="module")
def campaign():
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(14):
        state = film_state(sample_growth(rng), str(rng.choice(["center", "edge"])), rng)
        height, truth = render_afm(state, 1.0, 256, rng)
        rows.append((state, height, truth))
    return rows


def test_afm_map_is_physical(campaign):
    state, height, truth = campaign[0]
    assert height.shape == (256, 256)
    assert height.scan_size_um == pytest.approx(1.0)
    assert truth["coverage"] == pytest.approx(state.coverage, abs=0.01)


def test_otsu_coverage_recovers_planted(campaign):
    errors = [abs(otsu_coverage(h.height_nm) - t["coverage"])
              for s, h, t in campaign if s.coverage < 0.8]
    assert len(errors) >= 10
    assert np.mean(np.array(errors) < 0.03) >= 0.85
    assert np.median(errors) < 0.01


def test_domain_density_tracks_nucleation(campaign):
    planted = [s.nucleation_density_um2 for s, _, _ in campaign]
    counted = [t["domain_density_um2"] for _, _, t in campaign]
    assert spearmanr(planted, counted).statistic >= 0.9


def test_growth_drives_state():
    hot = film_state(GrowthParameters(850, 1.0, 1000, 30), "center", 0)
    cold = film_state(GrowthParameters(550, 1.0, 1000, 30), "center", 0)
    assert cold.nucleation_density_um2 > 5 * hot.nucleation_density_um2
    s_rich = film_state(GrowthParameters(700, 1.0, 5000, 30), "center", 1)
    mo_rich = film_state(GrowthParameters(700, 1.0, 100, 30), "center", 1)
    assert mo_rich.hexagonality > s_rich.hexagonality + 0.5
    assert mo_rich.defect_density_cm2 > s_rich.defect_density_cm2
    edge = film_state(GrowthParameters(700, 1.0, 1000, 30), "edge", 1)
    centre = film_state(GrowthParameters(700, 1.0, 1000, 30), "center", 1)
    assert edge.coverage < centre.coverage


def test_bilayer_and_shape_rendered():
    state = film_state(GrowthParameters(700, 3.0, 2000, 110), "center", 3)
    morph = grow_film(state, (256, 256), 1000 / 256, 3)
    assert morph.truth["coverage"] == pytest.approx(state.coverage, abs=0.01)
    assert morph.truth["bilayer_fraction"] == pytest.approx(state.bilayer_fraction, abs=0.02)
    assert set(np.unique(morph.layers)) <= {0, 1, 2}


def test_same_seed_same_map():
    state = film_state(GrowthParameters(700, 1.0, 1000, 30), "center", 0)
    a, _ = render_afm(state, 1.0, 128, 5)
    b, _ = render_afm(state, 1.0, 128, 5)
    np.testing.assert_array_equal(a.height_nm, b.height_nm)
