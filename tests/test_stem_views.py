"""Test-time augmentation: mirror views are undone and their branches matched before averaging."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.errors import InputError
from tmdlearn.stem import inference
from tmdlearn.stem.inference import VIEWS, load_model, predict_logits, predict_views
from tmdlearn.synth.stem import StemSimConfig, simulate_image


def _mirror(array, rows, cols):
    return array[..., ::-1 if rows else 1, ::-1 if cols else 1]


@pytest.fixture
def planted(monkeypatch):
    """Logits T (2 layers, 1 species) of an equivariant model that puts the layers in swapped
    branches for the left-right and double mirrors."""
    truth = np.random.default_rng(0).normal(size=(2, 1, 24, 20))

    def fake(model, image, layers=2, batch=None, normalised=False):
        return np.stack([_mirror(truth, *VIEWS[i])[::-1 if i % 2 else 1]
                         for i in range(len(batch))])

    monkeypatch.setattr(inference, "predict_logits", fake)
    return truth


@pytest.mark.parametrize("views", [2, 4])
def test_views_are_unmirrored_and_their_branches_matched(planted, views):
    np.testing.assert_allclose(predict_views(None, np.zeros((24, 20)), views=views), planted)


def test_one_view_is_the_plain_prediction_and_four_views_are_mirror_equivariant():
    model, _ = load_model(device="cpu")
    image = simulate_image(StemSimConfig(size_px=64), seed=3).image
    np.testing.assert_array_equal(predict_views(model, image), predict_logits(model, image))
    a = predict_views(model, image, views=4)
    b = _mirror(predict_views(model, image[:, ::-1], views=4), False, True)
    # equal up to which branch holds which layer
    assert min(np.abs(a - b).max(), np.abs(a - b[::-1]).max()) < 1e-4


def test_other_view_counts_are_refused():
    with pytest.raises(InputError, match="views must be 1, 2 or 4"):
        predict_views(None, np.zeros((8, 8)), views=3)
