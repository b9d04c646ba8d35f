"""The command's (client's) CPU seconds per AFM image on a local cluster when the tasks carry
the images (files read by the command) and when they carry (store, index) of an image stack
(read by the worker): each image levelled and featurised in one task, as ``tmdlearn afm
features`` runs them.

Prints one JSON object (also written to ``--json``).
Run: ``nice -n 10 PYTHONPATH=src python benchmarks/afm_stack_client.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from functools import partial
from pathlib import Path

from scale_workflows import ROOT, _afm, _timed, afm_images, write_result
from tmdlearn.engine import open_engine
from tmdlearn.engine.imagestack import open_image_stack, write_image_stack


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="AFM images (512 x 512)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path,
                        default=ROOT / "benchmarks" / "results" / "afm-stack-client.json")
    args = parser.parse_args()
    images = afm_images(args.images)
    result = {"cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
              "afm_images": args.images, "afm_size_px": 512, "workers": 1}
    with tempfile.TemporaryDirectory() as tmp, open_engine("processes", 1) as engine:
        stack = open_image_stack(write_image_stack(Path(tmp) / "stack.zarr", images,
                                                     [str(i) for i in range(args.images)]))
        refs = [stack.image(i) for i in range(args.images)]
        _afm(engine, images[:2])  # warm-up: imports and numba on the worker
        for name, items in (("files", images), ("stack", refs)):
            wall, cpu, here = _timed(partial(_afm, engine, items), engine, args.repeats)
            result[name] = {"images_per_s": round(args.images / wall, 2),
                            "worker_cpu_s_per_image": round(cpu / args.images, 4),
                            "client_cpu_s_per_image": round(here / args.images, 4)}
    return write_result(result, args.json)


if __name__ == "__main__":
    main()
