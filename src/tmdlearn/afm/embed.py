"""Deep embeddings of AFM height maps: image preparation, backbone features with a cache,
UMAP/PCA reduction and the correlation of embedding axes with physical features.

The pipeline follows the MoS2 cross-modal study: heights clipped to a ±1.5 nm window, scaled to
[0, 1], grey copied to three channels, ImageNet normalisation, resized to 224 x 224, then the
pooled features of an ImageNet-pretrained CNN (EfficientNet-Lite0 by default).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tmdlearn.engine import Engine

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

    Returns
    -------
    (N, 3, size, size) Tensor
        float32, the grey image in three channels, ImageNet-normalised.
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
    preparation parameters.

    Parameters
    ----------
    values : (H, W) array
        Heights (nm).
    size, clip_nm
        As in :func:`prepare_images`.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
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
    net = net.for_inference()
    starts = range(0, len(images), batch_size)
    out = []
    for start in track(starts, f"embedding ({net.name})", total=len(starts)):
        x = prepare_images(images[start:start + batch_size], size=size, clip_nm=clip_nm)
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        out.append(net(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, net.feature_dim), dtype=np.float32)


def embed(images: Images, backbone: str | Backbone = DEFAULT_BACKBONE, batch_size: int = 32,
          device: str = "auto", cache_dir: str | Path | None = None, weights="default",
          size: int = 224, clip_nm: float = 1.5, engine: Engine | None = None) -> np.ndarray:
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
    device : str
        Torch device of a backbone built here: "auto" (CUDA when present), "cpu", "cuda"...
    cache_dir : path or None
        Folder of cached features: one ``.npy`` per image under a sub-folder named by the
        backbone and its weights (SHA-256 of the weights file), keyed by the SHA-256 of the
        image values and the preparation parameters. Only missing images are computed.
    weights : "default", path or None
        Weights of a backbone built here (:func:`~tmdlearn.models.backbones.build_backbone`):
        the packaged ImageNet weights, a saved state dict, or None for random initialisation.
    size, clip_nm
        As in :func:`prepare_images`.
    engine : Engine, optional
        With a Dask client (:mod:`tmdlearn.engine`) and a backbone given by name, each batch of
        ``batch_size`` images is a task; every worker builds the backbone once
        (:func:`worker_backbone`). The same batches as in this process: the same features.

    Returns
    -------
    (N, feature_dim) ndarray of float32
        Features, in the order of ``images``.
    """
    values = _as_list(images)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    net = backbone if isinstance(backbone, Backbone) else build_backbone(backbone, weights, device)
    features = _features
    if engine is not None and engine.client is not None and isinstance(backbone, str):
        features = partial(_features_on, engine, (backbone, weights, device))
    if cache_dir is None:
        return features(net, values, batch_size, size, clip_nm)
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
        fresh = features(net, [values[i] for i in missing], batch_size, size, clip_nm)
        folder.mkdir(parents=True, exist_ok=True)
        for i, row in zip(missing, fresh, strict=True):
            out[i] = row
            with atomic_path(folder / f"{keys[i]}.npy") as tmp:
                np.save(tmp, row)
    return out


def _features_on(engine: Engine, built: tuple, net: Backbone, images: list[np.ndarray],
                 batch_size: int, size: int, clip_nm: float) -> np.ndarray:
    """:func:`_features` with each batch a task of ``engine`` (``built``: the backbone's name,
    weights and device)."""
    tasks = [(built, images[start:start + batch_size], size, clip_nm)
             for start in range(0, len(images), batch_size)]
    out = engine.map(_batch_features, tasks, f"embedding ({net.name})")
    return np.concatenate(out) if out else np.empty((0, net.feature_dim), dtype=np.float32)


def _batch_features(task: tuple) -> np.ndarray:
    """Features of one batch on a worker: ``(backbone, weights, device), images, size,
    clip_nm``."""
    built, images, size, clip_nm = task
    torch.set_num_threads(1)  # a worker process is one core
    return _features(worker_backbone(*built), images, len(images), size, clip_nm)


@lru_cache(maxsize=2)
def worker_backbone(name: str, weights="default", device: str = "auto") -> Backbone:
    """The backbone ``name`` with ``weights`` on ``device``, built once per process.

    Parameters
    ----------
    name : str
        A name from :data:`tmdlearn.models.backbones.BACKBONES`.
    weights : str, path or None
        As in :func:`~tmdlearn.models.backbones.build_backbone`.
    device : str
        ``auto``, ``cpu`` or ``cuda``.

    Returns
    -------
    Backbone
        The same object for the same arguments in this process (engine workers embed many
        batches with one model).
    """
    return build_backbone(name, weights, device)


