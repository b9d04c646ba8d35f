"""Atoms found per layer on every held-out WS2 image (which images lose a layer, and why).

Each held-out abTEM WS2 image is recorded once at ``--dose`` as ``stem_real.py`` records it
(same seeds: its recording ``[seed, index, 2]`` is the dose-1000 one of ``stem_real.py``) and
the model's atoms are counted per predicted layer against the true columns per layer, with
the image's twist and Se fraction per layer. Prints one JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_real_layers.py [--model DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from stem_real import DATA  # a sibling script (benchmarks/ on the path)
from tmdlearn.stem.abtem_set import load_set, record
from tmdlearn.stem.inference import identify_atoms, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: shipped ws2)")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--dose", type=float, default=1000.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, meta = load_model(args.model, material="ws2", device="cpu")
    rows = []
    for index, item in enumerate(load_set(Path(args.data))):
        if item["material"] != "ws2":
            continue
        drawn = json.loads(str(item["structure"]))
        image, truth, _ = record(item, args.dose, np.random.default_rng([args.seed, index, 2]))
        atoms, _ = identify_atoms(image, model, meta)
        rows.append({"image": item["name"], "twist_deg": round(drawn["twist_deg"], 1),
                     "se_fraction": [round(v, 2) for v in drawn["se_fraction"]],
                     "found_per_layer": np.bincount(atoms.layer, minlength=2).tolist(),
                     "true_per_layer": np.bincount(truth.layer, minlength=2).tolist()})
    print(json.dumps({"model": args.model or "shipped ws2", "dose": args.dose, "images": rows}))


if __name__ == "__main__":
    main()
