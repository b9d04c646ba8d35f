"""Does the self-check's pixel-size check (the image's own lattice, found without a pixel size,
:func:`tmdlearn.stem.fourier.lattice_spacing_px`) tell a right pixel size from a wrong one?

For each material and field size, ``--n`` simulated bilayers of the realistic microscope
(``StemSimConfig(material, size_px)``, seeds 0..n-1) are graded by the check
(:func:`tmdlearn.stem.quality._pixel_size_checks`) at their true pixel size and at 1.3 x and
0.7 x it. Reported per set: images where the transform shows no clear lattice (no grade),
and per factor the images graded below 1 and at or below 0.5 (the self-check's ``ok`` bound).
A right pixel size should never be graded down; a 30 % wrong one always. Prints one JSON
object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_pixel_size.py [--n 40]
"""

from __future__ import annotations

import argparse
import json
import time

from tmdlearn.stem.grades import OK_ABOVE
from tmdlearn.stem.quality import _pixel_size_checks
from tmdlearn.synth.stem import StemSimConfig, simulate_image

FACTORS = (1.0, 1.3, 0.7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="images per material and size")
    args = parser.parse_args()
    started = time.time()
    sets = {}
    for material in ("graphene", "ws2"):
        for size in (96, 256):
            counts = {"images": args.n, "no_lattice": 0,
                      **{f"x{f}": {"graded": 0, "below_1": 0, "at_most_ok_bound": 0}
                         for f in FACTORS}}
            for seed in range(args.n):
                sample = simulate_image(StemSimConfig(material=material, size_px=size), seed)
                for factor in FACTORS:
                    checks = _pixel_size_checks(sample.image,
                                                sample.pixel_size_angstrom * factor,
                                                material, {})
                    if not checks:
                        counts["no_lattice"] += factor == 1.0
                        continue
                    grade = checks[0][1]
                    row = counts[f"x{factor}"]
                    row["graded"] += 1
                    row["below_1"] += grade < 1.0
                    row["at_most_ok_bound"] += grade <= OK_ABOVE
            sets[f"{material}_{size}px"] = counts
    print(json.dumps({"benchmark": "stem_pixel_size", "n": args.n, "sets": sets,
                      "wall_s": round(time.time() - started, 1)}, indent=1))


if __name__ == "__main__":
    main()
