"""Must-show checks on the synthetic MOCVD MoS2 campaign (tmdlearn.synth.film)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from tmdlearn.afm.embed import embed, reduce
from tmdlearn.afm.level import level
from tmdlearn.afm.morphology import morphology_features
from tmdlearn.synth.film import film_state, render_afm, sample_growth


def _campaign(n: int, pixels: int = 512, seed: int = 0):
    """n AFM maps (1 µm) with their planted truth, one growth run each."""
    maps, truths = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        hm, truth = render_afm(film_state(sample_growth(rng), "center", rng), 1.0, pixels, rng)
        maps.append(level(hm))
        truths.append(truth)
    return maps, truths


def _check_features(maps, truths):
    rows = [morphology_features(m) for m in maps]
    measured = np.array([r["coverage"] for r in rows])
    planted = np.array([t["coverage"] for t in truths])
    mae = np.mean(np.abs(measured - planted))
    rho = spearmanr([r["domain_density_um2"] for r in rows],
                    [t["nucleation_density_um2"] for t in truths]).statistic
    assert mae <= 0.03, mae
    assert rho >= 0.9, rho


def _check_embedding(maps, truths, method):
    """Each of the two leading axes correlates |r| >= 0.6 with some planted film-state factor
    (the latent ``state_*`` quantities of tmdlearn.synth.film)."""
    coords = reduce(embed(maps, device="cpu"), method, 2, seed=0)
    factors = [k for k in truths[0] if k.startswith("state_")]
    for axis in range(2):
        best = max(abs(pearsonr(coords[:, axis], [t[k] for t in truths]).statistic)
                   for k in factors if np.ptp([t[k] for t in truths]) > 0)
        assert best >= 0.6, (method, axis, best)


def test_campaign_coverage_and_domain_density():
    maps, truths = _campaign(12)
    _check_features(maps, truths)


@pytest.fixture(scope="module")
def campaign40():
    return _campaign(40)


@pytest.mark.slow
def test_campaign_coverage_and_domain_density_large(campaign40):
    _check_features(*campaign40)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pca", "umap"])
def test_campaign_embedding_axes_follow_the_film_state(campaign40, method):
    _check_embedding(*campaign40, method)
