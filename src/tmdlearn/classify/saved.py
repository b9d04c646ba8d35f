"""The classifier a ``classify run`` on AFM images keeps, saved and applied to new images.

The saved model is the frozen strategy refitted on every image: a reference to the backbone
(name, weights, seed, input size and height window: the backbone itself is rebuilt, never
stored), the fitted head (feature transform + classifier, through skops with trusted types)
and a ``model.json`` card (:mod:`tmdlearn.models.store`). Heads holding torch networks (mlp,
mlp-bag) are not saved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from tmdlearn.classify.heads import BaggedRefit, MLPClassifier, fit_head, make_head
from tmdlearn.errors import InputError
from tmdlearn.models.card import make_card, sha256
from tmdlearn.models.store import read_model, write_model


def final_head(features, targets, groups, config: dict):
    """The frozen strategy's head (``image.frozen_head``) fitted on all ``features``: the
    pipeline its inner CV picked (with ``tune``), or None for heads holding torch networks."""
    cfg = config["image"]
    params = dict(config["mlp"]) if cfg["frozen_head"] in ("mlp", "mlp-bag") else {}
    head = make_head(cfg["frozen_head"], tune=config["tune"], transform=config["transform"],
                     transforms=config["transforms"], seed=config["cv"]["seed"],
                     device=config["device"], **params)
    head = fit_head(head, np.asarray(features, float), np.asarray(targets), groups)
    if isinstance(head, GridSearchCV | BaggedRefit):
        head = head.best_estimator_
    if not isinstance(head, Pipeline) or isinstance(head[-1], MLPClassifier):
        return None
    if hasattr(head, "predict_proba"):
        head.predict_proba(np.asarray(features[:1], float))  # calibrate now (SVM: lazily)
    return head


def save_classifier(folder: str | Path, head, config: dict, summary: dict | None = None,
                    n_samples: int | None = None, pixel_size_nm=None) -> Path:
    """Write ``head`` with the run's backbone reference and its card to ``folder``."""
    image = config["image"]
    backbone = {"name": image["backbone"], "weights": image["weights"],
                "seed": config["cv"]["seed"], "size": image["size"],
                "clip_nm": image["clip_nm"], "level": image["level"]}
    manifest = config["data"].get("manifest")
    sizes = None if pixel_size_nm is None else np.asarray(pixel_size_nm, float)
    inputs = {"modality": "afm", "unit": "nm", "image_size_px": image["size"],
              "height_window_nm": [-image["clip_nm"], image["clip_nm"]],
              "level": image["level"], "backbone": image["backbone"],
              "backbone_weights": image["weights"],
              "pixel_size_nm": None if sizes is None else [float(sizes.min()),
                                                           float(sizes.max())]}
    metrics = {k: {m: v[m] for m in ("pooled", "ci_low", "ci_high")}
               for k, v in (summary or {}).items() if k in ("accuracy", "balanced_accuracy")}
    card = make_card(
        "classify", f"{config['data'].get('target', 'material')} from AFM (frozen "
        f"{image['backbone']} features + {image['frozen_head']} head)",
        inputs=inputs, metrics=metrics, seed=config["cv"]["seed"], classes=list(head.classes_),
        training={"data": manifest or config["data"].get("images"),
                  "manifest_sha256": sha256(manifest) if manifest and Path(
                      manifest).is_file() else None, "n_samples": n_samples})
    tree = {"backbone": backbone, "head": head, "classes": [str(c) for c in head.classes_]}
    return write_model(folder, tree, card)


def load_classifier(path: str | Path, trust_mismatch: bool = False) -> tuple[dict, dict]:
    """The tree (backbone reference, head, classes) and card of a saved classifier."""
    tree, card, folder = read_model(path, {"workflow": "classify"}, trust_mismatch)
    if not {"backbone", "head", "classes"} <= set(tree) or not hasattr(tree["head"],
                                                                        "predict_proba"):
        raise InputError("not a tmdlearn classifier (backbone, head, classes)", folder)
    return tree, card


def predict_heights(heights, model: dict, device: str = "auto") -> pd.DataFrame:
    """Class probabilities (one row per height map in nm, one column per class) and the
    predicted class (``prediction``) of a :func:`load_classifier` model."""
    from tmdlearn.afm.embed import embed
    from tmdlearn.afm.level import level
    from tmdlearn.models.backbones import build_backbone

    ref = model["backbone"]
    if ref["level"]:
        heights = [level(np.asarray(h, dtype=float), method=ref["level"]) for h in heights]
    backbone = build_backbone(ref["name"], ref["weights"], device, seed=int(ref["seed"]))
    features = embed(heights, backbone, device=device, size=int(ref["size"]),
                     clip_nm=float(ref["clip_nm"]))
    proba = model["head"].predict_proba(np.asarray(features, float))
    table = pd.DataFrame(proba, columns=[f"p_{c}" for c in model["classes"]])
    table.insert(0, "prediction", np.asarray(model["classes"])[proba.argmax(axis=1)])
    return table


def predict_files(paths, model: dict, device: str = "auto",
                  pixel_size_nm: float | None = None) -> pd.DataFrame:
    """:func:`predict_heights` on AFM height-map files (any format tmdlearn reads;
    ``pixel_size_nm`` for arrays that store none), their paths in the first column ``file``."""
    from tmdlearn.data import HeightMap
    from tmdlearn.io import read

    heights = []
    for path in paths:
        item = read(path, **({"pixel_size_nm": pixel_size_nm} if pixel_size_nm else {}))
        if not isinstance(item, HeightMap):
            raise InputError(f"not an AFM height map ({type(item).__name__})", path)
        heights.append(item.height_nm)
    table = predict_heights(heights, model, device)
    table.insert(0, "file", [str(p) for p in paths])
    return table
