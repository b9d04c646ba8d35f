"""The cross-modal workflow: embedding targets, spectra → AFM regression, spectrum generation,
feature heads and read-outs, collected into tables, figures, models and headline metrics.
``DEFAULTS``, ``load(cfg)`` (the paired dataset) and ``run(data, cfg)`` ->
:class:`~tmdlearn.outcome.Outcome`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.config import Open, merged
from tmdlearn.crossmodal import figures
from tmdlearn.crossmodal.data import TASKS, CrossModalData, SpectrumGrid, load_pairs
from tmdlearn.crossmodal.generate import (
    fit_generator,
    kind_of,
    spectrum_scores,
    tune_generator,
)
from tmdlearn.crossmodal.published import citation, note, published_value
from tmdlearn.crossmodal.readout import READOUTS, read_feature
from tmdlearn.crossmodal.regress import MODELS, fit_mlp, fit_ridge, fit_svr, score, tune_mlp
from tmdlearn.crossmodal.saved import save_models
from tmdlearn.crossmodal.targets import embedding_targets, physical_targets
from tmdlearn.data import grouped_holdout, grouped_kfold
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import write_text
from tmdlearn.learn import torch_threads
from tmdlearn.learn.regression import pearson_rows, r2
from tmdlearn.learn.tune import open_storage
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track

_DECODER = {"n_decoder_layers": {"type": "int", "low": 1, "high": 3},
            "activation": {"type": "categorical", "choices": ["relu", "leaky_relu", "elu"]},
            "dropout": {"type": "float", "low": 0.0, "high": 0.3},
            "lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
            "batch_size": {"type": "categorical", "choices": [16, 32]}}
_SPECTRAL = {"n_layers": {"type": "int", "low": 1, "high": 3},
             "units": {"type": "categorical", "choices": [64, 128, 256, 512, 1024]}}

DEFAULTS: dict = {
    "seed": 0,
    "device": "auto",
    "threads": 1,
    "optuna": {"storage": None, "study": None},
    "data": {"folder": None, "scan_size_um": 1.0, "raman_power_mw": None, "pl_power_mw": None,
             "raman_window_cm1": [360.0, 480.0], "raman_points": 202,
             "pl_window_ev": [1.6, 2.2], "pl_points": 200},
    "split": {"test_size": 0.2, "folds": 5},
    "embedding": {"backbone": "efficientnet-lite0", "weights": "default", "cache_dir": None,
                  "clip_nm": 1.5, "methods": ["umap", "pca"], "umap_neighbors": 15,
                  "umap_metric": "cosine"},
    "regression": {
        "inputs": ["raman", "pl"], "models": list(MODELS), "bootstrap": 30,
        "physical": ["coverage", "domain_density_um2", "bilayer_fraction", "sq_nm"],
        "ridge_alphas": [1.0, 10.0, 100.0, 1000.0, 10000.0],
        "svr_grid": Open({"C": [0.1, 1.0, 10.0], "gamma": ["scale"],
                          "kernel": ["rbf", "poly"], "degree": [2]}),
        "mlp": {"trials": 2, "epochs": 120,
                "space": Open({"n_layers": {"type": "int", "low": 1, "high": 3},
                          "units": {"type": "categorical", "choices": [32, 64, 128, 256]},
                          "activation": {"type": "categorical",
                                         "choices": ["relu", "tanh", "elu"]},
                          "dropout": {"type": "float", "low": 0.0, "high": 0.3},
                          "l1": {"type": "float", "low": 1e-7, "high": 1e-4, "log": True},
                          "lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                          "batch_size": {"type": "categorical", "choices": [16, 32]}})},
    },
    "generation": {
        "tasks": list(TASKS), "folds": 3, "trials": 1, "epochs": 100, "patience": 15,
        "n_figure": 4,
        "space": Open({"image": dict(_DECODER), "spectrum": {**_DECODER, **_SPECTRAL},
                       "fusion": {**_DECODER, **_SPECTRAL,
                                  "fusion_width": {"type": "categorical",
                                                   "choices": [256, 512, 1024]}}}),
    },
    "heads": {"epochs": 150,
              "params": {"n_layers": 2, "units": 128, "activation": "relu", "dropout": 0.1,
                         "l1": 0.0, "lr": 1e-3, "batch_size": 16}},
}


def held_out_samples(groups, test_size: float, seed: int) -> np.ndarray:
    """The sample ids held out for testing (about ``test_size`` of the samples).

    Parameters
    ----------
    groups : (N,) array
        Sample id of each key.
    test_size : float
        Share of the samples held out, in (0, 1).
    seed : int
        Seed of the split.

    Returns
    -------
    array
        Sorted held-out sample ids.
    """
    groups = np.asarray(groups)
    _, test = grouped_holdout(groups, test_size=test_size, seed=seed)
    return np.unique(groups[test])


def task_split(data: CrossModalData, modalities, held_out: np.ndarray, n_folds: int,
               seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Train rows, test rows and grouped folds (positions in train) of the keys measured in
    every one of ``modalities``; test rows are those of the ``held_out`` samples.

    Parameters
    ----------
    data : CrossModalData
        The paired dataset.
    modalities : sequence of str
        Modalities a key must have.
    held_out : array
        Held-out sample ids (:func:`held_out_samples`).
    n_folds : int
        Folds wanted (at most the number of training samples).
    seed : int
        Seed of the folds.

    Returns
    -------
    train, test : int array
        Key indices.
    folds : list of (train, val) index arrays
        Grouped folds, as positions in ``train``.
    """
    rows = data.rows(modalities)
    is_test = np.isin(data.groups[rows], held_out)
    train, test = rows[~is_test], rows[is_test]
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"{'+'.join(modalities)}: no train or no test rows "
                         f"({len(train)} / {len(test)})")
    n = min(n_folds, np.unique(data.groups[train]).size)
    return train, test, grouped_kfold(data.groups[train], n_splits=n, seed=seed)


