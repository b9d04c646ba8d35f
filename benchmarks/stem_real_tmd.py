"""Gomb-Net on a real ADF-STEM image: monolayer MoSe2 at 40 kV with reference column positions.

``../shared/data/stem-real-tmd/dataset_mose2_40KeV_converted.npz`` (MIT, motif-learn) holds a
500 x 580 image and 1017 column positions found by its authors' own peak finder (a reference,
not ground truth). The pixel size is taken from the lattice: nearest-neighbour distance 13.89 px
= a / sqrt(3) with a = 3.29 Å gives 0.1367 Å/px. The WS2-family model is a bilayer model, so
its atoms are pooled over both layers and matched one-to-one to the reference within 0.5 Å;
columns within 8 px of the border are not scored. Also reported: how the atoms split between
the layers (a monolayer should fill one) and the model's time. ``--doubles`` adds, for every
real image of the folder (the GPL .dm3 read in place), the columns found
twice: pairs of atoms of one layer closer than half a bond (1.82 Å for the WS2 family), atoms
of the smaller layer within 0.3 bonds of the other layer's, and the self-check's verdict and
main reason. ``--monolayer`` adds, for every real image, the prediction read as one layer
(``stem predict --monolayer``): atoms, the self-check's verdict, score and main reason judged
as one layer, beside the same for the bilayer reading. ``--films`` reads every real image as
the Mo film it is (``stem predict --material mose2 | mos2 --monolayer``): the species counts
and Se fraction from the model's own labels and after :func:`tmdlearn.stem.films.film_species`,
with its note. Prints one JSON object.

    python benchmarks/stem_real_tmd.py [--model PATH ...] [--doubles] [--monolayer] [--films]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from tmdlearn.data.containers import StemImage
from tmdlearn.io.read import read
from tmdlearn.stem.atoms import match_points
from tmdlearn.stem.composition import species_se_fraction
from tmdlearn.stem.films import FILMS as FILM
from tmdlearn.stem.films import film_species
from tmdlearn.stem.inference import identify_atoms, load_model
from tmdlearn.stem.layer_checks import bond_angstrom
from tmdlearn.stem.quality import assess

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stem-real-tmd"
PIXEL_ANGSTROM = 3.29 / np.sqrt(3) / 13.89
BORDER_PX = 8
#: The real images and their pixel sizes (Å/px) from the lattice (README.md of the folder).
IMAGES = {"dataset_mose2_40KeV_converted.npz": PIXEL_ANGSTROM,
          "MoSe2_80K_samll_region.tif": 0.078, "example_Se_implanted_MoS2.dm3": 0.134}
#: The film of each real image (``--material``).
FILMS = {"dataset_mose2_40KeV_converted.npz": "mose2", "MoSe2_80K_samll_region.tif": "mose2",
         "example_Se_implanted_MoS2.dm3": "mos2"}


def score(model_path: str | None, views: int = 1) -> dict:
    """Pooled recall / precision against the reference columns, and the layer split."""
    data = np.load(DATA / "dataset_mose2_40KeV_converted.npz")
    image, reference = data["image"], data["pts"].astype(float)
    model, meta = load_model(model_path, material="ws2")
    began = time.process_time()
    atoms, _ = identify_atoms(StemImage(image, PIXEL_ANGSTROM), model, meta, views=views)
    seconds = time.process_time() - began
    ny, nx = image.shape

    def inside(xy: np.ndarray) -> np.ndarray:
        return ((xy[:, 0] >= BORDER_PX) & (xy[:, 0] < nx - BORDER_PX)
                & (xy[:, 1] >= BORDER_PX) & (xy[:, 1] < ny - BORDER_PX))

    found = atoms[["x_px", "y_px"]].to_numpy(float)
    pairs = match_points(found, reference, 0.5 / PIXEL_ANGSTROM)
    hit_found = np.zeros(len(found), bool)
    hit_found[pairs[:, 0]] = True
    hit_ref = np.zeros(len(reference), bool)
    hit_ref[pairs[:, 1]] = True
    error = np.hypot(*(found[pairs[:, 0]] - reference[pairs[:, 1]]).T) * PIXEL_ANGSTROM
    counts = atoms.layer.value_counts()
    return {"model": model_path or "shipped ws2", "views": views,
            "recall": round(float(hit_ref[inside(reference)].mean()), 4),
            "precision": round(float(hit_found[inside(found)].mean()), 4),
            "rms_offset_angstrom": round(float(np.sqrt(np.mean(error**2))), 4),
            "atoms_per_layer": [int(counts.get(k, 0)) for k in range(2)],
            "reference_columns": len(reference), "cpu_seconds": round(seconds, 2)}


def real_images():
    """(name, pixel size in Å, StemImage) of every real image of :data:`IMAGES` present."""
    for name, pixel in IMAGES.items():
        if (DATA / name).exists():
            yield name, pixel, read(DATA / name, modality="stem", pixel_size_angstrom=pixel)


def doubles(model_path: str | None, views: int = 1) -> list[dict]:
    """Columns found twice on every real image present: same-layer pairs closer than half a
    bond, atoms of the smaller layer on the other layer's (within 0.3 bonds), the verdict."""
    model, meta = load_model(model_path, material="ws2")
    rows = []
    for name, pixel, image in real_images():
        atoms, _ = identify_atoms(image, model, meta, views=views)
        bond = bond_angstrom("ws2") / pixel
        xy = [atoms.loc[atoms.layer == k, ["x_px", "y_px"]].to_numpy(float) for k in (0, 1)]
        close = [len(cKDTree(p).query_pairs(0.5 * bond)) if len(p) else 0 for p in xy]
        small, big = sorted(xy, key=len)
        on_other = int(np.sum(cKDTree(big).query(small)[0] < 0.3 * bond)) if len(small) else 0
        quality = assess(image.intensity, atoms, pixel, "ws2", 2)
        rows.append({"image": name, "atoms_per_layer": [len(p) for p in xy],
                     "same_layer_pairs_below_half_bond": close,
                     "smaller_layer_on_other_layer": on_other, "trust": quality.trust,
                     "main_reason": quality.main_reason})
    return rows


