"""Monolayers read as two layers: the share of a TMD model's atoms in the smaller of its two
layers on monolayer images (0 for a perfect reading), the symptom that kept session 18's tuned
WS2 models from shipping (docs/stem.md, "Training beside the simulator on abTEM images").

Per model (``--models`` paths, default the shipped WS2 model):

- ``abtem``: the first ``--n`` abTEM MoS2(1-x)Se2x monolayers of
  ``benchmarks/data/abtem-train-mos2-1L``, each recorded at dose 150
  (:func:`tmdlearn.stem.abtem_set.record`, generator ``[7, k]``) at the model's pixel and at
  native pixels 0.85-0.95 × it (resampled by ``identify_atoms``, as the real images below are),
  there also with the detector's response exponent ``gamma`` set to 0.5 (a compressed
  contrast; the simulator draws 0.8-1.15); the mean share over the images.
- ``real_mose2_40kv``: the real MoSe2 40 kV monolayer of ``../shared/data/stem-real-tmd``
  (motif-learn, MIT; at its lattice's 0.1368 Å/px) whole, and the mean share over its squares
  of 88 and 176 px (12 and 24 Å, the size of the training crops), and the whole image under
  each change of :func:`changed`: what in it makes a model read two layers.
- ``real_mos2_dm3``: the real Se-implanted MoS2 monolayer of the same folder (GPL, read in
  place with the ``gpl`` extra; 0.134 Å/px) whole and with its floor removed
  (:func:`floor_free`).

The real images are left out without ``../shared``.

Prints one JSON object.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stem_second_layer.py \\
        [--models src/tmdlearn/stem/weights/ws2 RUN/final]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from stem_real_tmd import DATA, IMAGES
from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.read import read
from tmdlearn.stem.abtem_set import load_set, record
from tmdlearn.stem.inference import identify_atoms, load_model, shipped_model_path

ABTEM = Path(__file__).parent / "data" / "abtem-train-mos2-1L"
REAL, DM3 = DATA / "dataset_mose2_40KeV_converted.npz", DATA / "example_Se_implanted_MoS2.dm3"
REAL_PIXEL = IMAGES[REAL.name]


def floor_free(image: np.ndarray, pixel: float) -> np.ndarray:
    """``image`` less its local floor (3rd percentile over 6 Å of the image smoothed over one
    pixel), negatives clipped; ``pixel`` in Å."""
    from scipy import ndimage

    floor = ndimage.percentile_filter(ndimage.gaussian_filter(image, 1.0), 3,
                                      size=int(round(6.0 / pixel)))
    return np.clip(image - floor, 0, None)


def sublattices(columns: np.ndarray) -> np.ndarray:
    """Which honeycomb sublattice (False, True) each column (x, y px) is on: the two-colouring
    of the graph joining columns closer than 1.25 nearest-neighbour spacings, by breadth-first
    order (exact on a honeycomb, whatever the scan distortion)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    tree = cKDTree(columns)
    spacing = np.median(tree.query(columns, 2)[0][:, 1])
    pairs = tree.query_pairs(1.25 * spacing, output_type="ndarray")
    n = len(columns)
    graph = coo_matrix((np.ones(len(pairs)), tuple(pairs.T)), shape=(n, n)).tocsr()
    colour = np.full(n, -1)
    for start in range(n):
        if colour[start] < 0:
            order, parent = breadth_first_order(graph, start, directed=False)
            colour[start] = 0
            for node in order[1:]:
                colour[node] = 1 - colour[parent[node]]
    return colour == 1