def load(config: dict) -> CrossModalData:
    """The paired dataset of ``data.folder`` (:func:`~tmdlearn.crossmodal.data.load_pairs`; the
    filters used in its ``filters``) with the backbone features of its AFM maps, cached under
    ``embedding.cache_dir`` when set.

    Parameters
    ----------
    config : dict
        Workflow configuration (:data:`DEFAULTS`): ``data``, ``embedding``, ``device``,
        ``threads``.

    Returns
    -------
    CrossModalData
        With ``image_features`` and ``filters`` filled.
    """
    d, emb = config["data"], config["embedding"]
    if not d.get("folder"):
        raise InputError("no dataset: give --data FOLDER or set data.folder")
    with torch_threads(config.get("threads") or None):
        pairs, filters = load_pairs(
            d["folder"], d["scan_size_um"], d["raman_power_mw"], d["pl_power_mw"],
            SpectrumGrid(tuple(d["raman_window_cm1"]), int(d["raman_points"]), "cm-1"),
            SpectrumGrid(tuple(d["pl_window_ev"]), int(d["pl_points"]), "eV"))
        compute_image_features(pairs, emb, config["device"], emb["cache_dir"])
    pairs.filters = filters
    return pairs


def run(data: CrossModalData, config: dict, progress: bool | None = None) -> Outcome:
    """Run every part of the workflow on ``data`` (image features already computed, as by
    :func:`load`).

    ``optuna.storage``: Optuna storage (SQLite path or database URL) of resumable searches,
    shared by every process that runs with it (:func:`~tmdlearn.learn.tune.tune`), opened once
    for the run; None keeps them in memory. ``optuna.study`` prefixes the studies' names. The
    models are saved as ``models/<name>/`` (model folders with cards,
    :func:`~tmdlearn.crossmodal.saved.save_models`).

    Parameters
    ----------
    data : CrossModalData
        The dataset of :func:`load`.
    config : dict
        Workflow configuration, possibly partial (missing keys take :data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off, or None (on a terminal).

    Returns
    -------
    Outcome
        Metrics, tables (Tables 3, 4, 6), figures, models and the files to write.
    """
    cfg = merged(DEFAULTS, config)
    seed = int(cfg["seed"])
    storage = open_storage(cfg["optuna"]["storage"])
    outcome = Outcome()
    held_out = held_out_samples(data.groups, cfg["split"]["test_size"], seed)
    outcome.info["test_samples"] = held_out.tolist()
    with showing(progress), torch_threads(cfg.get("threads") or None):
        if cfg["regression"]["inputs"]:
            _regression(data, cfg, held_out, storage, outcome)
        if cfg["generation"]["tasks"]:
            _generation(data, cfg, held_out, storage, outcome)
    n_samples = int(np.unique(data.groups).size)
    outcome.files["models"] = partial(save_models, models=outcome.models, config=cfg,
                                      metrics=outcome.metrics, n_samples=n_samples)
    outcome.files["published.md"] = partial(write_text, text=note())
    outcome.info.update(published=citation(), filters=data.filters, n_keys=len(data),
                        n_samples=n_samples)
    return outcome


