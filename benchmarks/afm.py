"""AFM speed on CPU: images/second for levelling and physical features (512 x 512) and for each
backbone's embedding (224 x 224), with plain library forward passes as peers.

Prints one JSON object. ResNets use random initialisation (speed does not depend on the weights;
no download). Run: ``PYTHONPATH=src python benchmarks/afm.py [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
import torchvision.models as tvm

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    maps = []
    for i in range(args.images):
        rng = np.random.default_rng([0, i])
        maps.append(render_afm(film_state(sample_growth(rng), "center", rng), 1.0, 512, rng)[0])
    start = time.perf_counter()
    levelled = [level(m) for m in maps]
    level_rate = len(maps) / (time.perf_counter() - start)
    features_rate = _rate(lambda: [morphology_features(m) for m in levelled], len(maps),
                          args.repeats)
    results = {"levelling_512_images_per_s": round(level_rate, 2),
               "features_512_images_per_s": round(features_rate, 2)}

    small = np.stack([m.height_nm[::2, ::2][:224, :224] for m in levelled])
    batch = np.concatenate([small] * 4)[:32]
    x = prepare_images(batch)
    for name in ("efficientnet-lite0", "resnet18", "resnet50", "resnet152"):
        n = 32 if name in ("efficientnet-lite0", "resnet18") else 16
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = build_backbone(name, None if name.startswith("resnet") else "default", "cpu")
        ours = _rate(lambda net=net, n=n: embed(batch[:n], net, batch_size=n), n, args.repeats)
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
            entry["peer_images_per_s"] = round(_rate(run_peer, n, args.repeats), 2)
            entry["ratio_to_peer"] = round(ours / entry["peer_images_per_s"], 2)
        if name in TARGETS:
            entry["target_images_per_s"] = TARGETS[name]
        results[name] = entry
    results["features_512_target_images_per_s"] = TARGETS["features_512"]
    print(json.dumps({
        "benchmark": "afm", "device": "cpu", "torch_threads": args.threads,
        "images_features": len(maps), "resnet_weights": "random init (speed only)",
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()], **results}))


if __name__ == "__main__":
    main()
