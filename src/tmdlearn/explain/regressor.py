"""Raman peak vector -> PL peak vector: the study's CNN as a scikit-learn-style regressor.

``fit(X, Y)`` takes the (N, 24) Raman vectors (centre, FWHM, height of eight Lorentzians) and the
(N, 3) PL vectors (position eV, FWHM eV, height counts); it renders X as (N, 8, L) peak profiles
(:class:`~tmdlearn.explain.render.PeakRenderer`), standardises Y on the training rows, and trains
:class:`~tmdlearn.models.cnn1d.PeakCNN1d` with Adam (learning rate 3e-3, batch 128 by default;
the study's 1e-3 is ``lr=1e-3``) and early stopping on a held-out share of the rows it is
given. ``predict(X)`` returns Y in physical units, so PDP/ICE read the model on the physical
peak parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from tmdlearn.config import check_keys
from tmdlearn.errors import InputError
from tmdlearn.explain.render import PeakRenderer
from tmdlearn.learn.train import TrainConfig, predict, train_model
from tmdlearn.models.card import make_card
from tmdlearn.models.cnn1d import PeakCNN1d
from tmdlearn.models.store import read_model, write_model


@dataclass
class CNNSettings:
    """Architecture and training settings (see :class:`PeakCNN1d`; ``epochs`` and ``patience``
    are CPU-sized, the study trained 1,000-10,000 epochs).

    ``early_stopping_fraction``: share of the rows given to :meth:`fit` held out for early
    stopping (0: train all ``epochs``). ``ibn_ratio``: share of the channels under instance
    normalisation; 0 (batch normalisation only) keeps the absolute peak heights the PL
    intensity depends on (the study's IBN-a, 0.5, reaches lower validation R², see
    docs/explain.md).
    """

    n_blocks: int = 10
    pool_every: int = 2
    width: int = 16
    hidden: tuple[int, int] = (64, 32)
    dropout: float = 0.5
    residual: bool = False
    ibn_ratio: float = 0.0
    length: int = 32
    half_window: float = 12.0
    epochs: int = 150
    batch_size: int = 128
    lr: float = 3e-3
    patience: int | None = 50
    early_stopping_fraction: float = 0.15
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict) -> CNNSettings:
        """Settings from a config's ``model`` section (unknown keys raise InputError).

        Parameters
        ----------
        values : dict
            Field values by name; missing fields keep their defaults.

        Returns
        -------
        CNNSettings
        """
        check_keys(values, cls.__dataclass_fields__, "model.")
        values = dict(values)
        if "hidden" in values:
            values["hidden"] = tuple(int(v) for v in values["hidden"])
        return cls(**values)


class RamanPLRegressor(RegressorMixin, BaseEstimator):
    """The study's CNN on rendered Raman peak profiles, predicting PL peak parameters.

    A scikit-learn estimator (``get_params``/``set_params``, ``clone``, ``fit``/``predict``,
    ``score`` = R²) whose parameters are the fields of :class:`CNNSettings`
    (``RamanPLRegressor(**asdict(settings))``); torch inside. Fitted: ``renderer``, ``model``,
    ``y_mean``, ``y_std``, ``history``.
    """

    def __init__(self, n_blocks: int = 10, pool_every: int = 2, width: int = 16,
                 hidden: tuple[int, int] = (64, 32), dropout: float = 0.5,
                 residual: bool = False, ibn_ratio: float = 0.0, length: int = 32,
                 half_window: float = 12.0, epochs: int = 150, batch_size: int = 128,
                 lr: float = 3e-3, patience: int | None = 50,
                 early_stopping_fraction: float = 0.15, seed: int = 0, device: str = "auto"):
        self.n_blocks, self.pool_every, self.width = n_blocks, pool_every, width
        self.hidden = hidden
        self.dropout, self.residual, self.ibn_ratio = dropout, residual, ibn_ratio
        self.length, self.half_window, self.epochs = length, half_window, epochs
        self.batch_size, self.lr, self.patience = batch_size, lr, patience
        self.early_stopping_fraction, self.seed, self.device = early_stopping_fraction, seed, device

    @property
    def settings(self) -> CNNSettings:
        """The parameters as :class:`CNNSettings`."""
        return CNNSettings(**self.get_params())

    def fit(self, X, Y) -> RamanPLRegressor:
        """Train on Raman vectors X (N, 3K) and PL vectors Y (N, T); returns self.

        Parameters
        ----------
        X : (N, 3K) array
            Raman peak vectors ``[c_1, w_1, h_1, ...]`` (cm-1, cm-1, counts), N >= 10, finite.
        Y : (N, T) array
            PL peak vectors (position eV, FWHM eV, height counts), finite.

        Returns
        -------
        RamanPLRegressor
            ``self``, fitted.
        """
        X, Y = _check(X, Y)
        s = self.settings
        rng = np.random.default_rng(s.seed)
        order = rng.permutation(len(X))
        n_stop = int(round(s.early_stopping_fraction * len(X)))
        stop, train = order[:n_stop], order[n_stop:]
        self.renderer = PeakRenderer(s.length, s.half_window).fit(X[train])
        self.y_mean, self.y_std = Y[train].mean(axis=0), Y[train].std(axis=0)
        self.y_std = np.where(self.y_std > 0, self.y_std, 1.0)
        torch.manual_seed(s.seed)
        self.model = _network(s, X.shape[1] // 3, Y.shape[1])
        x = self.renderer.transform(X)
        y = ((Y - self.y_mean) / self.y_std).astype(np.float32)
        config = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                             weight_decay=0.0, patience=s.patience if n_stop else None,
                             seed=s.seed, device=s.device)
        # AdamW with weight_decay 0 is Adam (the study's optimiser)
        self.history = train_model(
            self.model, x[train], y[train], config=config, loss="mse",
            x_val=x[stop] if n_stop else None, y_val=y[stop] if n_stop else None,
            augment=None, description="training CNN")
        return self

    def predict(self, X) -> np.ndarray:
        """PL vectors (N, 3) in physical units for Raman vectors X (N, 24).

        Parameters
        ----------
        X : (N, 3K) array
            Raman peak vectors (cm-1, cm-1, counts), K as in :meth:`fit`.

        Returns
        -------
        (N, T) array
            Predicted PL vectors (position eV, FWHM eV, height counts).
        """
        if getattr(self, "model", None) is None:
            raise InputError("the regressor is not fitted")
        X = np.asarray(X, dtype=float)
        out = predict(self.model, self.renderer.transform(X), batch_size=4096,
                      device=self.settings.device)
        return out * self.y_std + self.y_mean

    def state(self) -> dict:
        """Weights, renderer and target scaling as a plain tree (see :meth:`from_state`).

        Returns
        -------
        dict
            settings, renderer, y_mean, y_std, n_inputs, n_outputs and the torch state_dict
            (CPU tensors).
        """
        return {"settings": asdict(self.settings), "renderer": self.renderer.state(),
                "y_mean": self.y_mean.tolist(), "y_std": self.y_std.tolist(),
                "n_inputs": int(self.model.in_channels) * 3,
                "n_outputs": int(self.model.out_features),
                "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()}}

    def save(self, path: str | Path, material: str | None = None,
             inputs: dict | None = None, metrics: dict | None = None) -> Path:
        """Write the regressor as a model folder with its card (atomically).

        Parameters
        ----------
        path : str or Path
            Model folder to write.
        material : str, optional
            Material named on the card (e.g. "wse2").
        inputs : dict, optional
            Extra input descriptions for the card (e.g. the peak models of X and Y).
        metrics : dict, optional
            Scores to record on the card.

        Returns
        -------
        Path
            The model folder.
        """
        card = make_card("explain", "Raman peak vector -> PL peak vector (1D CNN)",
                         material=material, inputs={"modality": "raman peak parameters",
                                                    **(inputs or {})},
                         metrics=metrics, seed=self.settings.seed)
        return write_model(path, self.state(), card)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> RamanPLRegressor:
        """A regressor saved by :meth:`save` (its card checked first).

        Parameters
        ----------
        path : str or Path
            Model folder.
        device : str
            Torch device for prediction, "auto" picks CUDA when available.

        Returns
        -------
        RamanPLRegressor
            The fitted regressor.
        """
        payload, _, folder = read_model(path, {"workflow": "explain"})
        try:
            return cls.from_state(payload, device)
        except (KeyError, RuntimeError, TypeError) as err:
            raise InputError(f"not a saved RamanPLRegressor ({err.__class__.__name__})",
                             folder) from None

    @classmethod
    def from_state(cls, payload: dict, device: str = "auto") -> RamanPLRegressor:
        """The regressor of :meth:`state`.

        Parameters
        ----------
        payload : dict
            The tree of :meth:`state`.
        device : str
            Torch device for prediction, "auto" picks CUDA when available.

        Returns
        -------
        RamanPLRegressor
            The fitted regressor, in eval mode.
        """
        settings = CNNSettings.from_dict({**payload["settings"], "device": device})
        self = cls(**asdict(settings))
        self.renderer = PeakRenderer.from_state(payload["renderer"])
        self.y_mean = np.asarray(payload["y_mean"])
        self.y_std = np.asarray(payload["y_std"])
        self.model = _network(settings, payload["n_inputs"] // 3, payload["n_outputs"])
        self.model.load_state_dict(payload["state_dict"])
        self.model.eval()
        return self


def _network(s: CNNSettings, n_peaks: int, n_outputs: int) -> PeakCNN1d:
    if not 0.0 <= s.ibn_ratio <= 1.0:
        raise InputError(f"model.ibn_ratio must be in [0, 1], got {s.ibn_ratio}")
    return PeakCNN1d(n_peaks, n_outputs, n_blocks=s.n_blocks, pool_every=s.pool_every,
                     width=s.width, hidden=s.hidden, dropout=s.dropout, residual=s.residual,
                     ibn_ratio=s.ibn_ratio)


def _check(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim != 2 or X.shape[1] % 3 or Y.ndim != 2 or len(X) != len(Y) or len(X) < 10:
        raise InputError(f"need X (N, 3K) and Y (N, T) with N >= 10, got {X.shape} and "
                         f"{Y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise InputError("X and Y must be finite (drop pixels whose fits failed)")
    return X, Y
