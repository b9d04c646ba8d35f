"""The regression step of the cross-modal workflow: spectra → AFM embedding and physical
targets (Table 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from tmdlearn.crossmodal import figures
from tmdlearn.crossmodal.data import CrossModalData
from tmdlearn.crossmodal.published import published_value
from tmdlearn.crossmodal.regress import MODELS, fit_mlp, fit_ridge, fit_svr, score, tune_mlp
from tmdlearn.crossmodal.targets import embedding_targets, physical_targets
from tmdlearn.crossmodal.tasks import modality_axis, study_name, task_split
from tmdlearn.engine import Engine
from tmdlearn.errors import InputError
from tmdlearn.learn.regression import r2
from tmdlearn.outcome import Outcome
from tmdlearn.progress import track


def run_regression(data: CrossModalData, cfg: dict, held_out: np.ndarray, storage,
                   outcome: Outcome, engine: Engine) -> None:
    """Spectra → AFM regression (Table 3): every configured model per input modality on the
    embedding and physical targets, scored on the held-out samples, with a scatter figure.

    Parameters
    ----------
    data : CrossModalData
        The paired dataset, image features computed.
    cfg : dict
        The merged workflow config (``regression``, ``embedding``, ``split``, ``seed``).
    held_out : array
        Held-out sample ids (:func:`~tmdlearn.crossmodal.tasks.held_out_samples`).
    storage : optuna storage or None
        Where the MLP searches are kept (None: in memory).
    outcome : Outcome
        Filled in place: table ``table3_regression``, metrics, models and figures.
    engine : Engine
        Where the folds of the MLP search run.
    """
    reg, seed = cfg["regression"], int(cfg["seed"])
    names, y_all = _regression_targets(data, cfg, held_out)
    records = []
    for modality in reg["inputs"]:
        train, test, folds = task_split(data, ["afm", modality], held_out,
                                        cfg["split"]["folds"], seed)
        x = data.inputs(modality)
        xtr, xte, ytr, yte = x[train], x[test], y_all[train], y_all[test]
        bundle = {"input": modality, "targets": names, "axis": modality_axis(data, modality)}
        predictions, cv = _fit_regressors(bundle, xtr, ytr, xte, folds, cfg, storage, engine)
        for model, (ptr, pte) in predictions.items():
            for j, name in enumerate(names):
                row = {"input": modality, "target": name, "model": model,
                       **score(ytr[:, j], ptr[:, j], yte[:, j], pte[:, j], reg["bootstrap"],
                               seed),
                       "r2_cv": float(cv[model][j]),
                       "n_train": len(train), "n_test": len(test),
                       "published_r2_test": published_value("regression", modality, name,
                                                            model)}
                records.append(row)
        chosen = {name: max((m for m in predictions if m != "mean"), key=lambda m: cv[m][j])
                  for j, name in enumerate(names)}
        for row in records[-len(predictions) * len(names):]:
            row["cv_chosen"] = chosen[row["target"]] == row["model"]
        bundle["cv_chosen"] = chosen  # what crossmodal predict reports per target
        outcome.models[f"regression_{modality}"] = bundle
        best = {name: (m, r2(yte[:, j], predictions[m][1][:, j]))
                for j, (name, m) in enumerate(chosen.items())}
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
                    cfg: dict, storage, engine: Engine | None = None
                    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
    """Fit every configured regression model on (``xtr``, ``ytr``), store it in ``bundle``
    (``input`` and ``targets`` set) and return each model's (train, test) predictions, the
    training mean (``mean``) first, and each model's grouped-CV R² per target on the training
    rows (:func:`_cv_r2`, its chosen settings refitted per fold: what picks a model without
    the test set); the MLP search's folds run on ``engine``."""
    reg, seed, device = cfg["regression"], int(cfg["seed"]), cfg["device"]
    modality, names = bundle["input"], bundle["targets"]
    predictions = {"mean": (np.broadcast_to(ytr.mean(0), ytr.shape),
                            np.broadcast_to(ytr.mean(0), (len(xte), ytr.shape[1])))}
    cv = {"mean": _cv_r2(lambda tr, va: np.broadcast_to(ytr[tr].mean(0), (len(va), len(names))),
                         ytr, folds)}
    for model in reg["models"]:
        if model == "mlp":
            mlp = reg["mlp"]
            params, epochs = tune_mlp(xtr, ytr, folds, mlp["space"], mlp["trials"],
                                      epochs=mlp["epochs"], seed=seed, storage=storage,
                                      study_name=study_name(cfg, f"regression-{modality}-s{seed}"),
                                      device=device, engine=engine)
            fitted, _ = fit_mlp(xtr, ytr, params, epochs=epochs, seed=seed, device=device)
            bundle["mlp"] = fitted
            predictions["mlp"] = (fitted.predict(xtr), fitted.predict(xte))
            cv["mlp"] = _cv_r2(lambda tr, va, params=params, epochs=epochs: fit_mlp(
                xtr[tr], ytr[tr], params, epochs=epochs, seed=seed, device=device)[0]
                .predict(xtr[va]), ytr, folds)
            continue
        if model not in ("ridge", "svr"):
            raise InputError(f"unknown regression model {model!r}: use {list(MODELS)}")
        fitted = [fit_ridge(xtr, ytr[:, j], folds, reg["ridge_alphas"]) if model == "ridge"
                  else fit_svr(xtr, ytr[:, j], folds, reg["svr_grid"])
                  for j in track(range(len(names)), f"{model} on {modality}")]
        bundle[model] = dict(zip(names, fitted, strict=True))
        predictions[model] = (np.stack([f.predict(xtr) for f in fitted], 1),
                              np.stack([f.predict(xte) for f in fitted], 1))
        cv[model] = _cv_r2(lambda tr, va, fitted=fitted: np.stack(
            [clone(f).fit(xtr[tr], ytr[tr, j]).predict(xtr[va]) for j, f in enumerate(fitted)],
            1), ytr, folds)
    return predictions, cv


