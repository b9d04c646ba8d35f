"""The classification workflow: compare heads or strategies under grouped CV, then tables,
figures and a latent analysis. ``DEFAULTS``, ``load(cfg)`` (the arrays the config names) and
``run(inputs, cfg)`` -> :class:`~tmdlearn.outcome.Outcome` (metrics, tables, figures), written
to a run folder by :func:`tmdlearn.report.run.write_outcome`."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from tmdlearn.afm.level import LEVEL_METHODS
from tmdlearn.classify import figures
from tmdlearn.classify.evaluate import (
    CVResult,
    cross_validate_many,
    per_sample,
    select_per_fold,
    soft_vote,
    summarise,
)
from tmdlearn.classify.heads import BASE_HEADS, HEADS, TRANSFORMS, make_head
from tmdlearn.classify.inputs import load
from tmdlearn.classify.latent import correlate, latent_map, physical_properties
from tmdlearn.classify.saved import final_head, save_classifier
from tmdlearn.classify.strategies import STRATEGIES, TRAINED_STRATEGIES, ImageClassifier
from tmdlearn.config import Checked, check_among, check_least, check_one_among
from tmdlearn.engine import workflow_engine
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError
from tmdlearn.learn import confusion_table, per_class_scores
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track


def _check(config: dict) -> None:
    """The names of the heads, transforms, strategies and soft-vote models (lists of names;
    soft votes among the models a run compares)."""
    models = (*HEADS, *TRAINED_STRATEGIES, *(f"frozen + {head}" for head in HEADS))
    check_among(config, "", heads=HEADS, transforms=TRANSFORMS, strategies=STRATEGIES,
                soft_vote=models)
    check_one_among(config, "", transform=TRANSFORMS)


def _check_image(image: dict) -> None:
    """``image``: known levelling and frozen head, counts and rates in range."""
    check_one_among(image, "image.", level=LEVEL_METHODS, frozen_head=HEADS)
    check_least(image, "image.", size=8, clip_nm=1e-9, unfreeze=0, epochs=1, batch_size=1,
                lr=1e-12, backbone_lr=0, val_fraction=0, patience=1)


DEFAULTS: dict = Checked({
    "data": {"manifest": None, "target": "material", "images": None, "features": None,
             "latent_features": None},
    "cv": Checked({"n_splits": 5, "seed": 0, "n_boot": 1000, "pool_samples": True},
                  check=lambda cv: check_least(cv, "cv.", n_splits=2, n_boot=1)),
    "heads": list(HEADS),
    "tune": True,
    "transform": "power-l2",
    "transforms": list(TRANSFORMS),
    "soft_vote": ["logreg", "svm", "mlp"],
    "mlp": Checked({"epochs": 150}, check=lambda mlp: check_least(mlp, "mlp.", epochs=1)),
    "strategies": list(STRATEGIES),
    "image": Checked({"level": "two-pass", "backbone": "efficientnet-lite0",
                      "weights": "default", "size": 224, "clip_nm": 1.5, "frozen_head": "logreg",
                      "unfreeze": 1, "epochs": 10, "batch_size": 16, "lr": 1e-3,
                      "backbone_lr": 1e-4, "oversample": True, "class_weight": None,
                      "augment": True, "val_fraction": 0.2, "patience": 3, "stages": None},
                     check=_check_image),
    "latent": Checked({"method": "pca", "physical": True},
                      check=lambda latent: check_one_among(latent, "latent.",
                                                           method=("pca", "umap"))),
    "device": "auto",
    # where the folds run, every (model, fold) a task (docs/scale.md)
    "run": run_section(),
}, check=_check)
#: Meaning of config keys, shared by the command-line help and the docs' config table.
HELP = dict(RUN_HELP)
#: ``run.scheduler: auto`` starts a local cluster of processes from this many items on.
LARGE_ITEMS = 2000
__all__ = ["DEFAULTS", "Outcome", "load", "run", "run_features", "run_images"]


def run(inputs: dict, config: dict, progress: bool | None = None) -> Outcome:
    """The workflow on the arrays of :func:`load`: strategies on height maps
    (:func:`run_images`) or heads on features (:func:`run_features`).

    Parameters
    ----------
    inputs : dict
        The arrays of :func:`load`, keyword arguments of :func:`run_images` or
        :func:`run_features`.
    config : dict
        Workflow configuration (:data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off, or None (on a terminal).

    Returns
    -------
    Outcome
        Metrics, tables, figures (and the saved classifier of the frozen strategy).
    """
    with showing(progress):
        if "features" in inputs:
            return run_features(**inputs, config=config)
        return run_images(**inputs, config=config)


def tabulate(results: dict[str, CVResult], config: dict) -> Outcome:
    """Summaries, tables and figures of out-of-fold ``results`` by model name.

    With ``cv.pool_samples``, models with class probabilities get two more rows: the sample
    decision (mean probabilities over the test images of a sample) scored per image (tables
    only) and per sample. ``best`` is the best image-level row (balanced accuracy, then accuracy).

    Parameters
    ----------
    results : dict of str to CVResult
        Out-of-fold results by model name.
    config : dict
        Workflow configuration: ``cv`` (pool_samples, n_boot, seed).

    Returns
    -------
    Outcome
        Metrics (a summary per model and ``best``), the comparison table and figure, and
        per-class and confusion tables and figures per model.
    """
    cv = config["cv"]
    outcome = Outcome()
    rows = []
    for name, result in results.items():
        variants = [(name, result)]
        if cv["pool_samples"] and result.proba is not None:
            variants += [(f"{name} (sample-pooled, per image)", result.pooled()),
                         (f"{name} (sample-pooled, per sample)", per_sample(result))]
        for label, res in variants:
            summary = summarise(res, n_boot=cv["n_boot"], seed=cv["seed"])
            outcome.metrics[label] = summary
            rows.append({**_row(label, summary), "level": _level(label)})
            _add_details(outcome, label, res, summary, figure=_level(label) != "image, "
                         "sample-pooled")
    table = pd.DataFrame(rows)
    outcome.tables["comparison"] = table
    outcome.figures["comparison"] = figures.comparison_figure(table)
    outcome.metrics["best"] = _best(table)
    return outcome


def _level(label: str) -> str:
    return "sample" if label.endswith("per sample)") else (
        "image, sample-pooled" if label.endswith("per image)") else "image")


def _best(table: pd.DataFrame) -> dict:
    images = table[table["level"] == "image"]
    best = images.sort_values(["balanced_accuracy", "accuracy"], ascending=False).iloc[0]
    return {"model": best["model"], "accuracy": best["accuracy"],
            "balanced_accuracy": best["balanced_accuracy"]}


def _row(name: str, summary: dict) -> dict:
    row = {"model": name}
    for metric in ("accuracy", "balanced_accuracy"):
        s = summary[metric]
        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
            s["pooled"], s["ci_low"], s["ci_high"])
        row[f"{metric}_fold_mean"], row[f"{metric}_fold_std"] = s["fold_mean"], s["fold_std"]
    row["macro_f1"] = float(np.mean([c["f1"] for c in summary["per_class"]]))
    return row


def _add_details(outcome: Outcome, label: str, result: CVResult, summary: dict,
                 figure: bool = True) -> None:
    stem = _slug(label)
    labels = summary["classes"]
    outcome.tables[f"per_class_{stem}"] = per_class_scores(result.y_true, result.y_pred, labels)
    outcome.tables[f"confusion_counts_{stem}"] = confusion_table(
        np.round(summary["confusion_mean_counts"], 2), labels)
    outcome.tables[f"confusion_normalised_{stem}"] = confusion_table(
        np.round(summary["confusion_row_normalised"], 4), labels)
    if not figure:
        return
    outcome.figures[f"confusion_{stem}"] = figures.confusion_figure(
        np.array(summary["confusion_mean_counts"]),
        np.array(summary["confusion_row_normalised"]), labels, title=label)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def head_models(config: dict) -> dict:
    """Factories of the single feature heads named in ``config["heads"]`` ("selected" is
    handled by :func:`run_features`).

    Parameters
    ----------
    config : dict
        Workflow configuration: ``heads``, ``tune``, ``transform``, ``transforms``, ``mlp``,
        ``cv.seed`` and ``device``.

    Returns
    -------
    dict of str to callable
        Head name to a factory returning a new unfitted head.
    """
    unknown = set(config["heads"]) - set(HEADS)
    if unknown:
        raise InputError(f"unknown heads {sorted(unknown)}: choose from {', '.join(HEADS)}")
    return {name: _head_factory(name, config) for name in config["heads"] if name != "selected"}


def _head_factory(name: str, config: dict) -> Callable[[], object]:
    """Factory of the feature head ``name`` with the config's transforms, tuning, MLP settings,
    seed and device (a partial: picklable for the engine's workers)."""
    params = dict(config["mlp"]) if name in ("mlp", "mlp-bag") else {}
    return partial(make_head, name, tune=config["tune"], transform=config["transform"],
                   transforms=config["transforms"], seed=config["cv"]["seed"],
                   device=config["device"], **params)


def _cross_validate_all(models: dict, inputs: dict, targets, groups,
                        config: dict) -> dict[str, CVResult]:
    """Out-of-fold results of every ``models[name]()`` factory on ``inputs[name]``, every
    (model, fold) a task of the engine of ``config["run"]``."""
    cv = config["cv"]
    with workflow_engine(config.get("run") or {}, len(targets), LARGE_ITEMS,
                         parallel_threads=False) as engine:
        return cross_validate_many({name: (factory, inputs[name])
                                    for name, factory in models.items()}, targets, groups,
                                   cv["n_splits"], cv["seed"], engine=engine)


def run_features(features, targets, groups, config: dict, latent_features=None) -> Outcome:
    """Compare heads on precomputed features (N, D) under (nested) grouped CV; latent map of
    ``latent_features`` (or of ``features``).

    "selected" is the per-fold inner-CV pick among the other tuned heads
    (:func:`~tmdlearn.classify.evaluate.select_per_fold`; without tuning, its own search over
    the other heads, or over every head when it is alone). ``soft_vote`` lists heads whose
    probabilities are averaged into one more model.

    Parameters
    ----------
    features : (N, D) array
        Precomputed features.
    targets : (N,) array
        Class labels.
    groups : (N,) array
        Sample ids; folds are grouped by them.
    config : dict
        Workflow configuration (:data:`DEFAULTS`).
    latent_features : (N, D') array, optional
        Features for the latent map instead of ``features``.

    Returns
    -------
    Outcome
        Metrics, tables and figures of :func:`tabulate` and the latent map.
    """
    X, cv = np.asarray(features, float), config["cv"]
    models = head_models(config)
    results = _cross_validate_all(models, dict.fromkeys(models, X), targets, groups, config)
    if "selected" in config["heads"]:
        if config["tune"] and results:
            results["selected"] = select_per_fold(dict(results))
        else:
            selected = partial(make_head, "selected", among=list(results) or BASE_HEADS,
                               transforms=config["transforms"], seed=cv["seed"],
                               device=config["device"], **config["mlp"])
            results.update(_cross_validate_all({"selected": selected}, {"selected": X},
                                               targets, groups, config))
    voters = [name for name in config["soft_vote"] if name in results]
    if len(voters) >= 2:
        results[f"soft vote ({'+'.join(voters)})"] = soft_vote([results[n] for n in voters])
    outcome = tabulate(results, config)
    _latent(outcome, latent_features if latent_features is not None else features, targets,
            None, config)
    return outcome


def run_images(heights, targets, groups, config: dict, pixel_size_nm=None,
               properties: pd.DataFrame | None = None) -> Outcome:
    """Compare transfer-learning strategies on AFM height maps (N, H, W) in nm.

    Maps are levelled first (``image.level``: a :func:`tmdlearn.afm.level.level` method, or
    None to take them as given). The latent map of the frozen backbone features is correlated
    with the physical properties of the levelled maps
    (:func:`~tmdlearn.classify.latent.physical_properties`, with ``latent.physical``; lengths
    in µm where ``pixel_size_nm``, one number or one per map, is known) and with the columns of
    ``properties`` (other per-image numbers, e.g. from a manifest).

    Parameters
    ----------
    heights : (N, H, W) array or sequence of 2-D arrays
        AFM height maps, nm.
    targets : (N,) array
        Class labels.
    groups : (N,) array
        Sample ids; folds are grouped by them.
    config : dict
        Workflow configuration (:data:`DEFAULTS`): ``strategies``, ``image``, ``cv``,
        ``latent``...
    pixel_size_nm : float or (N,) array, optional
        Pixel size, nm.
    properties : DataFrame, optional
        N rows of other per-image numbers.

    Returns
    -------
    Outcome
        Metrics, tables and figures of :func:`tabulate` and the latent analysis; with the
        "frozen" strategy, the head refitted on every image (``models`` and ``files``).
    """
    from tmdlearn.afm.embed import embed, prepare_images
    from tmdlearn.afm.level import level
    from tmdlearn.models.backbones import build_backbone

    image = config["image"]
    unknown = set(config["strategies"]) - set(STRATEGIES)
    if unknown:
        raise InputError(f"unknown strategies {sorted(unknown)}: choose from "
                         f"{', '.join(STRATEGIES)}")
    if image["level"]:
        heights = [level(np.asarray(h, dtype=float), method=image["level"])
                   for h in track(list(heights), "levelling")]
    physical = (physical_properties(heights, pixel_size_nm) if config["latent"]["physical"]
                else pd.DataFrame(index=range(len(heights))))
    if properties is not None:
        given = properties.reset_index(drop=True)
        given.columns = [f"{c} (given)" if c in physical.columns else c for c in given.columns]
        physical = pd.concat([physical, given], axis=1)
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
            models[f"frozen + {head}"] = _head_factory(head, config)
            inputs[f"frozen + {head}"] = frozen
        else:
            models[strategy] = partial(ImageClassifier, strategy, backbone=image["backbone"],
                                       weights=image["weights"], seed=seed, device=device,
                                       **trained)
            inputs[strategy] = X
    results = _cross_validate_all(models, inputs, targets, groups, config)
    outcome = tabulate(results, config)
    _latent(outcome, frozen, targets, physical, config)
    if "frozen" in config["strategies"]:
        head = final_head(frozen, targets, groups, config)
        outcome.metrics["saved_model"] = (
            "models/classifier" if head is not None else
            f"not saved: the {image['frozen_head']} head holds torch networks")
        if head is not None:
            outcome.models["classifier"] = head
            outcome.files["models/classifier"] = partial(
                save_classifier, head=head, config=config, n_samples=int(np.unique(groups).size),
                pixel_size_nm=pixel_size_nm, shapes=[np.shape(h) for h in heights],
                summary=outcome.metrics[f"frozen + {image['frozen_head']}"])
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
        corr = correlate(latent, properties, prefix=prefix, seed=config["cv"]["seed"])
        outcome.tables["latent_correlation"] = corr
        outcome.figures["latent_correlation"] = figures.correlation_figure(corr)
        outcome.metrics["latent_correlation"] = corr.to_dict(orient="records")
    else:
        outcome.metrics["latent_correlation"] = (
            "not computed: no per-image physical properties (they are measured on the AFM "
            "images, and a features file carries none)")

