"""Lattice analyses against the simulator's planted structures and textbook constants."""

from __future__ import annotations

import numpy as np

from tmdlearn.stem.analysis import (
    bootstrap_kde,
    density_mse,
    lattice_constant,
    local_stacking,
    neighbour_distances,
    order_parameter,
    order_parameter_map,
    species_se_fraction,
    vegard_se_fraction,
)
from tmdlearn.synth.stem import StemSimConfig, simulate_image

FLAT = {"magnification_jitter": 0.0, "thermal_sigma_angstrom": 0.0, "hole_probability": 0.0,
        "edge_probability": 0.0, "vacancy_fraction": 0.0, "size_px": 192}


def test_graphene_bonds_and_lattice_constant():
    s = simulate_image(StemSimConfig(**FLAT), seed=0)
    for layer in range(2):
        xy = s.atoms[s.atoms.layer == layer][["x_px", "y_px"]].to_numpy()
        bonds = neighbour_distances(xy, s.pixel_size_angstrom, k=3, max_angstrom=1.6)
        assert abs(np.median(bonds) - 1.42) < 0.01
        assert abs(lattice_constant(xy, s.pixel_size_angstrom, "honeycomb") - 2.46) < 0.01


def test_ws2_lattice_constant_and_vegard():
    s = simulate_image(StemSimConfig(**FLAT, material="ws2", se_scenario="none"), seed=1)
    w = s.atoms[(s.atoms.layer == 0) & (s.atoms.species == 0)][["x_px", "y_px"]].to_numpy()
    a = lattice_constant(w, s.pixel_size_angstrom)
    assert abs(a - 3.153) < 0.01
    assert abs(vegard_se_fraction(a)) < 0.1
    assert np.isclose(vegard_se_fraction((3.153 + 3.282) / 2), 0.5)
    assert np.isclose(vegard_se_fraction(3.30, a_ws2=3.2, a_wse2=3.4), 0.5)


def test_vegard_recovers_the_planted_se_fraction_of_each_layer():
    cfg = StemSimConfig(**FLAT, material="ws2", se_scenario="layer", se_fraction=(0.6, 0.6))
    s = simulate_image(cfg, seed=2)
    planted = np.mean(s.params["se_probability"], axis=1)  # one layer 0.6, the other 0
    assert sorted(planted) == [0.0, 0.6]
    for layer in range(2):
        w = s.atoms[(s.atoms.layer == layer) & (s.atoms.species == 0)][["x_px", "y_px"]]
        a = lattice_constant(w.to_numpy(), s.pixel_size_angstrom)
        assert abs(a - s.params["lattice_constant_angstrom"][layer]) < 0.005
        assert abs(vegard_se_fraction(a) - planted[layer]) < 0.04


def test_species_se_fraction_counts_the_planted_se():
    cfg = StemSimConfig(**FLAT, material="ws2", se_scenario="layer", se_fraction=(0.6, 0.6))
    s = simulate_image(cfg, seed=4)
    names = np.asarray(s.species)[s.atoms.species]
    fractions = [species_se_fraction(names[s.atoms.layer == k]) for k in range(2)]
    assert sorted(np.round(fractions, 1)) == [0.0, 0.6]  # one layer substituted, at 60 %
    assert species_se_fraction(np.array(["W", "S2", "SSe", "Se2"])) == 0.5
    assert np.isnan(species_se_fraction(np.array(["W"])))


def test_order_parameter_spans_the_moire():
    aligned = simulate_image(StemSimConfig(**FLAT, twist_deg=(0.0, 0.0)), seed=2)
    twisted = simulate_image(StemSimConfig(**FLAT, twist_deg=(6.0, 6.0)), seed=2)
    spreads = []
    for s in (aligned, twisted):
        a = s.atoms
        inner = a.x_px.between(25, 166) & a.y_px.between(25, 166)  # 2.5 Å from the edges
        u = order_parameter(a[inner & (a.layer == 0)][["x_px", "y_px"]],
                            a[a.layer == 1][["x_px", "y_px"]], s.pixel_size_angstrom)
        assert u.max() <= 1.42 + 1e-6  # never farther than a bond from the other honeycomb
        spreads.append(u)
        grid = order_parameter_map(a[inner & (a.layer == 0)][["x_px", "y_px"]].to_numpy(), u,
                                   (192, 192))
        assert np.nanmax(grid) <= u.max() + 1e-9 and np.isfinite(grid).mean() > 0.4
    # rigid shift: one value per sublattice; twist: the moiré runs through all stackings
    assert len(np.unique(np.round(spreads[0], 4))) <= 2
    assert spreads[1].min() < 0.3 and spreads[1].max() > 1.1
    assert local_stacking(np.array([0.1, 1.0, 1.0]), np.array([1.0, 0.1, 1.0]), 0.3).tolist() \
        == [0, 1, 2]


def test_bootstrap_kde_matches_scipy():
    from scipy.stats import gaussian_kde

    x = np.random.default_rng(1).normal(size=200)
    grid = np.linspace(-3, 3, 50)
    full, boots = bootstrap_kde(x, grid, n_boot=200)
    assert np.allclose(full, gaussian_kde(x)(grid))
    assert np.allclose(boots.mean(axis=0), full, atol=0.02)
    assert boots.shape == (200, 50)


def test_density_mse_separates_distributions():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(0, 1, 300), rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)
    same = density_mse(a, b, n_boot=50)
    different = density_mse(a, c, n_boot=50)
    assert different["mse"] > 10 * same["mse"]
    assert different["mse_low"] <= different["mse"] * 1.5 and different["mse_high"] > 0
