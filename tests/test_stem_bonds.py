"""The Gomb-Net study's bond statistic (two nearest neighbours per atom, mean and FWHM) against
planted honeycombs and the analytic distribution of the two shortest of three jittered bonds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from scipy.stats import multivariate_normal, norm

from tmdlearn.cli import main
from tmdlearn.stem.analysis import bond_statistics, bond_table, kde_fwhm
from tmdlearn.synth.stem import StemSimConfig, simulate_image

BOND = 1.42
PIXEL = 0.1  # Å per pixel of the planted positions


def honeycomb(bond: float = BOND, side: float = 80.0, stretch: float = 1.0) -> np.ndarray:
    """Graphene sites (Å) in a side x side square, pruned until every atom has two bonds."""
    a = bond * np.sqrt(3)
    n = int(side / a) + 4
    i, j = np.meshgrid(np.arange(-n, 2 * n), np.arange(-n, 2 * n))
    cells = i.ravel()[:, None] * [a, 0] + j.ravel()[:, None] * [a / 2, a * np.sqrt(3) / 2]
    xy = np.concatenate([cells, cells + [0, bond]]) * stretch
    xy = xy[(xy >= 0).all(1) & (xy < side).all(1)]
    while True:
        counts = np.array([len(c) for c in cKDTree(xy).query_ball_point(xy, 1.2 * bond * stretch)])
        if (counts >= 3).all():  # itself and at least two neighbours
            return xy
        xy = xy[counts >= 3]


def expected_two_shortest(bond: float, sigma: float) -> tuple[float, float]:
    """Mean and FWHM (Å) of the two shortest of an atom's three bonds, both atoms jittered by
    isotropic Gaussian σ per axis, to first order: each bond length is normal with mean
    bond + σ²/bond and variance s² = 2σ², two bonds of one atom correlate with ρ = −1/4
    (cos 120° / 2). The pooled density is (3 f − f_max) / 2 with
    f_max(x) = 3 f(x) Φ₂(h, h; ρ / (1 + ρ)), h = z sqrt((1 − ρ) / (1 + ρ)), and
    E[max] = s sqrt(1 − ρ) · 3 / (2 sqrt(π)) (the mean largest of three standard normals)."""
    mu, s, rho = bond + sigma ** 2 / bond, np.sqrt(2) * sigma, -0.25
    mean = mu - s * np.sqrt(1 - rho) * 3 / (2 * np.sqrt(np.pi)) / 2
    x = np.linspace(mu - 6 * s, mu + 6 * s, 4001)
    z = (x - mu) / s
    h = z * np.sqrt((1 - rho) / (1 + rho))
    r = rho / (1 + rho)
    both_below = multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf(np.stack([h, h], 1))
    density = 1.5 * norm.pdf(z) / s * (1 - both_below)
    above = x[density >= density.max() / 2]
    return float(mean), float(above[-1] - above[0])


@pytest.mark.parametrize("sigma", [0.02, 0.05])
def test_jittered_honeycomb_matches_the_analytic_distribution(sigma):
    xy = honeycomb()
    xy = xy + np.random.default_rng(2).normal(0, sigma, xy.shape)
    stats = bond_statistics(xy / PIXEL, PIXEL, k=2)
    mean, fwhm = expected_two_shortest(BOND, sigma)
    assert stats["atoms"] == len(xy) and stats["distances"] == 2 * len(xy)
    assert stats["mean_angstrom"] == pytest.approx(mean, abs=0.003)
    assert stats["mean_angstrom"] < BOND - 0.5 * sigma  # the two shortest of three: biased low
    assert stats["fwhm_angstrom"] == pytest.approx(fwhm, rel=0.1)
    assert stats["fwhm_robust_angstrom"] == pytest.approx(fwhm, rel=0.1)


def test_stretched_lattice_mean():
    stats = bond_statistics(honeycomb(stretch=1.03) / PIXEL, PIXEL)
    assert stats["mean_angstrom"] == pytest.approx(1.4626, abs=1e-9)
    assert stats["fwhm_angstrom"] == 0.0 and stats["dropped"] == 0


def test_kde_fwhm_of_a_gaussian_and_with_outliers():
    rng = np.random.default_rng(0)
    samples = rng.normal(1.42, 0.05, 4000)
    assert kde_fwhm(samples) == pytest.approx(2.3548 * 0.05, rel=0.05)
    with_outliers = np.concatenate([samples, rng.uniform(2.2, 2.6, 200)])  # 5 % far off
    assert kde_fwhm(with_outliers) == pytest.approx(2.3548 * 0.05, rel=0.08)
    assert kde_fwhm([1.0, 1.0, 1.0]) == 0.0


def test_dangling_atoms_raise_the_mean_unless_cut():
    xy = honeycomb()
    lone = xy[:1] + [-BOND, 0]  # an atom one bond off the edge: its second neighbour is far
    stats = bond_statistics(np.concatenate([xy, lone]) / PIXEL, PIXEL)
    assert stats["mean_angstrom"] > BOND + 1e-4
    cut = bond_statistics(np.concatenate([xy, lone]) / PIXEL, PIXEL, max_angstrom=1.7)
    assert cut["dropped"] == 1 and cut["mean_angstrom"] == pytest.approx(BOND, abs=1e-4)


def test_ws2_bonds_are_w_to_chalcogen():
    flat = {"magnification_jitter": 0.0, "thermal_sigma_angstrom": 0.0, "size_px": 192,
            "hole_probability": 0.0, "edge_probability": 0.0, "vacancy_fraction": 0.0}
    s = simulate_image(StemSimConfig(material="ws2", se_scenario="none", **flat), seed=1)
    atoms = s.atoms.assign(species=np.array(s.species)[s.atoms.species])
    table = bond_table(atoms, s.pixel_size_angstrom, "ws2")
    assert list(table.layer) == [0, 1, "all"]
    assert np.allclose(table.median_angstrom, 3.153 / np.sqrt(3), atol=0.002)  # W–S 1.820 Å
    assert table.distances.iloc[-1] == table.distances.iloc[:2].sum()


def test_analyze_writes_the_bond_statistic(tmp_path):
    rng = np.random.default_rng(3)
    layers = [honeycomb(), honeycomb(stretch=1.03)]
    atoms = pd.concat([pd.DataFrame({"x_px": xy[:, 0] / PIXEL, "y_px": xy[:, 1] / PIXEL,
                                     "layer": k, "species": "C"})
                       for k, xy in enumerate(layers)])
    atoms[["x_px", "y_px"]] += rng.normal(0, 0.02 / PIXEL, (len(atoms), 2))
    atoms.to_csv(tmp_path / "atoms.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(tmp_path / "atoms.csv"), "--pixel-size", str(PIXEL),
              "--out", str(tmp_path / "out"), "--n-boot", "10"])
    assert exit_.value.code in (0, None)
    bonds = pd.read_csv(tmp_path / "out" / "bonds.csv")
    mean, fwhm = expected_two_shortest(BOND, 0.02)
    assert bonds.mean_angstrom[0] == pytest.approx(mean, abs=0.003)
    assert bonds.mean_angstrom[1] == pytest.approx(mean * 1.03, abs=0.003)
    summary = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert set(summary["bond_statistics"]) == {"0", "1", "all"}
    assert summary["bond_statistics"]["0"]["fwhm_angstrom"] == pytest.approx(fwhm, rel=0.15)
    assert summary["bond_statistics"]["all"]["distances"] == 2 * len(atoms)
