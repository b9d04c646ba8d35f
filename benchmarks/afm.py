"""AFM speed on CPU: levelling and physical features of 512 x 512 images, and each backbone's
embedding (224 x 224), with library peers.

Prints one JSON object. Levelling and features: images/s with 1 and 2 worker threads
(:func:`tmdlearn.afm.batch.map_images`), CPU seconds per image (process CPU time, which the
machine's load barely changes), and the ratio to the library path: the same pipeline with every
fast path swapped back for the scikit-image / scipy / numpy call it replaces (``_library_path``).
Embeddings use random initialisation for the ResNets (speed does not depend on the weights).
Run: ``PYTHONPATH=src python benchmarks/afm.py [--threads 2] [--skip-embed]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
import warnings
from unittest import mock

import numpy as np
import torch
import torchvision.models as tvm
from scipy import ndimage
from skimage.feature import blob_dog, canny
from skimage.morphology import dilation, disk, erosion, h_maxima

import tmdlearn.afm.level as level_module
import tmdlearn.afm.morphology as morphology_module
import tmdlearn.afm.structure as structure_module
import tmdlearn.afm.surface as surface_module
import tmdlearn.afm.texture as texture_module
import tmdlearn.afm.thresholds as thresholds_module
import tmdlearn.afm.twopass as twopass_module
from tmdlearn.afm.batch import map_images
from tmdlearn.afm.embed import embed, prepare_images
from tmdlearn.afm.level import level
from tmdlearn.afm.morphology import morphology_features
from tmdlearn.models.backbones import build_backbone
from tmdlearn.synth.film import film_state, render_afm, sample_growth

TARGETS = {"features_512": 20.0, "efficientnet-lite0": 25.0, "resnet152": 4.0}


def _rate(fn, n_images: int, repeats: int) -> float:
    fn()  # warm-up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_images / best


def _design_fit(h, use, order, extra=None):
    """The library path of ``surface.fit_surface``: a design matrix of one row per pixel."""
    ny, nx = h.shape
    y, x = np.mgrid[-1:1:ny * 1j, -1:1:nx * 1j]
    terms = [x**i * y**j for i in range(order + 1) for j in range(order + 1 - i)]
    columns = terms + ([extra] if extra is not None else [])
    coef, *_ = np.linalg.lstsq(np.column_stack([t[use] for t in columns]), h[use], rcond=None)
    surface = sum(c * t for c, t in zip(coef, terms, strict=False))
    return surface, float(coef[-1]) if extra is not None else 0.0


def _library_path():
    """Patch every fast path of levelling and features back to the library call it equals."""
    def runs(mask, min_length):
        labels, _ = ndimage.label(mask, structure=[[0, 0, 0], [1, 1, 1], [0, 0, 0]])
        return (np.bincount(labels.ravel())[labels] >= min_length) & mask

    def dilate(mask, iterations=1):
        return ndimage.binary_dilation(mask, iterations=iterations)

    def erode(mask, iterations=1, border_value=False):
        return ndimage.binary_erosion(mask, iterations=iterations, border_value=border_value)

    stack = contextlib.ExitStack()
    library = {"fit_surface": _design_fit, "nanmedian": np.nanmedian,
               "nan_to_num": np.nan_to_num, "dilate_cross": dilate, "long_row_runs": runs,
               "histogram_counts": lambda values, edges: np.histogram(values, edges)[0],
               "window3_nonconstant": lambda k: ndimage.morphological_gradient(k, size=3) > 0}
    for module in (surface_module, thresholds_module, twopass_module, level_module):
        stack.enter_context(mock.patch.multiple(
            module, **{name: fn for name, fn in library.items() if hasattr(module, name)}))
    features = {
        "dilate_cross": dilate, "erode_cross": erode,
        "canny": lambda image, sigma: canny(image, sigma=sigma),
        "gaussian_filter": lambda image, sigma, mode="reflect": ndimage.gaussian_filter(
            image, sigma, mode=mode),
        "grey_dilate_diamond": lambda a, r: dilation(a, disk(r)),
        "grey_erode_diamond": lambda a, r: erosion(a, disk(r)),
        "count_h_maxima": lambda d, h: ndimage.label(h_maxima(d, h), np.ones((3, 3)))[1],
        "count_dog_blobs": lambda image, low, high, threshold: len(blob_dog(
            image, low, high, threshold=threshold, exclude_border=False))}
    for module in (morphology_module, structure_module, texture_module):
        stack.enter_context(mock.patch.multiple(
            module, **{name: fn for name, fn in features.items() if hasattr(module, name)}))
    return stack


def _speed(fn, items, repeats: int, workers_list=(1, 2)) -> dict:
    """Images/s and CPU s per image with each number of workers, best of ``repeats``."""
    fn(items[0])  # warm-up (numba kernels load from their cache)
    out = {}
    for workers in workers_list:
        wall, cpu = np.inf, np.inf
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            map_images(fn, items, workers)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        out[f"workers_{workers}_images_per_s"] = round(len(items) / wall, 2)
        out[f"workers_{workers}_cpu_s_per_image"] = round(cpu / len(items), 4)
    return out


def _vs_library(fn, items, repeats: int) -> dict:
    ours = _speed(fn, items, repeats)
    with _library_path():
        library = _speed(fn, items[: max(2, len(items) // 2)], 1, (1,))
    ours["library_path_cpu_s_per_image"] = library["workers_1_cpu_s_per_image"]
    ours["library_path_images_per_s"] = library["workers_1_images_per_s"]
    ours["cpu_ratio_library_over_ours"] = round(
        library["workers_1_cpu_s_per_image"] / ours["workers_1_cpu_s_per_image"], 2)
    return ours


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-embed", action="store_true", help="levelling and features only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    maps = []
    for i in range(args.images):
        rng = np.random.default_rng([0, i])
        maps.append(render_afm(film_state(sample_growth(rng), "center", rng), 1.0, 512, rng)[0])
    levelled = [level(m) for m in maps]
    results = {"levelling_512": _vs_library(level, maps, args.repeats),
               "features_512": _vs_library(morphology_features, levelled, args.repeats)}
    results["features_512"]["target_images_per_s"] = TARGETS["features_512"]
    if not args.skip_embed:
        results.update(_embeddings(levelled, args.repeats))
    print(json.dumps({
        "benchmark": "afm", "device": "cpu", "cpu_count": os.cpu_count(),
        "torch_threads": args.threads, "images": len(maps),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()], **results}))


def _embeddings(levelled, repeats: int) -> dict:
    """Images/s of every backbone's embedding at 224 x 224, with library peers."""
    results = {"resnet_weights": "random init (speed only)"}
    small = np.stack([m.height_nm[::2, ::2][:224, :224] for m in levelled])
    batch = np.concatenate([small] * 4)[:32]
    x = prepare_images(batch)
    for name in ("efficientnet-lite0", "resnet18", "resnet50", "resnet152"):
        n = 32 if name in ("efficientnet-lite0", "resnet18") else 16
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = build_backbone(name, None if name.startswith("resnet") else "default", "cpu")
        ours = _rate(lambda net=net, n=n: embed(batch[:n], net, batch_size=n), n, repeats)
        entry = {"ours_images_per_s": round(ours, 2)}
        if name == "efficientnet-lite0":
            from efficientnet_lite_pytorch import EfficientNet

            peer = EfficientNet.from_name("efficientnet-lite0").eval()
            entry["peer"] = "efficientnet_lite_pytorch EfficientNet.extract_features + pooling"
            forward = peer.extract_features
        elif name == "resnet152":
            peer = tvm.resnet152(weights=None).eval()
            entry["peer"] = "torchvision resnet152 forward (eval, inference_mode)"
            forward = peer
        else:
            peer = None
        if peer is not None:
            def run_peer(forward=forward, n=n):
                with torch.inference_mode():
                    forward(x[:n])
            entry["peer_images_per_s"] = round(_rate(run_peer, n, repeats), 2)
            entry["ratio_to_peer"] = round(ours / entry["peer_images_per_s"], 2)
        if name in TARGETS:
            entry["target_images_per_s"] = TARGETS[name]
        results[name] = entry
    return results


if __name__ == "__main__":
    main()
