"""Saving, loading and running trained segmentation models on STEM images.

A saved model is one torch file holding the U-Net's constructor arguments, its weights and
what inference needs to know: material, species, layers, training pixel size (Å) and label
radius (Å). The shipped graphene model lives in ``tmdlearn/stem/weights/graphene.pt``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.models.unet import UNet


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def normalise(image: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance float32 copy of an image (counts, any dose)."""
    image = np.asarray(image, dtype=np.float32)
    return (image - image.mean()) / max(float(image.std()), 1e-6)


def save_model(path: str | Path, model: UNet, meta: dict[str, Any]) -> Path:
    """Write the model's arguments, weights (float32, CPU) and ``meta`` atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"unet": model.config, "state_dict": state, "meta": meta}, tmp)
    return Path(path)


def shipped_model_path(material: str = "graphene") -> Path:
    """Path of the model shipped inside the package for ``material``."""
    return Path(str(resources.files("tmdlearn.stem") / "weights" / f"{material}.pt"))


def load_model(path: str | Path | None = None, material: str = "graphene",
               device: str = "auto") -> tuple[UNet, dict[str, Any]]:
    """The model at ``path`` (default: the shipped one for ``material``) in eval mode."""
    path = Path(path) if path is not None else shipped_model_path(material)
    if not path.is_file():
        raise InputError("model file not found", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model = UNet(**payload["unet"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"not a tmdlearn STEM model ({err.__class__.__name__})", path) from None
    return model.to(resolve_device(device)).eval(), payload["meta"]


@torch.no_grad()
def predict_logits(model: UNet, image: np.ndarray, layers: int = 2,
                   batch: np.ndarray | None = None) -> np.ndarray:
    """Logits (layers, species, H, W) of one image (any size: reflect-padded to the model).

    ``batch`` (N, H, W) runs several images at once and returns (N, layers, species, H, W).
    """
    images = np.asarray(image)[None] if batch is None else np.asarray(batch)
    n, h, w = images.shape
    m = model.multiple
    ph, pw = (-h) % m, (-w) % m
    x = np.stack([normalise(im) for im in images])[:, None]
    x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
    device = next(model.parameters()).device
    out = model(torch.from_numpy(x).to(device))[:, :, :h, :w].float().cpu().numpy()
    out = out.reshape(n, layers, -1, h, w)
    return out[0] if batch is None else out
