"""Saving and loading trained STEM segmentation models, and the shipped ones.

A saved model is a model folder (:mod:`tmdlearn.models.store`: safetensors weights, JSON
parameters, a ``model.json`` card) holding the U-Net's constructor arguments, its weights and
what inference needs to know: material, species, layers, training pixel size (Å) and label
radius (Å). The shipped graphene model lives in ``tmdlearn/stem/weights/graphene/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import torch

from tmdlearn.errors import InputError
from tmdlearn.learn.train import resolve_device
from tmdlearn.models.card import make_card
from tmdlearn.models.store import read_model, write_model
from tmdlearn.models.unet import UNet


def save_model(path: str | Path, model: UNet, meta: dict[str, Any]) -> Path:
    """Write the model's arguments, weights (CPU) and ``meta`` as a model folder with its
    card (:func:`stem_card`), atomically.

    Parameters
    ----------
    path : str or Path
        The model folder.
    model : UNet
        The network.
    meta : dict
        Training config and record (pixel size in Å/px, species, ...).

    Returns
    -------
    Path
        The folder written.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return write_model(path, {"unet": model.config, "state_dict": state, "meta": meta},
                       stem_card(meta))


def stem_card(meta: dict[str, Any]) -> dict[str, Any]:
    """The model card of a STEM model from its ``meta`` (training config and record).

    Parameters
    ----------
    meta : dict
        The model's metadata.

    Returns
    -------
    dict
        The model card.
    """
    config = meta.get("config") or {}
    record = meta.get("training") or {}
    train = config.get("train") or {}
    step = meta.get("step")
    images = step * int(train["batch_size"]) if step and train.get("batch_size") else None
    abtem = config.get("abtem") or {}
    data = "simulated on the fly (tmdlearn.synth.stem)"
    if abtem.get("folder"):
        apart = abtem.get("validation_every")
        data += (f", and abTEM images of {abtem['folder']}"
                 + (f" (those of index {apart - 1} mod {apart} left out)" if apart else "")
                 + f" recorded through the microscope chain on one step in {abtem.get('every')}")
    return make_card(
        "stem", "per-layer atom segmentation (Gomb-Net U-Net)", material=meta.get("material"),
        inputs={"modality": "haadf-stem", "unit": "counts",
                "pixel_size_angstrom": meta.get("pixel_size_angstrom"),
                "image_size_px": (config.get("data") or {}).get("size_px"),
                "species": meta.get("species"), "layers": meta.get("layers"),
                "normalisation": meta.get("normalisation")},
        training={"data": f"{data}; no manifest",
                  "manifest_sha256": None, "n_samples": images, "steps": step,
                  "record": record or None},
        metrics=meta.get("val") or {}, seed=config.get("seed"))


def shipped_model_path(material: str = "graphene") -> Path:
    """Folder of the model shipped inside the package for ``material``.

    Parameters
    ----------
    material : str
        The material, e.g. ``graphene`` or ``WS2``.

    Returns
    -------
    Path
        The model folder.
    """
    return Path(str(resources.files("tmdlearn.stem") / "weights" / material))


def fast_model(model: UNet) -> UNet:
    """Eval-mode copy for inference: batch norm folded into the convolutions, channels-last.

    Parameters
    ----------
    model : UNet
        The network.

    Returns
    -------
    UNet
        The folded copy.
    """
    return model.fold_batchnorm().to(memory_format=torch.channels_last)


def load_model(path: str | Path | None = None, material: str | None = None,
               device: str = "auto", fast: bool = True, trust_mismatch: bool = False
               ) -> tuple[UNet, dict[str, Any]]:
    """The model at ``path`` in eval mode, after its card is checked
    (:func:`tmdlearn.models.store.read_model`).

    Parameters
    ----------
    path : str or Path, optional
        The model folder; default: the shipped one for ``material``.
    material : str, optional
        The material (graphene if None and no ``path``); a model for another material than
        the one given is refused.
    device : str
        Torch device, "auto" picks CUDA when available.
    fast : bool
        Return :func:`fast_model` of it (same outputs to rounding, about twice as fast on a
        CPU); False: the plain module, e.g. to train it further.
    trust_mismatch : bool
        Turn a file whose sha256 differs from the card into a warning, not an error.

    Returns
    -------
    model : UNet
        The network.
    meta : dict
        Its metadata (pixel size in Å/px, species, normalisation, ...).
    """
    if path is None:
        path = shipped_model_path(material or "graphene")
    tree, _, folder = read_model(path, {"workflow": "stem", "material": material},
                                 trust_mismatch)
    try:
        model = UNet(**tree["unet"])
        model.load_state_dict(tree["state_dict"])
        meta = dict(tree["meta"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"not a tmdlearn STEM model ({err.__class__.__name__})",
                         folder) from None
    model = model.to(resolve_device(device)).eval()
    model = fast_model(model) if fast else model
    model.normalisation = meta.get("normalisation")  # its input (prepare_image)
    return model, meta
