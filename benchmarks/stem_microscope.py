"""The simulator's real microscope: how much the drawn aberrations cost, and its speed.

For ``--draws`` microscopes drawn from the default ranges, the probe's transfer at 0.65-0.75
1/Å (the C-C pair of graphene) relative to the perfect probe of the same energy, convergence
and source (percentiles); and images per second of the realistic and the ideal simulator.
Prints one JSON object.

    python benchmarks/stem_microscope.py --draws 200 --images 50
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tmdlearn.synth.microscope import (
    MicroscopeConfig,
    draw_microscope,
    probe_intensity,
    probe_otf,
)
from tmdlearn.synth.stem import StemSimConfig, simulate_image

ABERRATIONS = ("C10", "C12", "C21", "C23", "C30")


def transfer_ratios(draws: int, size: int = 256, pixel: float = 0.1) -> np.ndarray:
    """Mean |OTF| in the 0.65-0.75 1/Å band, drawn probe over its aberration-free twin."""
    k = np.fft.fftfreq(size, pixel)
    q = np.hypot(*np.meshgrid(k, np.fft.rfftfreq(size, pixel), indexing="ij"))
    band = (q > 0.65) & (q < 0.75)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(draws):
        p = draw_microscope(MicroscopeConfig(), rng)
        perfect = {**p, **dict.fromkeys(ABERRATIONS, 0.0)}
        transfer = [np.abs(probe_otf(probe_intensity(size, pixel, m), pixel, m)[band]).mean()
                    for m in (p, perfect)]
        out.append(transfer[0] / transfer[1])
    return np.asarray(out)


def _rate(cfg: StemSimConfig, n: int) -> float:
    began = time.perf_counter()
    for k in range(n):
        simulate_image(cfg, k)
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--images", type=int, default=50)
    args = parser.parse_args()
    ratios = transfer_ratios(args.draws)
    result = {"draws": args.draws,
              "transfer_vs_perfect_p5_p25_p50_p75_p95":
                  np.percentile(ratios, [5, 25, 50, 75, 95]).round(3).tolist()}
    for material, pixel in (("graphene", 0.1), ("ws2", 0.15)):
        for name, micro in (("realistic", {}), ("ideal", None)):
            cfg = StemSimConfig(material=material, pixel_size_angstrom=pixel, size_px=256,
                                microscope=micro)
            result[f"{material}_{name}_images_per_s_256px"] = round(_rate(cfg, args.images), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
