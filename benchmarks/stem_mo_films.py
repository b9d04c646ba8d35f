"""Mo films read with the shipped WS2 model: column species before and after
:func:`tmdlearn.stem.films.film_species`, on simulated MoS2(1-x)Se2x images.

Per film (the ``--material`` name and the Se fraction planted), ``--n`` images of the realistic
microscope (``stem simulate --material mos2``: abTEM-calibrated contrast, dose, aberrations,
scan distortion, contamination; 384 px at 0.1 Å/px) as monolayers (``--monolayer``) and as
twisted bilayers (10-30°). The planted columns are matched to the found ones within 0.5 Å; for
each film it reports the fraction of the matched metal columns called Mo and of the matched
chalcogen columns given their planted species, with the model's own labels (its "W" read as
Mo) and after ``film_species``, and the Se fraction counted from the species against the
planted one. ``--names N`` instead counts, of N pure MoS2 and N pure MoSe2 monolayers, those
whose reading is doubted (the self-check's ``film_contrast``) when named rightly and when named
as the other film. Prints one JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_mo_films.py \\
        > benchmarks/results/stem-mo-films.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_mo_films.py --names 16 \\
        > benchmarks/results/stem-mo-films-names.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
from scipy.spatial import cKDTree

from tmdlearn.data.containers import StemImage
from tmdlearn.stem.composition import species_se_fraction
from tmdlearn.stem.films import FILMS, film_species
from tmdlearn.stem.inference import identify_atoms
from tmdlearn.stem.modelstore import load_model, shipped_model_path
from tmdlearn.synth.stem import simulate_image, split_seed
from tmdlearn.synth.stem_files import simulation_config

#: (film name, planted Se fraction).
CASES = (("mos2", 0.0), ("mos2", 0.2), ("mose2", 1.0), ("mose2", 0.85), ("mos2-mose2", 0.5))


def _scores(sample, atoms) -> dict[str, float]:
    """Matched metal columns called Mo, chalcogen columns given their species, Se fractions."""
    truth = np.array(sample.species)[sample.atoms.species.to_numpy()]
    dist, nearest = cKDTree(atoms[["x_px", "y_px"]]).query(sample.atoms[["x_px", "y_px"]])
    hit = dist < 0.5 / sample.pixel_size_angstrom
    found, planted = atoms.species.to_numpy()[nearest[hit]], truth[hit]
    metal = planted == "Mo"
    return {"matched": float(hit.mean()), "metal": float(np.mean(found[metal] == "Mo")),
            "chalcogen": float(np.mean(found[~metal] == planted[~metal])),
            "se_found": species_se_fraction(atoms.species),
            "se_planted": species_se_fraction(truth)}


def run(net, meta, film: str, se: float, layers: int, n: int) -> dict:
    """Mean scores over ``n`` images of one film, before and after ``film_species``."""
    cfg = replace(simulation_config("mos2", 384, 0.1, "both"), layers=layers,
                  se_fraction=(se, se), twist_deg=(10.0, 30.0))
    before, after = [], []
    for k in range(n):
        sample = simulate_image(cfg, split_seed(31, "test", 100 * layers + k))
        image = StemImage(sample.image, sample.pixel_size_angstrom)
        atoms, _ = identify_atoms(image, net, meta, monolayer=layers == 1)
        before.append(_scores(sample, atoms.replace({"species": {"W": "Mo"}})))
        relabelled, _, _ = film_species(sample.image, atoms, sample.pixel_size_angstrom,
                                     FILMS[film])
        after.append(_scores(sample, relabelled))

    def mean(rows):
        return {k: round(float(np.nanmean([r[k] for r in rows])), 3) for k in rows[0]}

    return {"film": film, "se_planted": se, "layers": layers, "images": n,
            "model_labels": mean(before), "film_species": mean(after)}


def film_names(n: int) -> dict:
    """Of ``n`` simulated pure MoS2 and MoSe2 monolayers (256 px), how many ``film_species``
    doubts named rightly and named as the other film. The planted columns are labelled as the
    WS2 model labels a Mo film (the brighter sublattice "W", the other a chalcogen), so that
    only the species reading is measured."""
    out = {}
    for film, other, se in (("mos2", "mose2", 0.0), ("mose2", "mos2", 1.0)):
        cfg = replace(simulation_config("mos2", 256, 0.1, "both"), layers=1, se_fraction=(se, se))
        doubted = {film: 0, other: 0}
        for k in range(n):
            sample = simulate_image(cfg, seed=500 + k)
            metal = sample.atoms.species.to_numpy() == 0
            labels = np.where(metal, "Se2" if se else "W", "W" if se else "SSe")
            atoms = sample.atoms.assign(species=labels)
            for name in doubted:
                doubted[name] += bool(film_species(sample.image, atoms, sample.pixel_size_angstrom,
                                                   FILMS[name])[2])
        out[film] = {"images": n, "doubted_named_rightly": doubted[film],
                     f"doubted_named_{other}": doubted[other]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--names", type=int, default=0, help="only this many pure films per "
                        "kind named rightly and wrongly (film_names; no network)")
    args = parser.parse_args()
    if args.names:
        print(json.dumps({"names": film_names(args.names)}, indent=1))
        return
    net, meta = load_model(shipped_model_path("ws2"), "ws2", "cpu")
    rows = [run(net, meta, film, se, layers, args.n)
            for layers in (1, 2) for film, se in CASES]
    print(json.dumps({"cases": rows}, indent=1))


if __name__ == "__main__":
    main()