def _cv_r2(predict_fold, y: np.ndarray, folds) -> np.ndarray:
    """R² per target (T,) of the validation predictions of every fold pooled:
    ``predict_fold(train, val)`` gives (len(val), T) predictions of a model fitted on
    ``train``; the folds partition the rows of ``y`` (N, T)."""
    pooled = np.empty_like(y, dtype=float)
    for tr, va in folds:
        pooled[va] = predict_fold(tr, va)
    return np.array([r2(y[:, j], pooled[:, j]) for j in range(y.shape[1])])


def _regression_metrics(table: pd.DataFrame, names: list[str], inputs: list[str]) -> dict:
    """Headline figures of table3: the best test R² per input and target, and per input the
    mean over the embedding and the physical targets of the best model, of the model each
    target's grouped-CV R² on the training rows chooses (``..._cv_chosen_r2_test_mean``), of
    every fixed model and of the mean. The best model is chosen on the test set (as the
    study's tables do), so it is optimistic; the others are not."""
    metrics = {}
    embedding_names = [n for n in names if n.split("-")[0] in ("UMAP", "PCA")]
    for modality in inputs:
        sub = table[table["input"] == modality]
        models = sub[sub["model"] != "mean"]
        best = models.groupby("target")["r2_test"].max()
        chosen = models.loc[models.groupby("target")["r2_cv"].idxmax()].set_index("target")
        mean = sub[sub["model"] == "mean"].set_index("target")["r2_test"]
        for target, value in best.items():
            metrics[f"regression_{modality}_{target}_r2_test"] = float(value)
            metrics[f"regression_{modality}_{target}_cv_chosen_r2_test"] = float(
                chosen.loc[target, "r2_test"])
        for group, members in (("embedding", embedding_names),
                               ("physical", [n for n in names if n not in embedding_names])):
            if members:
                metrics[f"regression_{modality}_{group}_best_r2_test_mean"] = float(
                    best[members].mean())
                metrics[f"regression_{modality}_{group}_cv_chosen_r2_test_mean"] = float(
                    chosen["r2_test"][members].mean())
                metrics[f"regression_{modality}_{group}_mean_predictor_r2_test"] = float(
                    mean[members].mean())
                for model, rows in sub[sub["model"] != "mean"].groupby("model"):
                    metrics[f"regression_{modality}_{group}_{model}_r2_test_mean"] = float(
                        rows.set_index("target")["r2_test"][members].mean())
    return metrics
