"""Folding batch norm into the convolutions leaves a U-Net's outputs unchanged."""

from __future__ import annotations

import numpy as np
import torch

from tmdlearn.models.unet import UNet
from tmdlearn.stem.inference import fast_model, predict_logits


def _trained_like(branches: int, norm: str = "batch") -> UNet:
    """A U-Net whose batch norms hold non-trivial running statistics and affine terms."""
    torch.manual_seed(0)
    model = UNet(1, 2, branches, depth=3, filters=4, norm=norm)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 2.0)
            module.bias.data.normal_(0, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 1, 32, 32) * 3 + 1)
    return model.eval()


def test_folded_unet_gives_the_same_logits():
    for branches in (1, 2):
        model = _trained_like(branches)
        folded = model.fold_batchnorm()
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        x = torch.randn(3, 1, 40, 48)
        with torch.no_grad():
            ref = model(x)
            torch.testing.assert_close(folded(x), ref, atol=1e-5, rtol=1e-5)
        # the original keeps its batch norms and stays trainable
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_fast_model_predicts_like_the_plain_one():
    model = _trained_like(2)
    image = np.random.default_rng(1).poisson(50, (37, 45)).astype(np.float32)
    np.testing.assert_allclose(predict_logits(fast_model(model), image),
                               predict_logits(model, image), atol=1e-4)


def test_folding_without_batch_norm_changes_nothing():
    model = _trained_like(2, norm="group")
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.fold_batchnorm()(x), model(x))