def reduce(features: np.ndarray, method: str = "umap", n_components: int = 2,
           n_neighbors: int | None = None, seed: int = 0) -> np.ndarray:
    """Low-dimensional coordinates (N, n_components) of backbone features (N, D).

    Parameters
    ----------
    features : (N, D) array
        Backbone features, N >= 3.
    method : str
        "umap": umap-learn with the cosine metric. "pca": scikit-learn PCA of the centred
        features (deterministic up to the sign of each axis, fixed here so that the
        largest-magnitude loading is positive).
    n_components : int
        Output dimensions.
    n_neighbors : int, optional
        UMAP neighbours; default half the sample count (the MoS2 study; at least 2, at most
        N - 1).
    seed : int
        ``random_state`` of UMAP / PCA.

    Returns
    -------
    (N, n_components) ndarray
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise InputError(f"need at least 3 feature vectors (N, D), got shape {x.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=n_components, random_state=seed).fit(x)
        signs = np.sign(pca.components_[np.arange(n_components),
                                        np.abs(pca.components_).argmax(axis=1)])
        return pca.transform(x) * signs
    if method != "umap":
        raise InputError(f"reduction method must be 'umap' or 'pca', got {method!r}")
    import umap

    k = max(2, x.shape[0] // 2) if n_neighbors is None else int(n_neighbors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that random_state disables parallelism
        reducer = umap.UMAP(n_components=n_components, n_neighbors=min(k, x.shape[0] - 1),
                            metric="cosine", random_state=seed)
        return reducer.fit_transform(x)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of matching rows of a and b (B, N)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / denom


def _merge_proportional(numeric):
    """``numeric`` with every column that is a positive multiple of an earlier one (to 1e-9)
    dropped and its name added to that one's (``a = b``)."""
    kept: dict[str, list[str]] = {}
    for column in numeric.columns:
        y = numeric[column].to_numpy(dtype=float)
        for first in kept:
            x = numeric[first].to_numpy(dtype=float)
            scale = np.dot(x, y) / np.dot(x, x) if np.dot(x, x) > 0 else 0.0
            if scale > 0 and np.allclose(y, scale * x, rtol=1e-9, atol=0):
                kept[first].append(column)
                break
        else:
            kept[column] = [column]
    return numeric[list(kept)].rename(columns={k: " = ".join(v) for k, v in kept.items()})


def axis_correlations(embedding: np.ndarray, features, axis_names: Sequence[str] | None = None,
                      n_boot: int = 1000, ci: float = 0.95, seed: int = 0):
    """Pearson and Spearman correlation of every embedding axis with every physical feature.

    Parameters
    ----------
    embedding : (N, K) array
        Embedding coordinates, one row per image.
    features : DataFrame or dict of columns
        Physical features, one row per image in the same order; numeric columns are used.
    axis_names : sequence of str, optional
        Names of the K axes; default ``axis_1``, ``axis_2``...
    n_boot : int
        Bootstrap resamples of the images.
    ci : float
        Confidence level of the percentile intervals.
    seed : int
        Seed of the resampling.

    Returns
    -------
    DataFrame
        A long table, one row per (axis, feature): ``n``, ``pearson_r``, ``pearson_p``,
        ``spearman_rho``, ``spearman_p`` (scipy.stats, two-sided) and the bootstrap intervals
        ``*_ci_low``, ``*_ci_high`` (resamples with a constant column are left out). Constant
        features give NaN. Features that are positive multiples of each other on these images
        (a count and its density over scans of one size) share one row, named
        ``domain_count = domain_density_um2``.
    """
    import pandas as pd
    from scipy import stats

    emb = np.asarray(embedding, dtype=float)
    table = pd.DataFrame(features).reset_index(drop=True)
    if emb.ndim != 2 or emb.shape[0] != len(table):
        raise InputError(f"embedding has {emb.shape[0]} rows but features {len(table)}")
    names = list(axis_names) if axis_names is not None else [
        f"axis_{i + 1}" for i in range(emb.shape[1])]
    rng = np.random.default_rng(seed)
    n = emb.shape[0]
    boots = rng.integers(0, n, size=(n_boot, n))
    alpha = (1.0 - ci) / 2.0
    rows = []
    numeric = _merge_proportional(table.select_dtypes("number"))
    for j, axis in enumerate(names):
        x = emb[:, j]
        xb = x[boots]
        xr = stats.rankdata(xb, axis=1)
        for column in numeric.columns:
            y = numeric[column].to_numpy(dtype=float)
            row = {"axis": axis, "feature": column, "n": n}
            if np.ptp(y) == 0 or np.ptp(x) == 0:
                row.update(dict.fromkeys(
                    ["pearson_r", "pearson_p", "pearson_ci_low", "pearson_ci_high",
                     "spearman_rho", "spearman_p", "spearman_ci_low", "spearman_ci_high"], np.nan))
                rows.append(row)
                continue
            pr = stats.pearsonr(x, y)
            sr = stats.spearmanr(x, y)
            yb = y[boots]
            rb = _pearson_rows(xb, yb)
            sb = _pearson_rows(xr, stats.rankdata(yb, axis=1))
            row.update(pearson_r=float(pr.statistic), pearson_p=float(pr.pvalue),
                       pearson_ci_low=float(np.nanquantile(rb, alpha)),
                       pearson_ci_high=float(np.nanquantile(rb, 1 - alpha)),
                       spearman_rho=float(sr.statistic), spearman_p=float(sr.pvalue),
                       spearman_ci_low=float(np.nanquantile(sb, alpha)),
                       spearman_ci_high=float(np.nanquantile(sb, 1 - alpha)))
            rows.append(row)
    return pd.DataFrame(rows)