def _study(cfg: dict, name: str) -> str:
    """The study name of one of the run's searches in its Optuna storage.

    Parameters
    ----------
    cfg : dict
        The merged config (its ``optuna.study``, a prefix or None).
    name : str
        The search's own name, e.g. ``regression-raman-s0``.

    Returns
    -------
    str
        ``<optuna.study>/<name>``, or ``name`` without a prefix.
    """
    prefix = cfg["optuna"]["study"]
    return f"{prefix}/{name}" if prefix else name


def _regression(data: CrossModalData, cfg: dict, held_out, storage, outcome: Outcome) -> None:
    reg, seed = cfg["regression"], int(cfg["seed"])
    names, y_all = _regression_targets(data, cfg, held_out)
    records = []
    for modality in reg["inputs"]:
        train, test, folds = task_split(data, ["afm", modality], held_out,
                                        cfg["split"]["folds"], seed)
        x = data.inputs(modality)
        xtr, xte, ytr, yte = x[train], x[test], y_all[train], y_all[test]
        bundle = {"input": modality, "targets": names, "axis": _axis(data, modality)}
        predictions = _fit_regressors(bundle, xtr, ytr, xte, folds, cfg, storage)
        for model, (ptr, pte) in predictions.items():
            for j, name in enumerate(names):
                row = {"input": modality, "target": name, "model": model,
                       **score(ytr[:, j], ptr[:, j], yte[:, j], pte[:, j], reg["bootstrap"],
                               seed),
                       "n_train": len(train), "n_test": len(test),
                       "published_r2_test": published_value("regression", modality, name,
                                                            model)}
                records.append(row)
        outcome.models[f"regression_{modality}"] = bundle
        best = {name: max(((m, r2(yte[:, j], p[1][:, j])) for m, p in predictions.items()
                           if m != "mean"), key=lambda t: t[1]) for j, name in enumerate(names)}
        outcome.figures[f"scatter_{modality}"] = figures.scatter(
            names, ytr, yte, predictions, best, title=f"{modality} → AFM embedding")
    table = pd.DataFrame(records)
    outcome.tables["table3_regression"] = table
    outcome.metrics.update(_regression_metrics(table, names, reg["inputs"]))


def _regression_targets(data: CrossModalData, cfg: dict, held_out) -> tuple[list[str],
                                                                           np.ndarray]:
    """Names and values (N, T) of the regression targets: the AFM embeddings (fitted on the
    AFM rows outside ``held_out``) and the configured physical targets."""
    emb, reg = cfg["embedding"], cfg["regression"]
    afm_rows = data.rows(["afm"])
    fit_rows = afm_rows[~np.isin(data.groups[afm_rows], held_out)]
    targets = embedding_targets(data.image_features, fit_rows, emb["methods"], int(cfg["seed"]),
                                emb["umap_neighbors"], emb["umap_metric"])
    if reg["physical"]:
        targets.update(physical_targets(data.heights, reg["physical"]))
    names = list(targets)
    return names, np.stack([targets[n] for n in names], axis=1)


