"""Spectra → AFM morphology regression (the study's Tables 3, S3, S4).

Three regressors per input modality: Ridge on degree-2 polynomial features and SVR, both tuned
by grid search over grouped CV folds (one model per target), and a torch MLP predicting all
(standardised) targets at once, tuned with Optuna over the same folds. Each reports train and
test R² and a percentile bootstrap CI of the test R².
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from optuna.storages import BaseStorage
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVR

from tmdlearn.engine import Engine, map_tasks
from tmdlearn.learn import TrainConfig, bootstrap_ci, predict, train_model
from tmdlearn.learn.regression import r2, safe_scale
from tmdlearn.learn.tune import tune
from tmdlearn.models.autoencoders import RegressionMLP

MODELS = ("ridge", "svr", "mlp")


def fit_ridge(x, y, folds, alphas=(0.1, 1.0, 10.0, 100.0, 1000.0)):
    """Ridge on degree-2 polynomial features of standardised inputs, alpha by grouped CV R².

    Parameters
    ----------
    x : (N, D) array
        Inputs (normalised spectra), standardised and expanded to their degree-2 products.
    y : (N,) array
        One target, in its units.
    folds : list of (train, test) index arrays
        Grouped CV folds on which each of ``alphas`` is scored (mean test R²).
    alphas : sequence of float
        Ridge penalties searched.

    Returns
    -------
    Pipeline
        The best pipeline, refitted on all rows.
    """
    pipeline = make_pipeline(StandardScaler(), PolynomialFeatures(2, include_bias=False),
                             StandardScaler(), Ridge())
    search = GridSearchCV(pipeline, {"ridge__alpha": list(alphas)}, cv=folds, scoring="r2")
    return search.fit(x, y).best_estimator_


def fit_svr(x, y, folds, grid: dict):
    """SVR on standardised inputs and target; ``grid`` over C, gamma, kernel, degree
    (grouped CV).

    Parameters
    ----------
    x : (N, D) array
        Inputs (normalised spectra), standardised for the kernel.
    y : (N,) array
        One target: standardised for the fit, predicted back in its units.
    folds : list of (train, test) index arrays
        Grouped CV folds on which every setting of ``grid`` is scored.
    grid : dict
        Lists of SVR parameters searched, by name (C, gamma, kernel, degree).

    Returns
    -------
    TransformedTargetRegressor
        The best model, refitted on all rows.
    """
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), SVR()),
                                       transformer=StandardScaler())
    grid = {f"regressor__svr__{k}": list(v) for k, v in grid.items()}
    search = GridSearchCV(model, grid, cv=folds, scoring="r2")
    return search.fit(x, y).best_estimator_


class TorchRegressor(RegressorMixin, BaseEstimator):
    """A :class:`RegressionMLP` on standardised inputs and targets, as a scikit-learn estimator
    (``get_params``/``set_params``, ``clone``, ``fit``/``predict``, ``score`` = R²; numpy in and
    out, torch inside).

    ``params``: the network and optimiser (n_layers, units, activation, dropout, l1, lr,
    batch_size; as tuned by :func:`tune_mlp`); ``epochs``, ``patience`` (early stopping when
    ``fit`` is given validation data), ``seed``, ``device``. Fitted: ``model``, ``x_mean``,
    ``x_std``, ``y_mean``, ``y_std`` and ``best_epoch_``.
    """

    def __init__(self, params: dict | None = None, epochs: int = 200, patience: int = 20,
                 seed: int = 0, device: str = "auto"):
        self.params, self.epochs, self.patience = params, epochs, patience
        self.seed, self.device = seed, device

    def fit(self, x, y, x_val=None, y_val=None) -> TorchRegressor:
        """Train on ``x`` (N, D) and ``y`` (N,) or (N, T); returns self.

        Parameters
        ----------
        x : (N, D) array
            Inputs.
        y : (N,) or (N, T) array
            Targets, in their units.
        x_val, y_val : array, optional
            Validation set for early stopping.

        Returns
        -------
        TorchRegressor
            ``self``, fitted.
        """
        params = {**DEFAULT_MLP, **(self.params or {})}
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32).reshape(len(x), -1)
        (x_mean, x_std), (y_mean, y_std) = safe_scale(x), safe_scale(y, floor=1e-6)
        torch.manual_seed(self.seed)
        model = _network(x.shape[1], y.shape[1], params)
        config = TrainConfig(epochs=self.epochs, batch_size=int(params["batch_size"]),
                             lr=float(params["lr"]), weight_decay=0.0,
                             patience=self.patience if x_val is not None else None,
                             seed=self.seed, device=self.device)
        val = {}
        if x_val is not None:
            val = {"x_val": (np.asarray(x_val, dtype=np.float32) - x_mean) / x_std,
                   "y_val": (np.asarray(y_val, dtype=np.float32).reshape(len(x_val), -1)
                             - y_mean) / y_std}
        history = train_model(model, (x - x_mean) / x_std, (y - y_mean) / y_std, config=config,
                              loss=_l1_mse(model, float(params["l1"])), description="MLP", **val)
        self.model = model.cpu()
        self.x_mean, self.x_std, self.y_mean, self.y_std = x_mean, x_std, y_mean, y_std
        self.best_epoch_ = history.best_epoch
        return self

    def predict(self, x) -> np.ndarray:
        """Targets (N, T) in their units for inputs ``x`` (N, D).

        Parameters
        ----------
        x : (N, D) array
            Inputs.

        Returns
        -------
        (N, T) array
            Predicted targets, in their units.
        """
        if getattr(self, "model", None) is None:
            raise NotFittedError("TorchRegressor is not fitted")
        z = (np.asarray(x, dtype=np.float32) - self.x_mean) / self.x_std
        out = predict(self.model, z, device="cpu") * self.y_std + self.y_mean
        return out

    def state(self) -> dict:
        """The fitted network and scaling as plain values (see :func:`regressor_from_state`).

        Returns
        -------
        dict
            params, state_dict, x_mean, x_std, y_mean and y_std.
        """
        if getattr(self, "model", None) is None:
            raise NotFittedError("TorchRegressor is not fitted")
        return {"params": {**DEFAULT_MLP, **(self.params or {})},
                "state_dict": self.model.state_dict(), "x_mean": self.x_mean,
                "x_std": self.x_std, "y_mean": self.y_mean, "y_std": self.y_std}


def _network(n_in: int, n_out: int, params: dict) -> RegressionMLP:
    """The :class:`RegressionMLP` of ``params`` (n_layers, units halving per layer, >= 8)."""
    hidden = tuple(max(int(params["units"]) // 2 ** i, 8) for i in range(int(params["n_layers"])))
    return RegressionMLP(n_in, n_out, hidden, params["activation"], float(params["dropout"]))


def regressor_from_state(state: dict) -> TorchRegressor:
    """Rebuild a :class:`TorchRegressor` saved with :meth:`TorchRegressor.state`.

    Parameters
    ----------
    state : dict
        The tree of :meth:`TorchRegressor.state`; the network's widths come from ``params``
        and the sizes of ``x_mean`` and ``y_mean``.

    Returns
    -------
    TorchRegressor
        The fitted regressor, in eval mode.
    """
    regressor = TorchRegressor(dict(state["params"]))
    regressor.x_mean, regressor.y_mean = np.asarray(state["x_mean"]), np.asarray(state["y_mean"])
    regressor.x_std, regressor.y_std = np.asarray(state["x_std"]), np.asarray(state["y_std"])
    regressor.model = _network(regressor.x_mean.size, regressor.y_mean.size, state["params"])
    regressor.model.load_state_dict(state["state_dict"])
    regressor.model.eval()
    return regressor


#: The MLP of :class:`TorchRegressor` when ``params`` names no other.
DEFAULT_MLP = {"n_layers": 2, "units": 128, "activation": "relu", "dropout": 0.1, "l1": 0.0,
               "lr": 1e-3, "batch_size": 16}


def _l1_mse(model, l1: float):
    mse = torch.nn.MSELoss()

    def loss(output, target):
        penalty = sum(p.abs().sum() for n, p in model.named_parameters() if "weight" in n)
        return mse(output, target) + l1 * penalty

    return loss


def fit_mlp(x, y, params: dict, *, epochs: int = 200, patience: int = 20, seed: int = 0,
            x_val=None, y_val=None, device: str = "auto") -> tuple[TorchRegressor, int]:
    """A :class:`TorchRegressor` with ``params`` fitted on ``x`` (N, D) and ``y`` (N, T), and the
    epoch kept (early stopping on the validation loss when given).

    Parameters
    ----------
    x : (N, D) array
        Inputs.
    y : (N,) or (N, T) array
        Targets.
    params : dict
        Network and optimiser settings (:data:`DEFAULT_MLP` keys).
    epochs : int
        Most training epochs.
    patience : int
        Early-stopping patience, epochs (with a validation set).
    seed : int
        Seed of the weights and batches.
    x_val, y_val : array, optional
        Validation set.
    device : str
        Torch device for training, "auto" picks CUDA when available.

    Returns
    -------
    regressor : TorchRegressor
        The fitted regressor.
    best_epoch : int
        Index (from 0) of the epoch whose weights were kept.
    """
    fitted = TorchRegressor(dict(params), epochs, patience, seed, device).fit(x, y, x_val, y_val)
    return fitted, fitted.best_epoch_


def tune_mlp(x, y, folds, space: dict, n_trials: int, *, epochs: int = 200, seed: int = 0,
             storage: str | Path | BaseStorage | None = None, study_name: str = "mlp",
             device: str = "auto", engine: Engine | None = None) -> tuple[dict, int]:
    """Optuna search of the MLP over grouped ``folds`` (mean validation MSE of standardised
    targets); returns the best params and the median best epoch of its folds.

    Parameters
    ----------
    x : (N, D) array
        Inputs of the rows that ``folds`` index.
    y : (N,) or (N, T) array
        Targets, in their units (standardised per fold model).
    folds : list of (train, val) index arrays
        Grouped folds.
    space : dict
        Optuna search space of the MLP's ``params`` (:class:`TorchRegressor`;
        :mod:`tmdlearn.learn.tune`).
    n_trials : int
        Trials of the study.
    epochs : int
        Most epochs per fold MLP, which stops early on its validation loss (:func:`fit_mlp`'s
        default patience).
    seed : int
        Seed of the sampler and of the models (the same in every fold).
    storage : str, Path or optuna.storages.BaseStorage, optional
        Optuna storage (SQLite path, database URL or storage already open) of a resumable,
        shareable study (:func:`~tmdlearn.learn.tune.tune`) whose trials keep their median
        epoch; None: in memory.
    study_name : str
        Name of the study in ``storage``.
    device : str
        Torch device for training.
    engine : Engine, optional
        Where the folds of a trial run, one task each (:func:`mlp_fold`,
        :mod:`tmdlearn.engine`); None: one after another here.

    Returns
    -------
    params : dict
        The best trial's parameters.
    epochs : int
        Median number of epochs kept over its folds.
    """

    def objective(params, trial):
        tasks = [(x[train], y[train], x[val], y[val], params, epochs, seed, device)
                 for train, val in folds]
        losses, epochs_kept = zip(*map_tasks(engine, mlp_fold, tasks, "MLP folds"), strict=True)
        trial.set_user_attr("epochs", int(np.median(epochs_kept)))
        return float(np.mean(losses))

    study = tune(objective, space, n_trials, study_name=study_name, storage=storage, seed=seed)
    return dict(study.best_params), int(study.best_trial.user_attrs["epochs"])


def mlp_fold(task: tuple) -> tuple[float, int]:
    """One fold of :func:`tune_mlp` (an engine task).

    Parameters
    ----------
    task : tuple
        ``(x_train, y_train, x_val, y_val, params, epochs, seed, device)``.

    Returns
    -------
    (float, int)
        Validation MSE of the standardised targets and the epochs kept (best epoch + 1).
    """
    x_train, y_train, x_val, y_val, params, epochs, seed, device = task
    fitted, best = fit_mlp(x_train, y_train, params, epochs=epochs, seed=seed, x_val=x_val,
                           y_val=y_val, device=device)
    z_true = (y_val.reshape(len(y_val), -1) - fitted.y_mean) / fitted.y_std
    z_pred = (fitted.predict(x_val) - fitted.y_mean) / fitted.y_std
    return float(np.mean((z_true - z_pred) ** 2)), best + 1


def score(y_train, p_train, y_test, p_test, n_boot: int = 30, seed: int = 0) -> dict:
    """Train and test R², and the percentile bootstrap 95% CI of the test R².

    Parameters
    ----------
    y_train, p_train : (N_train,) array
        True and predicted training targets.
    y_test, p_test : (N_test,) array
        True and predicted test targets.
    n_boot : int
        Bootstrap resamples of the test rows.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        r2_train, r2_test, r2_test_low and r2_test_high.
    """
    ci = bootstrap_ci(r2, np.asarray(y_test), np.asarray(p_test), n_boot=n_boot, seed=seed)
    return {"r2_train": r2(y_train, p_train), "r2_test": ci.estimate, "r2_test_low": ci.low,
            "r2_test_high": ci.high}
