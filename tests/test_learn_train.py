"""The shared torch loop learns a planted rule, stops early, weights and oversamples classes."""

import numpy as np
import pytest
import torch

from tmdlearn.errors import InputError
from tmdlearn.learn import (
    TrainConfig,
    balanced_class_weights,
    dihedral,
    oversampled_indices,
    predict,
    torch_threads,
    train_model,
)
from tmdlearn.models.mlp import MLP


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], float)
    return centres[y] + rng.normal(0, 0.5, (n, 4)), y


def test_learns_planted_classes_and_is_reproducible():
    torch.set_num_threads(1)
    x, y = _blobs(300, 0)
    xv, yv = _blobs(100, 1)
    config = TrainConfig(epochs=30, patience=5, seed=3, device="cpu")
    torch.manual_seed(0)  # the initial weights come from torch's global generator
    model = MLP(4, 3, hidden=(16,), dropout=0.1)
    history = train_model(model, x, y, config=config, x_val=xv, y_val=yv)
    assert (predict(model, xv).argmax(1) == yv).mean() > 0.95
    assert 0 <= history.best_epoch < len(history.train_loss) <= 30
    torch.manual_seed(0)
    again = MLP(4, 3, hidden=(16,), dropout=0.1)
    train_model(again, x, y, config=config, x_val=xv, y_val=yv)
    assert np.allclose(predict(model, xv), predict(again, xv))


def test_early_stopping_stops_on_noise():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 20)), rng.integers(0, 2, 80)
    xv, yv = rng.normal(size=(40, 20)), rng.integers(0, 2, 40)
    model = MLP(20, 2, hidden=(64,), dropout=0.0)
    history = train_model(model, x, y, x_val=xv, y_val=yv,
                          config=TrainConfig(epochs=200, patience=3, lr=1e-2, device="cpu"))
    assert len(history.train_loss) < 200
    assert history.best_epoch == int(np.argmin(history.val_loss))


def test_class_weights_and_oversampling():
    y = np.array([0] * 8 + [1] * 2)
    assert balanced_class_weights(y, 3).tolist() == [10 / 24, 10 / 6, 0.0]
    index = oversampled_indices(y, np.random.default_rng(0))
    assert np.bincount(y[index]).tolist() == [8, 8]
    assert set(index[y[index] == 0]) == set(range(8))


def test_dihedral_keeps_content_and_varies():
    batch = torch.arange(64 * 16, dtype=torch.float32).reshape(64, 1, 4, 4)
    out = dihedral(batch, torch.Generator().manual_seed(0))
    for a, b in zip(batch, out, strict=True):
        symmetries = [torch.rot90(a, k, (-2, -1)) for k in range(4)]
        symmetries += [torch.flip(s, (-1,)) for s in symmetries]
        assert any(torch.equal(s, b) for s in symmetries)
    assert len({tuple(o.flatten()[:4].tolist()) for o in out}) > 4


def test_threads_are_set_for_the_run_and_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    for bad in (0, "two", True):
        with pytest.raises(InputError, match="threads"):
            with torch_threads(bad):
                pass