def _fit_regressors(bundle: dict, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, folds,
                    cfg: dict, storage) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fit every configured regression model on (``xtr``, ``ytr``), store it in ``bundle``
    (``input`` and ``targets`` set) and return each model's (train, test) predictions, the
    training mean (``mean``) first."""
    reg, seed, device = cfg["regression"], int(cfg["seed"]), cfg["device"]
    modality, names = bundle["input"], bundle["targets"]
    predictions = {"mean": (np.broadcast_to(ytr.mean(0), ytr.shape),
                            np.broadcast_to(ytr.mean(0), (len(xte), ytr.shape[1])))}
    for model in reg["models"]:
        if model == "mlp":
            mlp = reg["mlp"]
            params, epochs = tune_mlp(xtr, ytr, folds, mlp["space"], mlp["trials"],
                                      epochs=mlp["epochs"], seed=seed, storage=storage,
                                      study_name=_study(cfg, f"regression-{modality}-s{seed}"),
                                      device=device)
            fitted, _ = fit_mlp(xtr, ytr, params, epochs=epochs, seed=seed, device=device)
            bundle["mlp"] = fitted
            predictions["mlp"] = (fitted.predict(xtr), fitted.predict(xte))
            continue
        if model not in ("ridge", "svr"):
            raise InputError(f"unknown regression model {model!r}: use {list(MODELS)}")
        fitted = [fit_ridge(xtr, ytr[:, j], folds, reg["ridge_alphas"]) if model == "ridge"
                  else fit_svr(xtr, ytr[:, j], folds, reg["svr_grid"])
                  for j in track(range(len(names)), f"{model} on {modality}")]
        bundle[model] = dict(zip(names, fitted, strict=True))
        predictions[model] = (np.stack([f.predict(xtr) for f in fitted], 1),
                              np.stack([f.predict(xte) for f in fitted], 1))
    return predictions


def _regression_metrics(table: pd.DataFrame, names: list[str], inputs: list[str]) -> dict:
    """Headline figures of table3: the best test R² per input and target, and per input the
    mean over the embedding and the physical targets of the best model and of the mean."""
    metrics = {}
    embedding_names = [n for n in names if n.split("-")[0] in ("UMAP", "PCA")]
    for modality in inputs:
        sub = table[table["input"] == modality]
        best = sub[sub["model"] != "mean"].groupby("target")["r2_test"].max()
        mean = sub[sub["model"] == "mean"].set_index("target")["r2_test"]
        for target, value in best.items():
            metrics[f"regression_{modality}_{target}_r2_test"] = float(value)
        for group, members in (("embedding", embedding_names),
                               ("physical", [n for n in names if n not in embedding_names])):
            if members:
                metrics[f"regression_{modality}_{group}_best_r2_test_mean"] = float(
                    best[members].mean())
                metrics[f"regression_{modality}_{group}_mean_predictor_r2_test"] = float(
                    mean[members].mean())
    return metrics


def _axis(data: CrossModalData, modality: str):
    return {"raman": data.raman_axis, "pl": data.pl_axis}.get(modality)


def _generation(data: CrossModalData, cfg: dict, held_out, storage, outcome: Outcome) -> None:
    gen, seed = cfg["generation"], int(cfg["seed"])
    truth = {}
    score_rows, readout_rows = [], []
    for task in gen["tasks"]:
        if task not in TASKS:
            raise InputError(f"unknown generation task {task!r}: use {list(TASKS)}")
        inputs, output = TASKS[task]
        train, test, folds = task_split(data, [*inputs, output], held_out, gen["folds"], seed)
        x = np.hstack([data.inputs(m) for m in inputs]).astype(np.float32)
        y = data.inputs(output).astype(np.float32)
        in_dims = tuple(data.inputs(m).shape[1] for m in inputs)
        kind = kind_of(inputs)
        params, scores, epochs = tune_generator(
            kind, in_dims, x[train], y[train], folds, x[test], y[test], gen["space"][kind],
            gen["trials"], epochs=gen["epochs"], patience=gen["patience"], seed=seed,
            storage=storage, study_name=_study(cfg, f"generation-{task}-s{seed}"),
            device=cfg["device"])
        final, _ = fit_generator(kind, in_dims, x[train], y[train], params, epochs=epochs,
                                 seed=seed, device=cfg["device"])
        generated = final.predict(x[test])
        outcome.models[f"generator_{task}"] = final
        final_scores = spectrum_scores(y[test], generated)
        score_rows += _generation_rows(task, scores, final_scores)
        key = task.replace("->", "_to_").replace("+", "_")
        # the saved model on the held-out samples; the fold models' spread beside it
        outcome.metrics[f"generation_{key}_test_pearson"] = final_scores["pearson"]
        outcome.metrics[f"generation_{key}_test_rmse"] = final_scores["rmse"]
        outcome.metrics[f"generation_{key}_fold_mean"] = float(np.mean(scores["test"]["pearson"]))
        outcome.metrics[f"generation_{key}_fold_std"] = float(np.std(scores["test"]["pearson"]))
        axis = _axis(data, output)
        outcome.figures[f"generated_{key}"] = figures.generated(
            axis, y[test], generated, pearson_rows(y[test], generated), gen["n_figure"],
            title=task, unit="cm-1" if output == "raman" else "eV")
        # read-outs: the output's physical feature fitted on generated and on true spectra
        if output not in truth:
            truth[output] = np.full(len(data), np.nan)
            rows = data.rows([output])
            truth[output][rows] = read_feature(data.inputs(output)[rows], axis, output)
        readout_rows.append(_readout(task, truth[output], read_feature(generated, axis, output),
                                     x, train, test, cfg, outcome))
        outcome.info[f"generation_{task}"] = {"params": params, "epochs": epochs,
                                              "n_train": len(train), "n_test": len(test)}
    outcome.tables["table4_generation"] = pd.DataFrame(score_rows)
    outcome.tables["table6_readouts"] = pd.DataFrame(readout_rows)


def _generation_rows(task: str, scores: dict, final_scores: dict) -> list[dict]:
    """Rows of table4 for one task: mean and spread of each metric of the fold models per
    split beside the published value, then the final model on the test samples."""
    rows = []
    for split_name, metrics in scores.items():
        row = {"task": task, "split": split_name}
        for metric, values in metrics.items():
            row[f"{metric}_mean"], row[f"{metric}_std"] = np.mean(values), np.std(values)
            row[f"published_{metric}"] = published_value("generation", task, split_name,
                                                          metric)
        rows.append(row)
    rows.append({"task": task, "split": "test (final model)",
                 "rmse_mean": final_scores["rmse"], "pearson_mean": final_scores["pearson"]})
    return rows


def _readout(task: str, true_feature: np.ndarray, from_generated: np.ndarray, x: np.ndarray,
             train: np.ndarray, test: np.ndarray, cfg: dict, outcome: Outcome) -> dict:
    """Row of table6 for one task: R² of the output's feature fitted on the generated test
    spectra and of a feature head (an MLP on the inputs ``x``, stored in ``outcome``) against
    the feature fitted on the true spectra (``true_feature``, (N,), NaN without an ok fit)."""
    heads, seed = cfg["heads"], int(cfg["seed"])
    head_rows = train[np.isfinite(true_feature[train])]
    head, _ = fit_mlp(x[head_rows], true_feature[head_rows], heads["params"],
                      epochs=heads["epochs"], seed=seed, device=cfg["device"])
    outcome.models[f"head_{task}"] = head
    head_pred = head.predict(x[test])[:, 0]
    feature = READOUTS[TASKS[task][1]][1]
    r2_readout = r2(true_feature[test], from_generated)
    r2_head = r2(true_feature[test], head_pred)
    key = task.replace("->", "_to_").replace("+", "_")
    outcome.metrics[f"readout_{key}_{feature}_r2"] = r2_readout
    outcome.metrics[f"head_{key}_{feature}_r2"] = r2_head
    return {"task": task, "feature": feature,
            "r2_fitted_on_generated": r2_readout, "r2_feature_head": r2_head,
            "n_test": len(test),
            # test spectra without an ok fit (true / generated): left out
            "n_not_ok_true": int(np.isnan(true_feature[test]).sum()),
            "n_not_ok_generated": int(np.isnan(from_generated).sum()),
            "published_r2_fitted_on_generated": published_value(
                "readout", task, feature, "generated"),
            "published_r2_feature_head": published_value("readout", task, feature, "head")}


def compute_image_features(data: CrossModalData, embedding: dict, device: str = "auto",
                           cache_dir: str | Path | None = None) -> None:
    """Fill ``data.image_features`` (N, D; NaN rows without AFM) with pooled backbone features
    of the height maps, cached on disk under ``cache_dir``.

    Parameters
    ----------
    data : CrossModalData
        The dataset; changed in place.
    embedding : dict
        The config's ``embedding`` section (backbone, weights, clip_nm in nm).
    device : str
        Torch device, "auto" picks CUDA when available.
    cache_dir : str or Path, optional
        Folder of the feature cache.
    """
    from tmdlearn.afm.embed import embed

    rows = data.rows(["afm"])
    features = embed([data.heights[i] for i in rows], backbone=embedding["backbone"],
                     weights=embedding["weights"], device=device, cache_dir=cache_dir,
                     clip_nm=float(embedding["clip_nm"]))
    out = np.full((len(data), features.shape[1]), np.nan, dtype=np.float32)
    out[rows] = features
    data.image_features = out
