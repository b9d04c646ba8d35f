"""How often does `crossmodal predict` call an input unlike the run's training inputs?

A Raman domain (:func:`tmdlearn.crossmodal.domain.fit_domain`) of ``--train`` simulated MoS2
films (centre spot of random growths, ``tmdlearn.synth``) at 1 mW, on the workflow's default
grid, then ``--n`` new films at 0.5, 1, 2 and 20 mW: the fraction flagged (at the edge of or
unlike the training inputs). With ``--run DIR`` (a `crossmodal run` folder) and its campaign,
also the fraction of the run's own AFM and Raman files flagged, training and held-out samples
apart (`crossmodal predict` on each). Prints one JSON object. The demo's campaign and run:

    tmdlearn synth mos2-campaign --small --out camp
    tmdlearn crossmodal run --data camp --out run --set threads=1 --set device=cpu \\
        --set "generation.tasks=[afm->raman, raman->pl]"
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/crossmodal_domain.py \\
        [--run run --data camp] > benchmarks/results/crossmodal-domain.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tmdlearn.crossmodal.data import preprocess_spectrum
from tmdlearn.crossmodal.domain import fit_domain
from tmdlearn.crossmodal.predict import _grids, load_run, predict_files
from tmdlearn.crossmodal.workflow import DEFAULTS
from tmdlearn.synth.film import film_state, sample_growth
from tmdlearn.synth.optics import raman_spectrum

POWERS_MW = (0.5, 1.0, 2.0, 20.0)


def raman_inputs(seed: int, n: int, power_mw: float) -> np.ndarray:
    """``n`` simulated MoS2 Raman spectra at ``power_mw`` as the run's model inputs (n, L)."""
    grid = _grids(DEFAULTS)["raman"]
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        spectrum, _ = raman_spectrum(film_state(sample_growth(rng), "center", rng), power_mw, rng)
        rows.append(preprocess_spectrum(spectrum.intensity.mean(axis=0), spectrum.axis, grid))
    return np.array(rows)


def run_files(run: Path, data: Path) -> dict:
    """Fraction of a run's own AFM (1 µm) and Raman files (of its campaign ``data``) flagged,
    training and held-out."""
    held = set(json.loads((run / "run.json").read_text())["test_samples"])
    loaded = load_run(run)
    out = {}
    for modality, pattern in (("afm", "afm/*_1um.npz"), ("raman", "raman/*.txt")):
        files = sorted(data.glob(pattern))
        table, _ = predict_files(files, loaded)
        flagged = table["warning"].fillna("").str.len() > 0
        test = np.array([Path(f).name.split("_")[0] in held for f in table["file"]])
        out[modality] = {"training": f"{int(flagged[~test].sum())} of {int((~test).sum())}",
                         "held_out": f"{int(flagged[test].sum())} of {int(test.sum())}"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=80)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--run", type=Path, help="a crossmodal run folder")
    parser.add_argument("--data", type=Path, help="the campaign folder of --run")
    args = parser.parse_args()
    domain = fit_domain(raman_inputs(1, args.train, 1.0))
    flagged = {f"{power:g} mW": float(np.mean([r != "" for r in domain.outside(
        raman_inputs(2, args.n, power))])) for power in POWERS_MW}
    out = {"benchmark": "crossmodal_domain", "train_1mW": args.train, "n": args.n,
           "components": len(domain.variance), "flagged": flagged}
    if args.run:
        out["run_files"] = run_files(args.run, args.data)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
