"""PDP / ICE / ICE slopes against scikit-learn and against known linear models."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor

from tmdlearn.errors import InputError
from tmdlearn.explain.ice import grid_values, ice_curves, ice_slopes, slope_maps
from tmdlearn.explain.pdp import partial_dependence, pdp_range


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.sin(X[:, 0]) * X[:, 1] + 0.5 * X[:, 2] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("feature", [0, 2])
def test_pdp_and_ice_match_sklearn(feature):
    X, y = _data()
    model = GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X, y)
    sk = sk_partial_dependence(model, X, [feature], kind="both", grid_resolution=25,
                               method="brute")
    grid = sk["grid_values"][0]
    np.testing.assert_allclose(grid, grid_values(X[:, feature], resolution=25))
    ours_grid, average = partial_dependence(model, X, feature, resolution=25)
    np.testing.assert_allclose(ours_grid, grid, atol=1e-12)
    np.testing.assert_allclose(average, sk["average"][0], atol=1e-6)
    _, curves = ice_curves(model, X, feature, grid)
    np.testing.assert_allclose(curves, sk["individual"][0], atol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multi_output_pdp_matches_sklearn_per_output():
    X, y = _data()
    Y = np.column_stack([y, X[:, 0] - 2 * X[:, 3]])
    model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, Y)
    sk = sk_partial_dependence(model, X, [3], kind="average", grid_resolution=10)
    _, average = partial_dependence(model, X, 3, sk["grid_values"][0])
    assert average.shape == (10, 2)
    np.testing.assert_allclose(average.T, sk["average"], atol=1e-6)


def test_ice_slope_of_linear_model_is_its_coefficient():
    X, y = _data()
    coef = np.array([1.5, -2.0, 0.0, 0.25])
    model = LinearRegression().fit(X, X @ coef + 3.0)
    slopes = ice_slopes(model, X)
    assert slopes.shape == (len(X), 4)
    np.testing.assert_allclose(slopes, np.broadcast_to(coef, slopes.shape), atol=1e-9)


def test_ice_slope_is_central_difference_with_sigma():
    X, _ = _data(50)

    def cubic(rows):           # f = x0³: central difference = 3 x0² + ε²
        return rows[:, 0] ** 3

    slopes = ice_slopes(cubic, X, features=[0])
    sigma = X[:, 0].std()
    np.testing.assert_allclose(slopes[:, 0], 3 * X[:, 0] ** 2 + sigma ** 2, rtol=1e-9)


def test_pdp_range_ranks_the_driving_feature_first():
    X, _ = _data()
    _, flat = partial_dependence(lambda r: 0.1 * r[:, 1], X, 1, resolution=20)
    _, steep = partial_dependence(lambda r: 3.0 * r[:, 0], X, 0, resolution=20)
    assert pdp_range(steep) > 10 * pdp_range(flat)


def test_slope_maps_and_bad_input():
    mask = np.zeros((3, 4), bool)
    mask[1, 1:3] = True
    maps = slope_maps(np.array([[1.0], [2.0]]), mask)
    assert maps.shape == (3, 4, 1) and maps[1, 2, 0] == 2.0 and np.isnan(maps[0, 0, 0])
    with pytest.raises(InputError):
        slope_maps(np.ones(3), mask)
    with pytest.raises(InputError):
        ice_curves(lambda r: r[:, 0], np.ones((4, 2)), 5)
    with pytest.raises(InputError):
        ice_slopes(lambda r: r[:, 0], np.ones((4, 2)))     # constant column: σ = 0