def brighter_sublattice(image: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Pixels of the real MoSe2 image nearer to a column of its brighter sublattice (Se2 by Z
    contrast) than to any other column: the authors' ``columns`` (x, y px) split by
    :func:`sublattices`, the brighter one by its mean value in ``image`` at the columns (no
    model involved)."""
    from scipy import ndimage

    second = sublattices(columns)
    peak = ndimage.map_coordinates(image, [columns[:, 1], columns[:, 0]], order=1)
    brighter = second if peak[second].mean() > peak[~second].mean() else ~second
    rows, cols = np.indices(image.shape)
    nearest = cKDTree(columns).query(np.c_[cols.ravel(), rows.ravel()])[1]
    return brighter[nearest].reshape(image.shape)


def changed(image: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
    """The real MoSe2 image under each change, by name: its floor removed (:func:`floor_free`);
    that floor-free image's contrast raised to a power (compressed at 0.75, expanded at 1.5),
    or its brighter sublattice (:func:`brighter_sublattice` of the authors' ``columns``) alone
    scaled by 0.86 (Se2/Mo from about 1.35 to 1.16) or 1.16; or the image blurred by a
    Gaussian of σ 0.25 Å."""
    from scipy import ndimage

    free = floor_free(image, REAL_PIXEL)
    brighter = brighter_sublattice(free, columns)
    return {"floor_removed": free, "floor_removed_power_0.75": free ** 0.75,
            "floor_removed_power_1.5": free ** 1.5,
            **{f"floor_removed_brighter_x{f}": free * np.where(brighter, f, 1.0)
               for f in (0.86, 1.16)},
            "blurred_0.25A": ndimage.gaussian_filter(image, 0.25 / REAL_PIXEL)}


#: How the abTEM monolayers are recorded, by name: the native pixel over the model's, and the
#: detector's response exponent set in place of the drawn one (None: as drawn).
RECORDINGS = (("model_pixel", (1.0, 1.0), None), ("native_0.85-0.95", (0.85, 0.95), None),
              ("native_0.85-0.95_gamma_0.5", (0.85, 0.95), 0.5))


def _with_gamma(item: dict, gamma: float | None) -> dict:
    """The abTEM image ``item`` with its drawn microscope's detector exponent set to ``gamma``
    (None: as drawn)."""
    if gamma is None:
        return item
    microscope = json.loads(str(item["microscope"])) | {"gamma": gamma}
    return item | {"microscope": json.dumps(microscope)}


def second_layer_share(image: StemImage, model, meta: dict) -> float:
    """Share of the found atoms in the smaller of the two layers."""
    atoms, _ = identify_atoms(image, model, meta)
    counts = atoms.layer.value_counts()
    return float(counts.min() / counts.sum()) if len(counts) > 1 else 0.0


def squares(image: np.ndarray, size: int) -> list[np.ndarray]:
    """The image's whole size × size squares, row by row from the top left."""
    ny, nx = image.shape
    return [image[i:i + size, j:j + size] for i in range(0, ny - size + 1, size)
            for j in range(0, nx - size + 1, size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[str(shipped_model_path("ws2"))])
    parser.add_argument("--n", type=int, default=40, help="abTEM monolayers")
    args = parser.parse_args()
    items = load_set(ABTEM)[:args.n]
    real, changes = None, {}
    if REAL.is_file():
        with np.load(REAL) as data:
            real = data["image"].astype(float)
            changes = changed(real, data["pts"].astype(float))
    out = {"abtem_images": len(items), "models": {}}
    dm3 = None
    if DM3.is_file():
        try:
            dm3 = read(DM3, modality="stem", pixel_size_angstrom=IMAGES[DM3.name]).intensity
        except InputError as error:  # without the gpl extra
            out["real_mos2_dm3"] = f"left out: {error}"
    dm3_readings = {} if dm3 is None else {"whole": dm3,
                                           "floor_removed": floor_free(dm3, IMAGES[DM3.name])}
    for path in args.models:
        model, meta = load_model(path)
        row = {"abtem": {}}
        for name, ratio, gamma in RECORDINGS:
            shares = [second_layer_share(record(_with_gamma(item, gamma), 150.0,
                                                np.random.default_rng([7, k]),
                                                native_ratio=ratio)[0], model, meta)
                      for k, item in enumerate(items)]
            row["abtem"][name] = round(float(np.mean(shares)), 4)
        if real is not None:
            row["real_mose2_40kv"] = {"whole": round(second_layer_share(
                StemImage(real, REAL_PIXEL), model, meta), 4)}
            for size in (88, 176):
                shares = [second_layer_share(StemImage(part, REAL_PIXEL), model, meta)
                          for part in squares(real, size)]
                row["real_mose2_40kv"][f"squares_{size}px"] = round(float(np.mean(shares)), 4)
            for name, image in changes.items():
                row["real_mose2_40kv"][name] = round(second_layer_share(
                    StemImage(image, REAL_PIXEL), model, meta), 4)
        if dm3_readings:
            row["real_mos2_dm3"] = {name: round(second_layer_share(
                StemImage(image, IMAGES[DM3.name]), model, meta), 4)
                for name, image in dm3_readings.items()}
        out["models"][path] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
