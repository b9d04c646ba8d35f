"""Column contrast of Mo films against abTEM multislice: Mo, S2, SSe and Se2.

The periodic monolayers MoS2 (a 3.160 Å), Janus MoSSe (S on the entrance side, Se on the exit
side; a 3.224 Å) and MoSe2 (a 3.288 Å), with the probes, annular detectors, frozen phonons (Mo
0.05 Å rms) and measurement of ``stem_column_contrast.py`` (which does the same for W films).

``--abtem`` (run with the abTEM environment) computes the HAADF images and stores them in
``benchmarks/data/abtem-mo-contrast/`` (npz). The default mode measures every chalcogen
column's background-subtracted integral within 0.5 Å over the Mo column's, per probe and
detector, and fits the simulator's Z exponent n and Mo offset (``n_Mo = n - offset``,
:func:`tmdlearn.synth.specimen.column_weights`) to them: tmdlearn renders the same columns
through the same probe (atom-size σ matching abTEM's Mo FWHM), the measured-over-weight ratio
(the neighbours' tails in a column's disk) is divided out, and the fit is repeated at the
first fit's weights. It prints one JSON object: abTEM's ratios, the fits, and the ratios
:data:`tmdlearn.stem.films.MO_LEVELS` classifies chalcogen columns by, over abTEM's.

    nice -n 10 env OMP_NUM_THREADS=1 PYTHONPATH=src /work/venv-abtem/bin/python \\
        benchmarks/stem_mo_contrast.py --abtem
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_mo_contrast.py \\
        > benchmarks/results/stem-mo-contrast.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import optimize

from stem_column_contrast import (  # a sibling script (benchmarks/ on the path)
    DETECTORS,
    MO_MONOLAYERS,
    PROBES,
    REFERENCE_DETECTOR,
    column_stats,
    periodic_sampler,
    run_abtem,
    simulator_sampler,
    specimen,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "abtem-mo-contrast"
#: Each monolayer and the chalcogen column it holds.
MONO = (("MoS2", "S2"), ("MoSSe", "SSe"), ("MoSe2", "Se2"))
KINDS = ("Mo", "S2", "SSe", "Se2")


def _ratios(stats: dict[str, dict]) -> dict[str, float]:
    """Each chalcogen column's integral over Mo's in its monolayer (``stats[name]``)."""
    return {f"{kind}/Mo": stats[name][f"L0 {kind}"]["integral"] / stats[name]["L0 Mo"]["integral"]
            for name, kind in MONO}


def abtem_stats(name: str, probe: str, detector: int) -> dict:
    """:func:`column_stats` of the stored abTEM image."""
    with np.load(DATA / f"{name}_{probe}.npz") as npz:
        sample = periodic_sampler(npz["images"][detector].astype(float), tuple(npz["cell"][:2]))
    return column_stats(sample, specimen(name))


def simulator_stats(name: str, probe: str, n: float, offset: float, sigma: float) -> dict:
    """:func:`column_stats` of tmdlearn's image of the same monolayer."""
    from tmdlearn.synth.specimen import column_weights

    spec = specimen(name)
    kind = np.array([KINDS.index(k) for k in spec["column_kind"]])
    weights = column_weights(kind, n, n - offset, "Mo")
    return column_stats(simulator_sampler(spec, PROBES[probe], weights, sigma), spec)


def weight_ratios(n: float, offset: float) -> dict[str, float]:
    """S2/Mo, SSe/Mo and Se2/Mo of the simulator's column weights."""
    from tmdlearn.synth.specimen import column_weights

    w = column_weights(np.arange(4), n, n - offset, "Mo")
    return {f"{k}/Mo": float(w[i] / w[0]) for i, k in enumerate(KINDS) if i}


def fit_weights(target: dict[str, float]) -> tuple[float, float, float]:
    """(n, offset) whose weight ratios match ``target`` (least squares of the logs), and the
    largest relative misfit left."""
    keys = sorted(target)

    def residual(p):
        model = weight_ratios(*p)
        return np.log([model[k] for k in keys]) - np.log([target[k] for k in keys])

    fit = optimize.least_squares(residual, x0=[1.8, 0.1])
    return float(fit.x[0]), float(fit.x[1]), float(np.max(np.abs(np.expm1(fit.fun))))


def equivalent_sigma(probe: str, fwhm: float) -> float:
    """The atom-size σ (Å) at which tmdlearn's Mo column in MoS2 has abTEM's FWHM."""
    def gap(sigma: float) -> float:
        return simulator_stats("MoS2", probe, 1.8, 0.1, sigma)["L0 Mo"]["fwhm"] - fwhm

    return float(optimize.brentq(gap, 0.0, 0.3, xtol=2e-3)) if gap(0.0) < 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abtem", action="store_true", help="compute the abTEM images")
    parser.add_argument("--configs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.abtem:
        run_abtem(args.configs, args.seed, [(s, p) for p in PROBES for s in MO_MONOLAYERS], DATA)
        return
    from tmdlearn.stem.films import MO_LEVELS

    out: dict = {"probes": {}, "detectors_mrad": [list(d) for d in DETECTORS]}
    for probe in PROBES:
        if not all((DATA / f"{name}_{probe}.npz").exists() for name, _ in MONO):
            continue
        reference = abtem_stats("MoS2", probe, REFERENCE_DETECTOR)
        sigma = equivalent_sigma(probe, reference["L0 Mo"]["fwhm"])
        rows = {}
        for d, (inner, outer) in enumerate(DETECTORS):
            measured = _ratios({name: abtem_stats(name, probe, d) for name, _ in MONO})
            n, offset = 1.8, 0.1
            for _ in range(2):  # divide out the tails' share at the current weights
                simulated = _ratios({name: simulator_stats(name, probe, n, offset, sigma)
                                     for name, _ in MONO})
                share = {k: v / weight_ratios(n, offset)[k] for k, v in simulated.items()}
                n, offset, misfit = fit_weights({k: measured[k] / share[k] for k in measured})
            rows[f"{inner:g}-{outer:g}"] = {
                "abtem_integral_ratio": {k: round(v, 4) for k, v in measured.items()},
                "z_exponent": round(n, 3), "mo_z_offset": round(offset, 3),
                "max_misfit": round(misfit, 4),
                "mo_levels_over_weights_at_fit": {
                    k: round(MO_LEVELS[k.split("/")[0]] / weight_ratios(n, offset)[k], 3)
                    for k in measured}}
        out["probes"][probe] = {"atom_sigma_angstrom": round(sigma, 3), "detectors": rows}
    fits = [r for p in out["probes"].values() for r in p["detectors"].values()]
    if fits:
        out["mo_z_offset_range"] = [min(r["mo_z_offset"] for r in fits),
                                    max(r["mo_z_offset"] for r in fits)]
        out["z_exponent_range"] = [min(r["z_exponent"] for r in fits),
                                   max(r["z_exponent"] for r in fits)]
    out["mo_levels"] = {k: round(v, 4) for k, v in MO_LEVELS.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
