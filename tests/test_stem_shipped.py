"""The graphene model shipped in the package finds atoms layer by layer out of the box."""

from __future__ import annotations

import itertools

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.stem.atoms import atom_scores
from tmdlearn.stem.inference import identify_atoms, load_model, shipped_model_path
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

#: Floors well below what the shipped model reaches on these images (about 0.9), far above what
#: an untrained or layer-mixing model gets (about 0.5 or less).
RECALL = PRECISION = 0.75


def test_shipped_model_is_small_and_loads():
    path = shipped_model_path("graphene")
    assert path.is_file() and path.stat().st_size < 20e6
    model, meta = load_model(device="cpu")
    assert meta["species"] == ["C"] and meta["layers"] == 2 and len(model.decoders) == 2


def test_shipped_model_separates_layers_of_a_simulated_bilayer():
    model, meta = load_model(device="cpu")
    cfg = StemSimConfig(size_px=128, dose=(1000.0, 1000.0), contamination=(0.0, 0.1))
    recalls, precisions = [], []
    for k in range(2):
        s = simulate_image(cfg, split_seed(7, "test", k))
        atoms, masks = identify_atoms(StemImage(s.image, s.pixel_size_angstrom), model, meta)
        atoms = atoms.assign(species=0)
        radius = 0.5 / s.pixel_size_angstrom
        best = max((atom_scores(atoms, s.atoms, radius, assignment=perm, border_px=4,
                                shape=s.image.shape)
                    for perm in itertools.permutations(range(2))),
                   key=lambda t: t.recall.sum())
        recalls.append(best.recall.mean())
        precisions.append(best.precision.mean())
        assert masks.shape == (2, 1, 128, 128)
    assert np.mean(recalls) > RECALL and np.mean(precisions) > PRECISION
