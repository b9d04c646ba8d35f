"""Spectra → AFM morphology regression (the study's Tables 3, S3, S4).

Three regressors per input modality: Ridge on degree-2 polynomial features and SVR, both tuned
by grid search over grouped CV folds (one model per target), and a torch MLP predicting all
(standardised) targets at once, tuned with Optuna over the same folds. Each reports train and
test R² and a percentile bootstrap CI of the test R².
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVR

from tmdlearn.learn import TrainConfig, bootstrap_ci, predict, train_model
from tmdlearn.learn.regression import r2, safe_scale
from tmdlearn.learn.tune import tune
from tmdlearn.models.autoencoders import RegressionMLP

MODELS = ("ridge", "svr", "mlp")


def fit_ridge(x, y, folds, alphas=(0.1, 1.0, 10.0, 100.0, 1000.0)):
    """Ridge on degree-2 polynomial features of standardised inputs, alpha by grouped CV R²."""
    pipeline = make_pipeline(StandardScaler(), PolynomialFeatures(2, include_bias=False),
                             StandardScaler(), Ridge())
    search = GridSearchCV(pipeline, {"ridge__alpha": list(alphas)}, cv=folds, scoring="r2")
    return search.fit(x, y).best_estimator_


def fit_svr(x, y, folds, grid: dict):
    """SVR on standardised inputs and target; ``grid`` over C, gamma, kernel, degree
    (grouped CV)."""
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), SVR()),
                                       transformer=StandardScaler())
    grid = {f"regressor__svr__{k}": list(v) for k, v in grid.items()}
    search = GridSearchCV(model, grid, cv=folds, scoring="r2")
    return search.fit(x, y).best_estimator_


@dataclass
class TorchRegressor:
    """A fitted :class:`RegressionMLP` with its input and target standardisation (numpy in/out)."""

    model: RegressionMLP
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    params: dict

    def predict(self, x) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float32) - self.x_mean) / self.x_std
        out = predict(self.model, z, device="cpu") * self.y_std + self.y_mean
        return out

    def state(self) -> dict:
        """Everything needed to rebuild it (see :func:`regressor_from_state`)."""
        return {"params": self.params, "state_dict": self.model.state_dict(),
                "x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean,
                "y_std": self.y_std}


def _network(n_in: int, n_out: int, params: dict) -> RegressionMLP:
    """The :class:`RegressionMLP` of ``params`` (n_layers, units halving per layer, >= 8)."""
    hidden = tuple(max(int(params["units"]) // 2 ** i, 8) for i in range(int(params["n_layers"])))
    return RegressionMLP(n_in, n_out, hidden, params["activation"], float(params["dropout"]))


def regressor_from_state(state: dict) -> TorchRegressor:
    """Rebuild a :class:`TorchRegressor` saved with :meth:`TorchRegressor.state`."""
    x_mean, y_mean = np.asarray(state["x_mean"]), np.asarray(state["y_mean"])
    model = _network(x_mean.size, y_mean.size, state["params"])
    model.load_state_dict(state["state_dict"])
    model.eval()
    return TorchRegressor(model, x_mean, np.asarray(state["x_std"]), y_mean,
                          np.asarray(state["y_std"]), dict(state["params"]))


def _l1_mse(model, l1: float):
    mse = torch.nn.MSELoss()

    def loss(output, target):
        penalty = sum(p.abs().sum() for n, p in model.named_parameters() if "weight" in n)
        return mse(output, target) + l1 * penalty

    return loss


def fit_mlp(x, y, params: dict, *, epochs: int = 200, patience: int = 20, seed: int = 0,
            x_val=None, y_val=None, device: str = "auto") -> tuple[TorchRegressor, int]:
    """Train a :class:`RegressionMLP` on standardised ``x`` (N, D) and ``y`` (N, T).

    ``params``: n_layers, units, activation, dropout, l1, lr, batch_size. Returns the fitted
    regressor and the epoch kept (early stopping on the validation loss when given).
    """
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32).reshape(len(x), -1)
    (x_mean, x_std), (y_mean, y_std) = safe_scale(x), safe_scale(y, floor=1e-6)
    torch.manual_seed(seed)
    model = _network(x.shape[1], y.shape[1], params)
    config = TrainConfig(epochs=epochs, batch_size=int(params["batch_size"]),
                         lr=float(params["lr"]), weight_decay=0.0,
                         patience=patience if x_val is not None else None, seed=seed,
                         device=device)
    val = {}
    if x_val is not None:
        val = {"x_val": (np.asarray(x_val, dtype=np.float32) - x_mean) / x_std,
               "y_val": (np.asarray(y_val, dtype=np.float32).reshape(len(x_val), -1) - y_mean)
               / y_std}
    history = train_model(model, (x - x_mean) / x_std, (y - y_mean) / y_std, config=config,
                          loss=_l1_mse(model, float(params["l1"])), description="MLP", **val)
    model.cpu()
    return TorchRegressor(model, x_mean, x_std, y_mean, y_std, dict(params)), history.best_epoch


def tune_mlp(x, y, folds, space: dict, n_trials: int, *, epochs: int = 200, seed: int = 0,
             storage: str | Path | None = None, study_name: str = "mlp",
             device: str = "auto") -> tuple[dict, int]:
    """Optuna search of the MLP over grouped ``folds`` (mean validation MSE of standardised
    targets); returns the best params and the median best epoch of its folds."""

    def objective(params, trial):
        losses, epochs_kept = [], []
        for train, val in folds:
            fitted, best = fit_mlp(x[train], y[train], params, epochs=epochs, seed=seed,
                                   x_val=x[val], y_val=y[val], device=device)
            z_true = (y[val].reshape(len(val), -1) - fitted.y_mean) / fitted.y_std
            z_pred = (fitted.predict(x[val]) - fitted.y_mean) / fitted.y_std
            losses.append(float(np.mean((z_true - z_pred) ** 2)))
            epochs_kept.append(best + 1)
        trial.set_user_attr("epochs", int(np.median(epochs_kept)))
        return float(np.mean(losses))

    study = tune(objective, space, n_trials, study_name=study_name, storage=storage, seed=seed)
    return dict(study.best_params), int(study.best_trial.user_attrs["epochs"])


def score(y_train, p_train, y_test, p_test, n_boot: int = 30, seed: int = 0) -> dict:
    """Train and test R², and the percentile bootstrap 95% CI of the test R²."""
    ci = bootstrap_ci(r2, np.asarray(y_test), np.asarray(p_test), n_boot=n_boot, seed=seed)
    return {"r2_train": r2(y_train, p_train), "r2_test": ci.estimate, "r2_test_low": ci.low,
            "r2_test_high": ci.high}
