"""Spectrum generation across modalities (the study's Tables 4, 5, S2, S5).

AFM → Raman / PL from cached image features, Raman ↔ PL with symmetric autoencoders, and
fusion models (AFM + the other spectrum). Every model ends in a sigmoid and is trained with
binary cross-entropy on min-max normalised spectra. Hyperparameters are searched with Optuna
over grouped CV folds (validation BCE); the fold models of the best trial give RMSE and
Pearson R mean ± std on train, validation and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from optuna.storages import BaseStorage

from tmdlearn.engine import Engine, map_tasks
from tmdlearn.learn import TrainConfig, predict, train_model
from tmdlearn.learn.regression import pearson_rows, rmse_rows, safe_scale
from tmdlearn.learn.tune import tune
from tmdlearn.models.autoencoders import FusionToSpectrum, ImageToSpectrum, SpectrumAutoencoder


def kind_of(inputs: tuple[str, ...]) -> str:
    """``image`` (AFM only), ``spectrum`` (one spectrum) or ``fusion`` (AFM + spectrum).

    Parameters
    ----------
    inputs : tuple of str
        Input modalities of a task, e.g. ("afm", "pl").

    Returns
    -------
    str
    """
    if inputs == ("afm",):
        return "image"
    if "afm" in inputs:
        return "fusion"
    return "spectrum"


def _widths(params: dict) -> tuple[int, ...]:
    first = int(params.get("units", 256))
    return tuple(max(first // 2 ** i, 64) for i in range(int(params.get("n_layers", 2))))


def build_generator(kind: str, in_dims: tuple[int, ...], out_length: int,
                    params: dict) -> torch.nn.Module:
    """The torch module of ``kind`` for inputs of widths ``in_dims`` and ``params``.

    Parameters
    ----------
    kind : str
        "image", "spectrum" or "fusion" (:func:`kind_of`).
    in_dims : tuple of int
        Width of each input (image features first for fusion).
    out_length : int
        Points L of the generated spectrum.
    params : dict
        Architecture: activation, dropout, n_decoder_layers, units, n_layers, fusion_width.

    Returns
    -------
    torch.nn.Module
        An untrained generator ending in a sigmoid.
    """
    act, dropout = params.get("activation", "relu"), float(params.get("dropout", 0.1))
    decoder_layers = int(params.get("n_decoder_layers", 2))
    if kind == "image":
        return ImageToSpectrum(in_dims[0], out_length, decoder_layers, act, dropout)
    if kind == "spectrum":
        return SpectrumAutoencoder(in_dims[0], out_length, _widths(params), act, dropout)
    return FusionToSpectrum(in_dims[0], in_dims[1], out_length, _widths(params),
                            int(params.get("fusion_width", 512)), decoder_layers, act, dropout)


@dataclass
class Generator:
    """A trained generator with the standardisation of its image features (numpy in/out).

    ``x_mean`` / ``x_std`` standardise the image-feature columns (the first ``in_dims[0]`` of
    the input for image and fusion models); spectra enter as they are, in [0, 1].
    """

    kind: str
    in_dims: tuple[int, ...]
    out_length: int
    params: dict
    model: torch.nn.Module
    x_mean: np.ndarray
    x_std: np.ndarray

    def transform_inputs(self, x) -> np.ndarray:
        """The model's input: image-feature columns standardised, spectra as they are.

        Parameters
        ----------
        x : (N, sum(in_dims)) array
            Raw inputs (image features as measured first, then a spectrum in [0, 1]); not
            modified.

        Returns
        -------
        (N, sum(in_dims)) float32 array
        """
        x = np.array(x, dtype=np.float32)
        if self.kind != "spectrum":
            d = self.in_dims[0]
            x[:, :d] = (x[:, :d] - self.x_mean) / self.x_std
        return x

    def predict(self, x) -> np.ndarray:
        """Generated spectra (N, out_length) in [0, 1].

        Parameters
        ----------
        x : (N, sum(in_dims)) array
            Inputs (image features first, then a spectrum in [0, 1]).

        Returns
        -------
        (N, out_length) float32 array
            Min-max normalised intensities.
        """
        return predict(self.model, self.transform_inputs(x), device="cpu")

    def state(self) -> dict:
        """Everything needed to rebuild it (see :func:`generator_from_state`).

        Returns
        -------
        dict
            kind, in_dims, out_length, params, state_dict, x_mean and x_std.
        """
        return {"kind": self.kind, "in_dims": list(self.in_dims), "out_length": self.out_length,
                "params": self.params, "state_dict": self.model.state_dict(),
                "x_mean": self.x_mean, "x_std": self.x_std}


def generator_from_state(state: dict) -> Generator:
    """Rebuild a :class:`Generator` saved with :meth:`Generator.state`.

    Parameters
    ----------
    state : dict
        The tree of :meth:`Generator.state`; ``kind``, ``in_dims``, ``out_length`` and
        ``params`` rebuild the network before its weights are loaded.

    Returns
    -------
    Generator
        The trained generator, in eval mode.
    """
    in_dims = tuple(state["in_dims"])
    model = build_generator(state["kind"], in_dims, state["out_length"], state["params"])
    model.load_state_dict(state["state_dict"])
    model.eval()
    return Generator(state["kind"], in_dims, state["out_length"], state["params"], model,
                     np.asarray(state["x_mean"]), np.asarray(state["x_std"]))


def fit_generator(kind: str, in_dims: tuple[int, ...], x, y, params: dict, *,
                  epochs: int = 150, patience: int = 15, seed: int = 0, x_val=None, y_val=None,
                  device: str = "auto") -> tuple[Generator, int]:
    """Train a generator on inputs ``x`` (N, sum(in_dims)) and spectra ``y`` (N, L) in [0, 1]
    with BCE; early stopping on (``x_val``, ``y_val``) when given.

    Parameters
    ----------
    kind : str
        "image", "spectrum" or "fusion".
    in_dims : tuple of int
        Width of each input.
    x : (N, sum(in_dims)) array
        Inputs (image features first, then a spectrum in [0, 1]).
    y : (N, L) array
        Target spectra in [0, 1].
    params : dict
        Architecture (:func:`build_generator`) and optimiser (lr, batch_size).
    epochs : int
        Most training epochs.
    patience : int
        Epochs without improvement before stopping (with a validation set).
    seed : int
        Seed of the weights and batches.
    x_val, y_val : array, optional
        Validation inputs and spectra for early stopping.
    device : str
        Torch device for training, "auto" picks CUDA when available.

    Returns
    -------
    generator : Generator
        The trained generator, on the CPU.
    best_epoch : int
        Index (from 0) of the epoch whose weights were kept.
    """
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    d = in_dims[0]
    x_mean, x_std = (safe_scale(x[:, :d]) if kind != "spectrum"
                     else (np.zeros(0, np.float32), np.ones(0, np.float32)))
    torch.manual_seed(seed)
    model = build_generator(kind, in_dims, y.shape[1], params)
    _start_at_mean(model, y)
    generator = Generator(kind, tuple(in_dims), y.shape[1], dict(params), model, x_mean, x_std)
    config = TrainConfig(epochs=epochs, batch_size=int(params.get("batch_size", 32)),
                         lr=float(params.get("lr", 1e-3)), weight_decay=0.0,
                         patience=patience if x_val is not None else None, seed=seed,
                         device=device)
    val = {}
    if x_val is not None:
        val = {"x_val": generator.transform_inputs(x_val), "y_val": np.asarray(y_val, np.float32)}
    history = train_model(model, generator.transform_inputs(x), y, config=config,
                          loss=torch.nn.BCELoss(), description=f"{kind} generator", **val)
    model.cpu().eval()
    return generator, history.best_epoch


def _start_at_mean(model: torch.nn.Module, y: np.ndarray) -> None:
    """Set the output layer so that the untrained model gives the mean training spectrum
    (bias = logit of the mean, small weights): training then learns the deviations."""
    output = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    mean = np.clip(y.mean(axis=0), 1e-3, 1 - 1e-3)
    with torch.no_grad():
        output.bias.copy_(torch.as_tensor(np.log(mean / (1 - mean)), dtype=torch.float32))
        output.weight.mul_(0.1)


def spectrum_scores(true, generated) -> dict:
    """Mean RMSE and mean Pearson R over spectra (rows).

    Parameters
    ----------
    true, generated : (N, L) array
        True and generated normalised spectra.

    Returns
    -------
    dict
        rmse (normalised intensity units) and pearson, NaN rows ignored.
    """
    return {"rmse": float(np.nanmean(rmse_rows(true, generated))),
            "pearson": float(np.nanmean(pearson_rows(true, generated)))}


def _bce(true, generated) -> float:
    p = np.clip(generated, 1e-7, 1 - 1e-7)
    return float(-np.mean(true * np.log(p) + (1 - true) * np.log(1 - p)))


def tune_generator(kind: str, in_dims: tuple[int, ...], x, y, folds, x_test, y_test,
                   space: dict, n_trials: int, *, epochs: int = 150, patience: int = 15,
                   seed: int = 0, storage: str | Path | BaseStorage | None = None,
                   study_name: str = "gen", device: str = "auto",
                   engine: Engine | None = None) -> tuple[dict, dict, int]:
    """Optuna search over grouped ``folds`` of (``x``, ``y``), minimising the mean validation
    BCE.

    The test spectra are scored by every fold model but never used for selection.

    Parameters
    ----------
    kind : str
        The generator searched: "image", "spectrum" or "fusion" (:func:`build_generator`).
    in_dims : tuple of int
        Width of each input, in the column order of ``x``.
    x : (N, sum(in_dims)) array
        Training inputs.
    y : (N, L) array
        Training spectra in [0, 1].
    folds : list of (train, val) index arrays
        Grouped folds of the training rows.
    x_test, y_test : array
        Held-out inputs and spectra (scored only).
    space : dict
        Optuna search space of :func:`fit_generator`'s ``params`` for this ``kind``
        (:mod:`tmdlearn.learn.tune`).
    n_trials : int
        Trials of the study, each training one generator per fold.
    epochs : int
        Most epochs of each fold's generator.
    patience : int
        Epochs without a lower validation BCE before a fold's training stops.
    seed : int
        Seed of the TPE sampler and of every fold's generator (the same in every fold).
    storage : str, Path or optuna.storages.BaseStorage, optional
        Optuna storage (SQLite path, database URL or storage already open) of a resumable,
        shareable study (:func:`~tmdlearn.learn.tune.tune`) whose trials keep their fold
        scores and epochs as user attributes; None: in memory.
    study_name : str
        Name of the study in ``storage``: one that exists resumes, if it searches ``space``.
    device : str
        Torch device of the fold generators (``auto``: CUDA when present).
    engine : Engine, optional
        Where a trial's folds run, one :func:`generator_fold` task each
        (:mod:`tmdlearn.engine`); None: one after another here.

    Returns
    -------
    params : dict
        The best trial's parameters.
    scores : dict
        ``{split: {metric: [per fold]}}`` for train, val, test; metrics rmse and pearson.
    epochs : int
        Median number of epochs kept over the folds.
    """

    def objective(params, trial):
        tasks = [(kind, in_dims, x[train], y[train], x[val], y[val], x_test, y_test, params,
                  epochs, patience, seed, device) for train, val in folds]
        results = map_tasks(engine, generator_fold, tasks, f"{kind} generator folds")
        scores = {s: {"rmse": [], "pearson": []} for s in ("train", "val", "test")}
        for _, _, fold_scores in results:
            for name, metrics in fold_scores.items():
                for metric, value in metrics.items():
                    scores[name][metric].append(value)
        trial.set_user_attr("scores", scores)
        trial.set_user_attr("epochs", int(np.median([kept for _, kept, _ in results])))
        return float(np.mean([loss for loss, _, _ in results]))

    study = tune(objective, space, n_trials, study_name=study_name, storage=storage, seed=seed)
    best = study.best_trial
    return dict(best.params), best.user_attrs["scores"], int(best.user_attrs["epochs"])


def generator_fold(task: tuple) -> tuple[float, int, dict]:
    """One fold of :func:`tune_generator` (an engine task).

    Parameters
    ----------
    task : tuple
        ``(kind, in_dims, x_train, y_train, x_val, y_val, x_test, y_test, params, epochs,
        patience, seed, device)``.

    Returns
    -------
    (float, int, dict)
        Validation BCE, the epochs kept (best epoch + 1) and ``{split: {metric: value}}`` of
        the fold model on train, val and test (:func:`spectrum_scores`).
    """
    (kind, in_dims, x_train, y_train, x_val, y_val, x_test, y_test, params, epochs, patience,
     seed, device) = task
    gen, best = fit_generator(kind, in_dims, x_train, y_train, params, epochs=epochs,
                              patience=patience, seed=seed, x_val=x_val, y_val=y_val,
                              device=device)
    parts = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
    generated = {name: gen.predict(xs) for name, (xs, _) in parts.items()}
    scores = {name: spectrum_scores(ys, generated[name]) for name, (_, ys) in parts.items()}
    return _bce(y_val, generated["val"]), best + 1, scores