def monolayer_verdicts(model_path: str | None, views: int = 1) -> list[dict]:
    """Every real image present predicted as one layer and as two: atoms per layer and the
    self-check's verdict, score and main reason of each reading."""
    model, meta = load_model(model_path, material="ws2")
    rows = []
    for name, pixel, image in real_images():
        row = {"image": name, "pixel_size_angstrom": pixel}
        for reading, layers in (("monolayer", 1), ("bilayer", 2)):
            atoms, _ = identify_atoms(image, model, meta, views=views,
                                      monolayer=layers == 1)
            quality = assess(image.intensity, atoms, pixel, "ws2", layers)
            row[reading] = {"atoms_per_layer": atoms.groupby("layer").size().tolist(),
                            "trust": quality.trust, "score": round(quality.score, 3),
                            "main_reason": quality.main_reason}
        rows.append(row)
    return rows


def film_readings(model_path: str | None, views: int = 1) -> list[dict]:
    """Every real image present predicted as one layer and read as its Mo film: species
    counts and Se fraction with the model's labels and after ``film_species``, its note."""
    model, meta = load_model(model_path, material="ws2")
    rows = []
    for name, pixel, image in real_images():
        atoms, _ = identify_atoms(image, model, meta, views=views, monolayer=True)
        read_as, notes, _ = film_species(image.intensity, atoms, pixel, FILM[FILMS[name]])
        rows.append({"image": name, "material": FILMS[name], "note": "; ".join(notes),
                     **{f"{label}_{key}": value for label, table in
                        (("model", atoms), ("film", read_as))
                        for key, value in (("species", table.species.value_counts().to_dict()),
                                           ("se_fraction",
                                            round(species_se_fraction(table.species), 3)))}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="*", default=[None], help="model files (default: the "
                        "shipped ws2 model)")
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--doubles", action="store_true",
                        help="also count columns found twice on every real image")
    parser.add_argument("--films", action="store_true",
                        help="also read every real image as its Mo film (--material mose2 | "
                             "mos2 --monolayer)")
    parser.add_argument("--monolayer", action="store_true",
                        help="also predict every real image as one layer (stem predict "
                             "--monolayer) beside the bilayer reading")
    args = parser.parse_args()
    out = {"pixel_size_angstrom": round(PIXEL_ANGSTROM, 5),
           "runs": [score(path, args.views) for path in args.model]}
    if args.doubles:
        out["doubles"] = [{"model": path or "shipped ws2", "images": doubles(path, args.views)}
                          for path in args.model]
    if args.monolayer:
        out["monolayer"] = [{"model": path or "shipped ws2",
                             "images": monolayer_verdicts(path, args.views)}
                            for path in args.model]
    if args.films:
        out["films"] = [{"model": path or "shipped ws2", "images": film_readings(path, args.views)}
                        for path in args.model]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
