"""The study's 1D CNN: shapes, the ten blocks, IBN, residual variant, and that it learns."""

import numpy as np
import pytest
import torch

from tmdlearn.explain.render import PeakRenderer
from tmdlearn.models.cnn1d import InstanceBatchNorm1d, PeakCNN1d


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("pool_every", [2, 3])
def test_shapes_and_block_count(residual, pool_every):
    torch.manual_seed(0)
    model = PeakCNN1d(8, 3, pool_every=pool_every, width=8, residual=residual)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] > 1]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool1d)]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(convs) == 10 and len(linears) == 3
    assert len(pools) == (4 if pool_every == 2 else 3)
    assert model(torch.randn(5, 8, 64)).shape == (5, 3)


def test_instance_batch_norm_splits_channels():
    norm = InstanceBatchNorm1d(6, ratio=0.5).train()
    x = torch.randn(4, 6, 10) * 3 + 5
    y = norm(x)
    # instance half: every sample and channel standardised on its own
    assert torch.allclose(y[:, :3].mean(dim=2), torch.zeros(4, 3), atol=1e-5)
    # batch half: per channel over batch and length, so per-sample means survive
    assert torch.allclose(y[:, 3:].mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    assert y[:, 3:].mean(dim=2).abs().max() > 0.05


def test_cnn_learns_a_peak_height_relation():
    """Planted: target = height of peak 2 (rendered profile); the CNN must fit it."""
    from tmdlearn.learn.train import TrainConfig, predict, train_model

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 400
    centers = np.array([220.0, 250.0, 300.0])
    parts = np.stack([centers + rng.normal(0, 1, (n, 3)), rng.uniform(4, 8, (n, 3)),
                      rng.uniform(50, 150, (n, 3))], axis=2)
    vectors = parts.reshape(n, 9)
    target = (parts[:, 1, 2] - 100) / 30
    renderer = PeakRenderer(length=32).fit(vectors)
    x = renderer.transform(vectors)
    model = PeakCNN1d(3, 1, width=8, hidden=(32, 16), dropout=0.1)
    train_model(model, x[:300], target[:300, None], loss="mse", x_val=x[300:],
                y_val=target[300:, None],
                config=TrainConfig(epochs=40, batch_size=64, lr=3e-3, weight_decay=0.0,
                                     patience=15))
    pred = predict(model, x[300:])[:, 0]
    r2 = 1 - np.sum((pred - target[300:]) ** 2) / np.sum((target[300:] - target[300:].mean()) ** 2)
    assert r2 > 0.8
