"""Shipped (or given) Gomb-Net models on simulated images of their own kind, and on monolayers.

Per model: scores after the lattice step (and the lattice prior 0.5) on ``--n`` test images of
a well-tuned real microscope at dose 1000 without amorphous carbon (the model's own training
ranges otherwise; ``--microscope physical``: the physical ranges of
:class:`~tmdlearn.synth.microscope.MicroscopeConfig` instead, every probe, dose and artefact as
drawn for the held-out set, amorphous carbon included, and for WS2 the exit layer dimmed as in
abTEM (:data:`~tmdlearn.synth.specimen.WS2_EXIT_LAYER_DIMMING`); key ``physical_real``),
graphene also on the ideal microscope; and on ``--mono`` realistic
monolayers (dose 100-3000) how many atoms the model puts in the layer that is not there
(median per image, the smaller of its two layers). ``--refine`` also scores the positions
refined against the image (:mod:`tmdlearn.stem.refine`; keys ``_refine``, and the prior then
starts from them). ``--sim-config FILE`` takes the simulator
ranges from a training config's ``data`` instead (every model then sees the same images);
``--column-gamma G`` draws the columns' contrast with the power G (1: uncompressed, as abTEM
gives it). ``--se-rich N`` (WS2) also scores N 128 px bilayers with Se on 90-100 % of the
chalcogen sites of both layers (``se_rich``). ``--views K`` averages K mirror images of every
input, as ``stem predict --views K``. Prints one JSON object.

    python benchmarks/stem_simulated.py [--graphene PATH] [--ws2 PATH] [--n 20] [--mono 10]
    python benchmarks/stem_simulated.py --skip graphene --ws2 new/model \
        --sim-config configs/stem-ws2.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from tmdlearn.data.containers import StemImage
from tmdlearn.stem.inference import identify_atoms, load_model
from tmdlearn.stem.train import evaluate
from tmdlearn.synth.specimen import WS2_EXIT_LAYER_DIMMING
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

#: A well-tuned real microscope at a good dose (as tests/test_stem_shipped.py).
GOOD = {"dose": (1000.0, 1000.0), "defocus_angstrom": (-10.0, 10.0),
        "coma_angstrom": (0.0, 150.0), "threefold_angstrom": (0.0, 150.0)}


def _rounded(scores: dict) -> dict:
    return {k: round(v, 4) for k, v in scores.items()
            if k.endswith(("_lattice", "_refine", "_prior")) and np.isfinite(v)}


def invented_atoms(model, meta: dict, data: dict, n: int, views: int = 1) -> dict:
    """Atoms in the smaller layer of realistic monolayers of the simulator ranges ``data``
    (median and mean per image)."""
    data = {**data, "size_px": 256, "layers": 1, "monolayer_probability": 0.0,
            "microscope": {"dose": (100.0, 3000.0)}}
    cfg = StemSimConfig.from_dict(data)
    minor = []
    for k in range(n):
        s = simulate_image(cfg, split_seed(0, "test", k))
        atoms, _ = identify_atoms(StemImage(s.image, s.pixel_size_angstrom), model, meta,
                                  views=views)
        minor.append(int(np.bincount(atoms.layer, minlength=2).min()))
    return {"images": n, "median": float(np.median(minor)), "mean": float(np.mean(minor))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphene", default=None)
    parser.add_argument("--ws2", default=None)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--mono", type=int, default=10)
    parser.add_argument("--sim-config", default=None,
                        help="training config whose data ranges to simulate (default: the model's)")
    parser.add_argument("--skip", choices=("graphene", "ws2"), default=None)
    parser.add_argument("--se-rich", type=int, default=0)
    parser.add_argument("--column-gamma", type=float, default=None,
                        help="draw the columns' contrast with this power (1: uncompressed, "
                             "as abTEM) instead of the ranges' own")
    parser.add_argument("--microscope", choices=("good", "physical"), default="good",
                        help="a well-tuned microscope at dose 1000, or the physical ranges")
    parser.add_argument("--views", type=int, default=1,
                        help="mirror images averaged (stem predict --views)")
    parser.add_argument("--refine", action="store_true",
                        help="also score the positions refined against the image (_refine; "
                             "the prior then starts from them)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {}
    for material, path in (("graphene", args.graphene), ("ws2", args.ws2)):
        if material == args.skip:
            continue
        model, meta = load_model(path, material=material, device="cpu")
        data = meta["config"]["data"]
        if args.sim_config:
            data = yaml.safe_load(Path(args.sim_config).read_text())["data"]
        if args.column_gamma is not None:
            data = {**data, "column_gamma": args.column_gamma}
        if args.microscope == "good":
            chain = {"microscope": GOOD, "amorphous_coverage": (0.0, 0.0)}
        else:
            chain = {"microscope": {}}
            if material == "ws2":
                chain["exit_layer_dimming"] = WS2_EXIT_LAYER_DIMMING
        real = StemSimConfig.from_dict({**data, "size_px": 256, **chain,
                                        "monolayer_probability": 0.0})
        row = {"model": path or f"shipped {material}",
               f"{args.microscope}_real": _rounded(evaluate(model, real, 0, args.n, split="test",
                                              lattice=True, lattice_prior=0.5,
                                              refine=args.refine, views=args.views)),
               "monolayer_invented_atoms": invented_atoms(model, meta, data, args.mono,
                                                          args.views)}
        if material == "ws2" and args.se_rich:
            rich = StemSimConfig.from_dict({**real.as_dict(), "size_px": 128, "se_scenario": "both",
                                            "se_fraction": (0.9, 1.0)})
            row["se_rich"] = _rounded(evaluate(model, rich, 0, args.se_rich, split="test",
                                               lattice=True, views=args.views))
        if material == "graphene":
            row["ideal"] = _rounded(evaluate(model, StemSimConfig(size_px=256), 0, args.n,
                                             split="test", lattice=True, lattice_prior=0.5,
                                             refine=args.refine, views=args.views))
        out[material] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
