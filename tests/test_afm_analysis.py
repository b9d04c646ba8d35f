"""Embedding reduction and axis-feature correlations against scipy on known data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tmdlearn.afm.embed import axis_correlations, reduce
from tmdlearn.afm.figures import correlation_heatmap, thumbnail_map
from tmdlearn.errors import InputError


def _clusters(n=30, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)  # a hidden factor
    base = rng.normal(0, 1, (2, 64))
    x = np.outer(1 - t, base[0]) + np.outer(t, base[1]) + rng.normal(0, 0.05, (n, 64))
    return x + 5.0, t


def test_pca_first_axis_recovers_the_hidden_factor_deterministically():
    x, t = _clusters()
    a, b = reduce(x, "pca"), reduce(x, "pca")
    np.testing.assert_array_equal(a, b)
    assert abs(stats.pearsonr(a[:, 0], t).statistic) > 0.99


def test_umap_is_seeded_and_orders_the_factor():
    x, t = _clusters()
    a = reduce(x, "umap", seed=1)
    np.testing.assert_allclose(a, reduce(x, "umap", seed=1))
    assert a.shape == (30, 2)
    assert abs(stats.spearmanr(a[:, 0], t).statistic) > 0.9 or abs(
        stats.spearmanr(a[:, 1], t).statistic) > 0.9
    with pytest.raises(InputError):
        reduce(x[:2], "umap")
    with pytest.raises(InputError):
        reduce(x, "tsne")


def test_correlations_match_scipy_and_cis_cover_the_estimate():
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(40, 2))
    features = pd.DataFrame({"linked_nm": 2 * emb[:, 0] + rng.normal(0, 0.5, 40),
                             "noise": rng.normal(size=40), "constant": np.ones(40)})
    table = axis_correlations(emb, features, n_boot=300, seed=0)
    assert len(table) == 6
    row = table.query("axis == 'axis_1' and feature == 'linked_nm'").iloc[0]
    ref = stats.pearsonr(emb[:, 0], features["linked_nm"])
    assert row.pearson_r == pytest.approx(ref.statistic)
    assert row.pearson_p == pytest.approx(ref.pvalue)
    assert row.spearman_rho == pytest.approx(
        stats.spearmanr(emb[:, 0], features["linked_nm"]).statistic)
    assert row.pearson_ci_low < row.pearson_r < row.pearson_ci_high
    assert row.pearson_ci_low > 0.6  # strongly linked
    weak = table.query("axis == 'axis_2' and feature == 'noise'").iloc[0]
    assert weak.pearson_ci_low < 0 < weak.pearson_ci_high
    assert table.query("feature == 'constant'").pearson_r.isna().all()
    again = axis_correlations(emb, features, n_boot=300, seed=0)
    pd.testing.assert_frame_equal(table, again)


def test_features_proportional_on_these_images_share_a_row():
    """A count and its density over scans of one size correlate alike: one row, both named."""
    rng = np.random.default_rng(4)
    emb = rng.normal(size=(30, 1))
    count = rng.integers(5, 40, 30).astype(float)
    features = pd.DataFrame({"count": count, "density_um2": count / 1.0, "per_mpx": count * 15.3,
                             "negated": -count, "other": rng.normal(size=30)})
    table = axis_correlations(emb, features, n_boot=50)
    assert list(table.feature) == ["count = density_um2 = per_mpx", "negated", "other"]


def test_figures_build():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(5, 2))
    fig = thumbnail_map(coords, [rng.normal(0, 1, (32, 32)) for _ in range(5)], labels="abcde")
    assert len(fig.axes[0].artists) == 5
    table = axis_correlations(coords, pd.DataFrame({"f": rng.normal(size=5)}), n_boot=50)
    heat = correlation_heatmap(table)
    assert heat.axes[0].get_images()[0].get_array().shape == (1, 2)
