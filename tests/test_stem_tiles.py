"""Tiled prediction: tiles cover the image, blend to one, and their branches are matched."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.cli import main
from tmdlearn.data.containers import StemImage
from tmdlearn.io import write_stem
from tmdlearn.stem import inference
from tmdlearn.stem.inference import (
    blend_window,
    identify_atoms,
    load_model,
    predict_tiled,
    predict_views,
    tile_starts,
)
from tmdlearn.synth.stem import StemSimConfig, simulate_image


@pytest.mark.parametrize("length, tile, overlap", [(300, 96, 32), (300, 128, 48), (97, 96, 32),
                                                   (500, 256, 48)])
def test_tiles_cover_and_weights_sum_to_one(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))
    total, covers = np.zeros(length), np.zeros(length)
    for i, start in enumerate(starts):
        before = starts[i - 1] + tile - start if i else 0
        after = start + tile - starts[i + 1] if i + 1 < len(starts) else 0
        total[start:start + tile] += blend_window(tile, before, after)
        covers[start:start + tile] += 1
    np.testing.assert_allclose(total[covers <= 2], 1.0, atol=1e-6)
    assert (total > 0.99).all() and (covers <= 2).mean() > 0.9
    assert tile_starts(90, 96, 32) == [0]


@pytest.mark.parametrize("species", [1, 4])
def test_planted_branch_swaps_come_out_consistent(monkeypatch, species):
    """A fake model returns the true logits of each tile but swaps its two branches on every
    other tile: the assembled logits are the truth everywhere."""
    h, w = 230, 170
    truth = np.random.default_rng(0).normal(size=(2, species, h, w)).astype(np.float32)
    image = np.arange(h * w, dtype=float).reshape(h, w)  # each pixel says where it is
    scaled = inference.normalise(image)
    swapped = []

    def fake(model, tile, layers=2, views=1, normalised=False):
        assert normalised
        y, x = divmod(int(np.argmin(np.abs(scaled - tile[0, 0]))), w)
        logits = truth[..., y:y + tile.shape[0], x:x + tile.shape[1]]
        swap = (y // 10 + x // 10) % 2 == 1 and (y, x) != (0, 0)
        swapped.append(swap)
        return logits[::-1] if swap else logits

    monkeypatch.setattr(inference, "predict_views", fake)
    out = predict_tiled(None, image, tile=96, overlap=32)
    assert sum(swapped) >= 3 and len(swapped) == len(tile_starts(h, 96, 32)) * len(
        tile_starts(w, 96, 32))
    np.testing.assert_allclose(out, truth, atol=1e-5)


def test_shipped_model_tiled_equals_whole():
    model, _ = load_model(device="cpu")
    image = simulate_image(StemSimConfig(size_px=300), seed=1).image
    whole = predict_views(model, image)
    tiled = predict_tiled(model, image, tile=160, overlap=48)
    assert ((tiled > 0) == (whole > 0)).mean() > 0.99
    np.testing.assert_array_equal(predict_tiled(model, image, tile=0), whole)
    np.testing.assert_array_equal(predict_tiled(model, image, tile=300), whole)


def test_identify_atoms_tiled(tmp_path):
    model, meta = load_model(device="cpu")
    s = simulate_image(StemSimConfig(size_px=288), seed=2)
    image = StemImage(s.image, s.pixel_size_angstrom)
    whole, _ = identify_atoms(image, model, meta)
    tiled, _ = identify_atoms(image, model, meta, tile=144)
    counts = [(whole.layer == k).sum() for k in range(2)]
    tiled_counts = [(tiled.layer == k).sum() for k in range(2)]
    assert np.allclose(sorted(tiled_counts), sorted(counts), rtol=0.03)
    write_stem(tmp_path / "image.tif", image)
    for tile, code in (("40", 2), ("144", 0)):
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "predict", str(tmp_path / "image.tif"), "--out", str(tmp_path / tile),
                  "--tile", tile, "--device", "cpu"])
        assert (exit_.value.code or 0) == code
    assert (tmp_path / "144" / "atoms.csv").is_file()
