"""Scores of a WS2 / WS2(1-x)Se2x Gomb-Net (default: the shipped one) on simulated test images.

On the first N "test" images of the model's own simulator settings at 256 x 256 px: pixel
accuracy, mean IoU, atom precision / recall / RMS error (Å) and species accuracy per layer
within 0.5 Å, before and after the lattice step (``evaluate(..., lattice=True)``); the species
confusion of the matched atoms after the lattice step (rows true W, S2, SSe, Se2; columns
found); and, on M images of each Se scenario (fraction drawn in 0.2-0.8), the Se fraction per
layer counted from the predicted species against the simulator's truth, and read by Vegard's
law from the lattice constant of the predicted W columns (true pixel size) against the planted
one (the simulator scales each layer by Vegard's law). ``--views`` averages mirror images;
``--prior P`` also scores the lattice prior (keys ending in ``_prior``; the confusion and Se
fractions stay those of the lattice step). Prints one JSON object.

    python benchmarks/stem_ws2.py --n 50 --per-scenario 4 [--model runs/stem-ws2/model]
    python benchmarks/stem_ws2.py --n 50 --per-scenario 0 --prior 0.5 [--views 4]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from tmdlearn.stem.analysis import lattice_constant, species_se_fraction, vegard_se_fraction
from tmdlearn.stem.atoms import species_confusion
from tmdlearn.stem.inference import load_model
from tmdlearn.stem.train import scored_images, summarise_images
from tmdlearn.synth.stem import StemSimConfig


def confusion(images: list, n_species: int) -> np.ndarray:
    """Species confusion (true x found) of matched atoms after the lattice step over the items
    of ``scored_images``."""
    out = np.zeros((n_species,) * 2, dtype=int)
    for s, suffix, found, scores in images:
        if suffix == "_lattice":
            out += species_confusion(found, s.atoms, 0.5 / s.pixel_size_angstrom, n_species,
                                     assignment=scores["assignment"], border_px=4,
                                     shape=s.image.shape)
    return out


def se_fractions(model, sim: StemSimConfig, seed: int, n: int) -> list[dict]:
    """Per image and layer: true and predicted (species-counted) Se fraction, and the planted
    and Vegard-read (predicted W columns) one."""
    rows = []
    names = np.asarray(sim.species)
    for s, suffix, found, scores in scored_images(model, sim, seed, n, "test", lattice=True):
        if not suffix:
            continue
        layer_of = np.asarray(scores["assignment"])[found.layer.to_numpy()]
        for layer in range(2):
            w = found[(layer_of == layer) & (found.species == 0)][["x_px", "y_px"]].to_numpy()
            rows.append({
                "true": species_se_fraction(names[s.atoms.species[s.atoms.layer == layer]]),
                "predicted": species_se_fraction(names[found.species[layer_of == layer]]),
                "planted": float(np.mean(s.params["se_probability"][layer])),
                "vegard": vegard_se_fraction(lattice_constant(w, s.pixel_size_angstrom)),
                "layer": layer})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="saved model folder (default: shipped ws2)")
    parser.add_argument("--n", type=int, default=50, help="test images to score")
    parser.add_argument("--per-scenario", type=int, default=4,
                        help="images per Se scenario (0: no Se-fraction part)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--views", type=int, default=1, help="mirror views (1, 2 or 4)")
    parser.add_argument("--prior", type=float, default=0.0, help="lattice prior pull (0-1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    began, cpu = time.time(), time.process_time()
    model, meta = load_model(args.model, "ws2", device="cpu")
    data = {**meta["config"]["data"], "size_px": 256}
    sim = StemSimConfig.from_dict(data)
    images = list(scored_images(model, sim, args.seed, args.n, "test", lattice=True,
                                views=args.views, lattice_prior=args.prior))
    result = {"model": args.model or "shipped ws2", "n_test": args.n, "size_px": 256,
              "views": args.views, "prior": args.prior,
              "pixel_size_angstrom": sim.pixel_size_angstrom, "seed": args.seed,
              "scores": summarise_images(images), "species": list(sim.species),
              "confusion_lattice": confusion(images, len(sim.species)).tolist()}
    se = {}
    for scenario in ("none", "sublayer", "layer", "both") if args.per_scenario else ():
        cfg = StemSimConfig.from_dict({**data, "se_scenario": scenario,
                                       "se_fraction": (0.2, 0.8)})
        rows = se_fractions(model, cfg, args.seed + 1, args.per_scenario)
        err = [r["predicted"] - r["true"] for r in rows]
        vegard = [r["vegard"] - r["planted"] for r in rows]
        se[scenario] = {"rows": rows, "mean_abs_error": float(np.mean(np.abs(err))),
                        "max_abs_error": float(np.max(np.abs(err))),
                        "vegard_mean_abs_error": float(np.mean(np.abs(vegard))),
                        "vegard_max_abs_error": float(np.max(np.abs(vegard)))}
    result["se_fraction"] = se
    result.update(cpu_seconds=round(time.process_time() - cpu, 1),
                  wall_seconds=round(time.time() - began, 1),
                  load_average=list(os.getloadavg()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
