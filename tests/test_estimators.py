"""The learned models are scikit-learn estimators (torch inside): parameters, clone, and the
estimator checks that apply to them; a clone refits to the same predictions."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from tmdlearn.crossmodal.regress import TorchRegressor, fit_mlp
from tmdlearn.explain.regressor import CNNSettings, RamanPLRegressor

CHECKS = (check_parameters_default_constructible, check_no_attributes_set_in_init,
          check_get_params_invariance, check_set_params)


@pytest.mark.parametrize("estimator", [RamanPLRegressor(), TorchRegressor()],
                         ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_sklearn_estimator_checks(estimator, check):
    check(type(estimator).__name__, estimator)


def test_raman_pl_regressor_parameters_are_the_cnn_settings():
    model = RamanPLRegressor(width=4, epochs=3)
    assert model.settings == CNNSettings(width=4, epochs=3)
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(lr=1e-3).settings.lr == 1e-3


def test_a_clone_of_the_torch_regressor_refits_to_the_same_predictions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.01 * rng.normal(size=60)
    params = {"n_layers": 1, "units": 16, "activation": "relu", "dropout": 0.0, "l1": 0.0,
              "lr": 1e-2, "batch_size": 16}
    model = TorchRegressor(params, epochs=60, device="cpu").fit(x, y)
    again = clone(model).fit(x, y)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    assert model.score(x, y) > 0.9                       # a linear relation is learned
    fitted, epoch = fit_mlp(x, y, params, epochs=60, device="cpu")
    np.testing.assert_allclose(fitted.predict(x), model.predict(x), rtol=1e-6)
    assert epoch == model.best_epoch_
