"""Deep embeddings of AFM height maps: image preparation, backbone features and a feature cache.

The pipeline follows the MoS2 cross-modal study: heights clipped to a ±1.5 nm window, scaled to
[0, 1], grey copied to three channels, ImageNet normalisation, resized to 224 x 224, then the
pooled features of an ImageNet-pretrained CNN (EfficientNet-Lite0 by default).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.models.backbones import (
    DEFAULT_BACKBONE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    build_backbone,
)
from tmdlearn.progress import track

Images = np.ndarray | Sequence[np.ndarray] | Sequence[HeightMap]


def _as_list(images: Images) -> list[np.ndarray]:
    """Height arrays in nm, one 2-D float array per image."""
    if isinstance(images, np.ndarray):
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3:
            raise InputError(f"images must be (N, H, W), got shape {images.shape}")
        return [np.asarray(image, dtype=np.float32) for image in images]
    out = []
    for image in images:
        values = image.height_nm if isinstance(image, HeightMap) else np.asarray(image)
        if values.ndim != 2:
            raise InputError(f"each image must be 2-D (H, W), got shape {values.shape}")
        out.append(np.asarray(values, dtype=np.float32))
    return out


def prepare_images(heights: Images, size: int = 224, clip_nm: float = 1.5) -> torch.Tensor:
    """CNN input from height maps: (N, 3, size, size) ImageNet-normalised float32.

    Parameters
    ----------
    heights : (N, H, W) array in nm, or a list of 2-D arrays or :class:`HeightMap`
        Levelled height maps (images may differ in size).
    size : int
        Output side in pixels (224 for all backbones here); bilinear, antialiased resize.
    clip_nm : float
        Heights are clipped to [-clip_nm, clip_nm] nm and mapped linearly onto [0, 1]
        (±1.5 nm in the MoS2 study: a monolayer is ~0.65 nm, so steps up to a few layers stay
        resolved). NaN heights become the window centre.
    """
    if not clip_nm > 0:
        raise InputError(f"clip_nm must be positive, got {clip_nm}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    batch = []
    for values in _as_list(heights):
        clipped = np.clip(np.nan_to_num(values, nan=0.0), -clip_nm, clip_nm)
        grey = (clipped + clip_nm) / (2 * clip_nm)
        grey = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))[None, None]
        if grey.shape[-2:] != (size, size):
            grey = F.interpolate(grey, size=(size, size), mode="bilinear", antialias=True,
                                 align_corners=False).clamp_(0.0, 1.0)
        batch.append(grey)
    if not batch:
        return torch.empty((0, 3, size, size), dtype=torch.float32)
    grey = torch.cat(batch)
    return (grey.expand(-1, 3, -1, -1) - mean) / std


def image_key(values: np.ndarray, size: int, clip_nm: float) -> str:
    """Cache key of one image: SHA-256 of its height values (float32 bytes and shape) and the
    preparation parameters."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    digest = hashlib.sha256(f"{values.shape}|{size}|{clip_nm:g}|".encode())
    digest.update(values.tobytes())
    return digest.hexdigest()[:32]


def _cache_folder(cache_dir: Path, net: Backbone) -> Path:
    return Path(cache_dir) / re.sub(r"[^A-Za-z0-9_.-]", "_", net.weights_id)


@torch.inference_mode()
def _features(net: Backbone, images: list[np.ndarray], batch_size: int, size: int,
              clip_nm: float) -> np.ndarray:
    device = next(net.parameters()).device
    net = net.to(memory_format=torch.channels_last)
    starts = range(0, len(images), batch_size)
    out = []
    for start in track(starts, f"embedding ({net.name})", total=len(starts)):
        x = prepare_images(images[start:start + batch_size], size=size, clip_nm=clip_nm)
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        out.append(net(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, net.feature_dim), dtype=np.float32)


def embed(images: Images, backbone: str | Backbone = DEFAULT_BACKBONE, batch_size: int = 32,
          device: str = "auto", cache_dir: str | Path | None = None, weights="default",
          size: int = 224, clip_nm: float = 1.5) -> np.ndarray:
    """Pooled backbone features of height maps, (N, feature_dim) float32.

    Parameters
    ----------
    images : (N, H, W) array in nm, or a list of 2-D arrays or :class:`HeightMap`
        Levelled height maps.
    backbone : str or Backbone
        A name from :data:`tmdlearn.models.backbones.BACKBONES` (built with ``weights`` on
        ``device``) or an already built :class:`Backbone`.
    batch_size : int
        Images per forward pass.
    cache_dir : path or None
        Folder of cached features: one ``.npy`` per image under a sub-folder named by the
        backbone and its weights (SHA-256 of the weights file), keyed by the SHA-256 of the
        image values and the preparation parameters. Only missing images are computed.
    size, clip_nm : see :func:`prepare_images`.
    """
    values = _as_list(images)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    net = backbone if isinstance(backbone, Backbone) else build_backbone(backbone, weights, device)
    if cache_dir is None:
        return _features(net, values, batch_size, size, clip_nm)
    folder = _cache_folder(Path(cache_dir), net)
    keys = [image_key(v, size, clip_nm) for v in values]
    out = np.empty((len(values), net.feature_dim), dtype=np.float32)
    missing = []
    for i, key in enumerate(keys):
        path = folder / f"{key}.npy"
        if path.is_file():
            out[i] = np.load(path)
        else:
            missing.append(i)
    if missing:
        fresh = _features(net, [values[i] for i in missing], batch_size, size, clip_nm)
        folder.mkdir(parents=True, exist_ok=True)
        for i, row in zip(missing, fresh, strict=True):
            out[i] = row
            with atomic_path(folder / f"{keys[i]}.npy") as tmp:
                np.save(tmp, row)
    return out
