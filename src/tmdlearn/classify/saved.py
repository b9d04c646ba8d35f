"""The classifier a ``classify run`` on AFM images keeps, saved and applied to new images.

The saved model is the frozen strategy refitted on every image: a reference to the backbone
(name, weights, seed, input size and height window: the backbone itself is rebuilt, never
stored), the fitted head (feature transform + classifier, through skops with trusted types)
and a ``model.json`` card (:mod:`tmdlearn.models.store`). Heads holding torch networks (mlp,
mlp-bag) are not saved.

Every image is resized to the backbone's ``image_size_px`` whatever its pixel count, so the
scale the backbone sees is the image's side in nm over ``image_size_px``: the *input pixel*
(nm per backbone pixel). The card records its training range (``inputs.input_pixel_nm``) and
:func:`predict_files` refuses an image whose input pixel lies more than
:data:`SCALE_TOLERANCE` times outside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from tmdlearn.classify.heads import make_head
from tmdlearn.classify.mlp_head import MLPClassifier
from tmdlearn.classify.tuning import BaggedRefit, fit_head
from tmdlearn.errors import InputError
from tmdlearn.io.digest import sha256
from tmdlearn.models.card import make_card
from tmdlearn.models.store import model_folder, read_model, write_model
from tmdlearn.outcome import Outcome

#: Factor by which a new image's input pixel (nm per backbone pixel) may lie outside the
#: training range: one octave, within the scale augmentation of the backbones' ImageNet
#: pretraining (random resized crops, linear scale up to about 3.5x). Beyond it, steps,
#: grains and islands appear at sizes the head never saw.
SCALE_TOLERANCE = 2.0


def final_head(features, targets, groups, config: dict):
    """The frozen strategy's head (``image.frozen_head``) fitted on all ``features``: the
    pipeline its inner CV picked (with ``tune``), or None for heads holding torch networks.

    Parameters
    ----------
    features : (N, D) array
        Frozen backbone features of every image.
    targets : (N,) array
        Class labels.
    groups : (N,) array
        Sample ids (for the inner grouped CV).
    config : dict
        Workflow configuration: ``image.frozen_head``, ``tune``, ``transform``, ``transforms``,
        ``cv.seed``, ``device`` and ``mlp``.

    Returns
    -------
    Pipeline or None
        The fitted head (transform + classifier), probabilities calibrated.
    """
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


def input_pixel_nm(pixel_size_nm, shape, size: int) -> float:
    """nm per backbone input pixel of an image of ``shape`` (px) and ``pixel_size_nm`` resized
    to ``size`` x ``size`` px (its longer side decides).

    Parameters
    ----------
    pixel_size_nm : float
        Pixel size of the image, nm.
    shape : tuple of int
        Shape of the image (..., H, W), px.
    size : int
        Side of the backbone input, px.

    Returns
    -------
    float
        nm per backbone input pixel.
    """
    return float(pixel_size_nm) * max(shape[-2:]) / int(size)


def save_classifier(folder: str | Path, head, config: dict, summary: dict | None = None,
                    n_samples: int | None = None, pixel_size_nm=None, shapes=None) -> Path:
    """Write ``head`` with the run's backbone reference and its card to ``folder``.

    Parameters
    ----------
    folder : str or Path
        Model folder to write.
    head : Pipeline
        The fitted head (:func:`final_head`).
    config : dict
        Workflow configuration (``image``, ``cv.seed``, ``data``).
    summary : dict, optional
        Cross-validation summary; its accuracy and balanced accuracy go on the card.
    n_samples : int, optional
        Number of training samples, for the card.
    pixel_size_nm : float or (N,) array, optional
        Pixel size of the training images, nm (one number or one per image).
    shapes : sequence of tuple, optional
        Shape of each training image, px; with ``pixel_size_nm`` it gives the card's
        input-pixel range (nm).

    Returns
    -------
    Path
        The model folder.
    """
    image = config["image"]
    backbone = {"name": image["backbone"], "weights": image["weights"],
                "seed": config["cv"]["seed"], "size": image["size"],
                "clip_nm": image["clip_nm"], "level": image["level"]}
    manifest = config["data"].get("manifest")
    sizes = None if pixel_size_nm is None else np.asarray(pixel_size_nm, float)
    scales = None if sizes is None or shapes is None else [
        input_pixel_nm(p, shape, image["size"])
        for p, shape in zip(np.broadcast_to(sizes, (len(shapes),)), shapes, strict=True)]
    inputs = {"modality": "afm", "unit": "nm", "image_size_px": image["size"],
              "height_window_nm": [-image["clip_nm"], image["clip_nm"]],
              "level": image["level"], "backbone": image["backbone"],
              "backbone_weights": image["weights"],
              "pixel_size_nm": None if sizes is None else [float(sizes.min()),
                                                           float(sizes.max())],
              "input_pixel_nm": None if scales is None else [min(scales), max(scales)]}
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
    """The tree (backbone reference, head, classes) and card of a saved classifier.

    Parameters
    ----------
    path : str or Path
        Model folder.
    trust_mismatch : bool
        Load even when the folder's checksums do not match its card.

    Returns
    -------
    tree : dict
        backbone (reference), head (fitted pipeline) and classes.
    card : dict
        The model card.
    """
    tree, card, folder = read_model(path, {"workflow": "classify"}, trust_mismatch)
    if not {"backbone", "head", "classes"} <= set(tree) or not hasattr(tree["head"],
                                                                        "predict_proba"):
        raise InputError("not a tmdlearn classifier (backbone, head, classes)", folder)
    return tree, card


def predict_heights(heights, model: dict, device: str = "auto") -> pd.DataFrame:
    """Class probabilities (one row per height map in nm, one column per class) and the
    predicted class (``prediction``) of a :func:`load_classifier` model.

    Parameters
    ----------
    heights : sequence of 2-D arrays
        Height maps, nm.
    model : dict
        The tree of :func:`load_classifier`.
    device : str
        Torch device of the backbone, "auto" picks CUDA when available.

    Returns
    -------
    DataFrame
        Columns prediction and p_<class> for each class.
    """
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


def check_scale(item, card: dict, path) -> None:
    """InputError naming ``path`` when the height map ``item``'s input pixel (nm per backbone
    pixel) lies more than :data:`SCALE_TOLERANCE` times outside the card's training range
    (cards without one, from images of unknown pixel size, check nothing).

    Parameters
    ----------
    item : HeightMap
        The image, with its pixel size (nm).
    card : dict
        The classifier's card.
    path : str or Path
        File named in the error.
    """
    inputs = card.get("inputs") or {}
    low, high = inputs.get("input_pixel_nm") or (None, None)
    if low is None:
        return
    size = int(inputs["image_size_px"])
    scale = input_pixel_nm(item.pixel_size_nm, item.height_nm.shape, size)
    if low / SCALE_TOLERANCE <= scale <= high * SCALE_TOLERANCE:
        return
    trained = inputs.get("pixel_size_nm") or [None, None]
    raise InputError(
        f"pixel size {item.pixel_size_nm:g} nm x {max(item.height_nm.shape)} px = "
        f"{scale:.3g} nm per {size}-px backbone pixel, outside the classifier's training "
        f"range {low:.3g}-{high:.3g} nm (pixel sizes {trained[0]:g}-{trained[1]:g} nm) by more "
        f"than {SCALE_TOLERANCE:g}x: resample or crop the image to the training scale", path)


def predict_files(paths, model: dict, device: str = "auto",
                  pixel_size_nm: float | None = None, card: dict | None = None) -> pd.DataFrame:
    """:func:`predict_heights` on AFM height-map files (any format tmdlearn reads;
    ``pixel_size_nm`` for arrays that store none), their paths in the first column ``file``;
    with the model's ``card``, each file's scale is checked first (:func:`check_scale`).

    Parameters
    ----------
    paths : sequence of str or Path
        Height-map files.
    model : dict
        The tree of :func:`load_classifier`.
    device : str
        Torch device of the backbone.
    pixel_size_nm : float, optional
        Pixel size (nm) of files that store none.
    card : dict, optional
        The classifier's card, to check each image's scale.

    Returns
    -------
    DataFrame
        Columns file, prediction and p_<class> for each class.
    """
    from tmdlearn.data import HeightMap
    from tmdlearn.io import read

    heights = []
    for path in paths:
        item = read(path, **({"pixel_size_nm": pixel_size_nm} if pixel_size_nm else {}))
        if not isinstance(item, HeightMap):
            raise InputError(f"not an AFM height map ({type(item).__name__})", path)
        if card is not None:
            check_scale(item, card, path)
        heights.append(item.height_nm)
    table = predict_heights(heights, model, device)
    table.insert(0, "file", [str(p) for p in paths])
    return table


def predict(paths, model: str | Path, device: str = "auto", pixel_size_nm: float | None = None,
            trust_mismatch: bool = False) -> Outcome:
    """``classify predict``: the saved classifier at ``model`` applied to the height-map files
    ``paths`` (:func:`predict_files`, scales checked): table ``predictions``, the model as the
    loaded one.

    Parameters
    ----------
    paths : sequence of str or Path
        Height-map files.
    model : str or Path
        Folder of the saved classifier.
    device : str
        Torch device of the backbone.
    pixel_size_nm : float, optional
        Pixel size (nm) of files that store none.
    trust_mismatch : bool
        Load even when the folder's checksums do not match its card.

    Returns
    -------
    Outcome
        Metrics (images, classes), table predictions and the loaded model folder.
    """
    tree, card = load_classifier(model, trust_mismatch)
    table = predict_files(paths, tree, device, pixel_size_nm, card)
    return Outcome(metrics={"images": len(table), "classes": tree["classes"]},
                   tables={"predictions": table}, folders=("", ""),
                   loaded_models=[model_folder(model)])
