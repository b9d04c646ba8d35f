"""Simulator throughput: vectorised twisted-bilayer rendering against a per-atom loop.

The peer renders the same columns (same Gaussian blur) by adding one spot per atom in a Python
loop (the approach the FFT splatting replaces). Prints one JSON object.

    python benchmarks/stem_simulate.py --n 100 --size 256
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tmdlearn.raster import splat
from tmdlearn.synth.stem import StemSimConfig, simulate_image


def per_atom_loop(x: np.ndarray, y: np.ndarray, weight: np.ndarray, size: int,
                  sigma_px: float) -> np.ndarray:
    """Sum of Gaussian spots, one atom at a time, each evaluated on a local window."""
    out = np.zeros((size, size))
    r = int(4 * sigma_px) + 1
    for xi, yi, wi in zip(x, y, weight, strict=True):
        x0, y0 = int(round(xi)), int(round(yi))
        ys, xs = slice(max(0, y0 - r), min(size, y0 + r + 1)), slice(max(0, x0 - r),
                                                                     min(size, x0 + r + 1))
        yy, xx = np.mgrid[ys, xs]
        out[ys, xs] += wi * np.exp(-((xx - xi) ** 2 + (yy - yi) ** 2) / (2 * sigma_px**2))
    return out


def splat_fft(x: np.ndarray, y: np.ndarray, weight: np.ndarray, size: int,
              sigma_px: float) -> np.ndarray:
    """The simulator's rendering step: bilinear splat, Gaussian blur by one real FFT."""
    q2 = np.add.outer(np.fft.fftfreq(size) ** 2, np.fft.rfftfreq(size) ** 2)
    grid = splat((size, size), x, y, weight)
    return np.fft.irfft2(np.fft.rfft2(grid) * np.exp(-2 * np.pi**2 * sigma_px**2 * q2),
                         s=(size, size))


def _rate(render, samples, size: int) -> float:
    began = time.perf_counter()
    for s in samples:
        a = s.atoms
        render(a.x_px.to_numpy(), a.y_px.to_numpy(), np.ones(len(a)), size, 3.0)
    return len(samples) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    cfg = StemSimConfig(size_px=args.size)
    simulate_image(cfg, 0)
    began = time.perf_counter()
    samples = [simulate_image(cfg, k) for k in range(args.n)]
    ours = args.n / (time.perf_counter() - began)
    material = StemSimConfig(size_px=args.size, material="ws2")
    ws2 = [simulate_image(material, k) for k in range(10)]
    render = {"graphene": samples[:20], "ws2": ws2}
    result = {"size_px": args.size, "images": args.n, "simulate_images_per_s": round(ours, 2)}
    for name, subset in render.items():
        fast, slow = _rate(splat_fft, subset, args.size), _rate(per_atom_loop, subset, args.size)
        result[f"render_{name}_per_s"] = round(fast, 1)
        result[f"peer_per_atom_loop_{name}_per_s"] = round(slow, 1)
        result[f"ratio_{name}"] = round(fast / slow, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
