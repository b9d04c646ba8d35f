"""The classification workflow: compare heads or strategies under grouped CV, then tables,
figures and a latent analysis. Arrays in; an :class:`Outcome` (metrics, tables, figures) out,
written to a run folder by the command line."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmdlearn.classify import figures
from tmdlearn.classify.evaluate import CVResult, cross_validate, summarise
from tmdlearn.classify.heads import HEADS, make_head
from tmdlearn.classify.latent import correlate, latent_map
from tmdlearn.classify.strategies import STRATEGIES, ImageClassifier
from tmdlearn.errors import InputError
from tmdlearn.learn import confusion_table, per_class_scores

DEFAULTS: dict = {
    "data": {"features": None, "images": None, "latent_features": None},
    "cv": {"n_splits": 5, "seed": 0, "n_boot": 1000, "pool_samples": True},
    "heads": list(HEADS),
    "tune": True,
    "mlp": {"epochs": 150},
    "strategies": list(STRATEGIES),
    "image": {"backbone": "efficientnet-lite0", "weights": "default", "size": 224,
              "clip_nm": 1.5, "frozen_head": "logreg", "unfreeze": 1, "epochs": 10,
              "batch_size": 16, "lr": 1e-3, "backbone_lr": 1e-4, "oversample": True,
              "class_weight": None, "augment": True, "val_fraction": 0.2, "patience": 3,
              "stages": None},
    "latent": {"method": "pca"},
    "device": "auto",
}


@dataclass
class Outcome:
    """What a run produced: metrics (JSON-ready), tables and figures by file stem."""

    metrics: dict = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


def compare(models: dict, X, y, groups, config: dict) -> Outcome:
    """Cross-validate each ``models[name]()`` factory and tabulate the comparison.

    With ``cv.pool_samples`` a second, sample-pooled row is added for models with class
    probabilities.
    """
    cv = config["cv"]
    outcome = Outcome()
    rows = []
    for name, factory in models.items():
        result = cross_validate(factory, X, y, groups, n_splits=cv["n_splits"], seed=cv["seed"],
                                description=name)
        variants = [(name, result)]
        if cv["pool_samples"] and result.proba is not None:
            variants.append((f"{name} (sample-pooled)", result.pooled()))
        for label, res in variants:
            summary = summarise(res, n_boot=cv["n_boot"], seed=cv["seed"])
            outcome.metrics[label] = summary
            rows.append(_row(label, summary))
            _add_details(outcome, label, res, summary)
    table = pd.DataFrame(rows)
    outcome.tables["comparison"] = table
    outcome.figures["comparison"] = figures.comparison_figure(table)
    best = table.sort_values(["balanced_accuracy", "accuracy"], ascending=False).iloc[0]
    outcome.metrics["best"] = {"model": best["model"], "accuracy": best["accuracy"],
                               "balanced_accuracy": best["balanced_accuracy"]}
    return outcome


def _row(name: str, summary: dict) -> dict:
    row = {"model": name}
    for metric in ("accuracy", "balanced_accuracy"):
        s = summary[metric]
        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
            s["pooled"], s["ci_low"], s["ci_high"])
        row[f"{metric}_fold_mean"], row[f"{metric}_fold_std"] = s["fold_mean"], s["fold_std"]
    row["macro_f1"] = float(np.mean([c["f1"] for c in summary["per_class"]]))
    return row


def _add_details(outcome: Outcome, label: str, result: CVResult, summary: dict) -> None:
    stem = _slug(label)
    labels = summary["classes"]
    outcome.tables[f"per_class_{stem}"] = per_class_scores(result.y_true, result.y_pred, labels)
    outcome.tables[f"confusion_counts_{stem}"] = confusion_table(
        np.round(summary["confusion_mean_counts"], 2), labels)
    outcome.tables[f"confusion_normalised_{stem}"] = confusion_table(
        np.round(summary["confusion_row_normalised"], 4), labels)
    outcome.figures[f"confusion_{stem}"] = figures.confusion_figure(
        np.array(summary["confusion_mean_counts"]),
        np.array(summary["confusion_row_normalised"]), labels, title=label)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_").replace("__", "_")


def head_models(config: dict) -> dict:
    """Factories of the feature heads named in ``config["heads"]``."""
    unknown = set(config["heads"]) - set(HEADS)
    if unknown:
        raise InputError(f"unknown heads {sorted(unknown)}: choose from {', '.join(HEADS)}")
    seed, device = config["cv"]["seed"], config["device"]

    def factory(name):
        params = dict(config["mlp"]) if name == "mlp" else {}
        return lambda: make_head(name, tune=config["tune"], seed=seed, device=device, **params)

    return {name: factory(name) for name in config["heads"]}


def run_features(features, targets, groups, config: dict, latent_features=None) -> Outcome:
    """Compare heads on precomputed features (N, D); latent map of ``latent_features`` (or of
    ``features``)."""
    outcome = compare(head_models(config), np.asarray(features, float), targets, groups, config)
    _latent(outcome, latent_features if latent_features is not None else features, targets,
            None, config)
    return outcome


def run_images(heights, targets, groups, config: dict, properties: pd.DataFrame | None = None,
               ) -> Outcome:
    """Compare transfer-learning strategies on AFM height maps (N, H, W) in nm.

    ``properties``: per-image physical features (e.g. morphology) correlated with the latent
    map of the frozen backbone features.
    """
    from tmdlearn.afm.embed import embed, prepare_images
    from tmdlearn.models.backbones import build_backbone

    image = config["image"]
    unknown = set(config["strategies"]) - set(STRATEGIES)
    if unknown:
        raise InputError(f"unknown strategies {sorted(unknown)}: choose from "
                         f"{', '.join(STRATEGIES)}")
    X = prepare_images(heights, size=image["size"], clip_nm=image["clip_nm"])
    backbone = build_backbone(image["backbone"], image["weights"], config["device"],
                              seed=config["cv"]["seed"])
    frozen = embed(heights, backbone, device=config["device"], size=image["size"],
                   clip_nm=image["clip_nm"])
    seed, device = config["cv"]["seed"], config["device"]
    trained = {k: image[k] for k in ("unfreeze", "epochs", "batch_size", "lr", "backbone_lr",
                                     "oversample", "class_weight", "augment", "val_fraction",
                                     "patience", "stages")}
    models, inputs = {}, {}
    for strategy in config["strategies"]:
        if strategy == "frozen":
            head = image["frozen_head"]
            models[f"frozen + {head}"] = lambda h=head: make_head(
                h, tune=config["tune"], seed=seed, device=device,
                **(config["mlp"] if h == "mlp" else {}))
            inputs[f"frozen + {head}"] = frozen
        else:
            models[strategy] = lambda s=strategy: ImageClassifier(
                s, backbone=image["backbone"], weights=image["weights"], seed=seed,
                device=device, **trained)
            inputs[strategy] = X
    outcome = Outcome()
    for name, factory in models.items():
        part = compare({name: factory}, inputs[name], targets, groups, config)
        outcome.metrics.update({k: v for k, v in part.metrics.items() if k != "best"})
        outcome.tables.update({k: v for k, v in part.tables.items() if k != "comparison"})
        outcome.figures.update({k: v for k, v in part.figures.items() if k != "comparison"})
        outcome.tables["comparison"] = pd.concat(
            [outcome.tables.get("comparison"), part.tables["comparison"]], ignore_index=True)
    table = outcome.tables["comparison"]
    outcome.figures["comparison"] = figures.comparison_figure(table)
    best = table.sort_values(["balanced_accuracy", "accuracy"], ascending=False).iloc[0]
    outcome.metrics["best"] = {"model": best["model"], "accuracy": best["accuracy"],
                               "balanced_accuracy": best["balanced_accuracy"]}
    _latent(outcome, frozen, targets, properties, config)
    return outcome


def _latent(outcome: Outcome, features, targets, properties, config: dict) -> None:
    method = config["latent"]["method"]
    latent = latent_map(features, method=method, seed=config["cv"]["seed"])
    prefix = "PC" if method == "pca" else "UMAP"
    outcome.figures[f"latent_{method}"] = figures.latent_figure(latent, targets, prefix)
    table = pd.DataFrame({f"{prefix}1": latent[:, 0], f"{prefix}2": latent[:, 1],
                          "target": np.asarray(targets)})
    outcome.tables[f"latent_{method}"] = table
    if properties is not None and len(properties.columns):
        corr = correlate(latent, properties, prefix=prefix)
        outcome.tables["latent_correlation"] = corr
        outcome.figures["latent_correlation"] = figures.correlation_figure(corr)
        outcome.metrics["latent_correlation"] = corr.to_dict(orient="records")


def with_defaults(config: dict | None) -> dict:
    """``DEFAULTS`` updated (recursively) by ``config``."""
    merged = copy.deepcopy(DEFAULTS)
    for key, value in (config or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged
