"""Gomb loss: permutation invariance, zero at a perfect prediction, penalty for duplicates."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from tmdlearn.models.unet import UNet
from tmdlearn.stem.losses import DiceLoss, GombLoss, weighted_dice

BIG = 30.0  # logit: sigmoid(30) = 1 - 1e-13


def _targets(layers: int, species: int = 1, size: int = 24, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = rng.random((2, layers, species, size, size)) < 0.2
    return torch.tensor(t.reshape(2, layers * species, size, size), dtype=torch.float32)


def _logits(masks: torch.Tensor) -> torch.Tensor:
    return (2 * masks - 1) * BIG


def test_zero_at_perfect_prediction_in_every_assignment():
    for layers in (2, 3):
        t = _targets(layers, species=2)
        loss = GombLoss(layers)
        for perm in itertools.permutations(range(layers)):
            shuffled = t.reshape(2, layers, 2, 24, 24)[:, list(perm)].reshape(t.shape)
            assert loss(_logits(shuffled), t).item() < 1e-5


def test_permutation_invariant():
    torch.manual_seed(0)
    t = _targets(3).double()
    logits = torch.randn_like(t)
    loss = GombLoss(3)
    ref = loss(logits, t)
    for perm in itertools.permutations(range(3)):
        assert torch.allclose(loss(logits[:, list(perm)], t), ref, rtol=1e-9)


def test_penalty_when_branches_duplicate_a_layer():
    t = _targets(2)
    duplicate = torch.stack([t[:, 0], t[:, 0]], dim=1)
    loss = GombLoss(2)
    assert loss(_logits(duplicate), t) > 0.2
    # the similarity factor sigmoid(.) is 1/2 when branches differ as the layers do, more for
    # duplicates
    plain = GombLoss(2, similarity=False)
    assert loss(_logits(duplicate), t) / plain(_logits(duplicate), t) > 0.6
    noisy = torch.where(torch.rand_like(t) < 0.05, 1 - t, t)
    assert abs(loss(_logits(noisy), t) / plain(_logits(noisy), t) - 0.5) < 0.01


def test_weighted_dice_penalises_false_positives():
    t = torch.zeros(1, 10, 10)
    t[0, :5] = 1
    over = torch.ones(1, 10, 10)  # 50 false positives
    under = torch.zeros(1, 10, 10)
    under[0, :1] = 1  # 40 false negatives
    assert weighted_dice(over, t, alpha=2) > weighted_dice(over, t, alpha=1)
    assert weighted_dice(t, t, alpha=2) < 1e-6
    assert weighted_dice(under, t, alpha=2) == weighted_dice(under, t, alpha=1)


def test_per_species_dice_weighs_a_rare_species_like_a_common_one():
    t = torch.zeros(2, 20, 20)
    t[0, :10] = 1  # common species: 200 px
    t[1, 0, :4] = 1  # rare species: 4 px
    missed = t.clone()
    missed[1] = 0  # the rare species left out
    pooled = weighted_dice(missed, t)
    averaged = weighted_dice(missed, t, per_species=True)
    assert abs(pooled - 4 / 404) < 1e-4 and abs(averaged - (pooled + 0.5) / 2) < 1e-4
    flood = t.clone()
    flood[1] = 1  # an absent species' channel all on: the pooled half still penalises it
    t_absent = t.clone()
    t_absent[1] = 0
    assert weighted_dice(flood, t_absent, per_species=True) > weighted_dice(
        t_absent, t_absent, per_species=True) + 0.4
    one = t[:1]  # a single species: the same either way
    assert torch.isclose(weighted_dice(one * 0.5, one), weighted_dice(one * 0.5, one,
                                                                      per_species=True))
    logits = torch.randn(3, 2, 8, 8)
    targets = (torch.rand(3, 2, 8, 8) > 0.5).float()
    assert torch.isclose(GombLoss(2)(logits, targets), GombLoss(2, per_species=True)(logits,
                                                                                     targets))


def test_gradients_finite_through_unet():
    torch.manual_seed(0)
    model = UNet(1, out_channels=1, branches=2, depth=2, filters=4)
    x = torch.randn(2, 1, 24, 24)
    t = _targets(2)
    for loss in (GombLoss(2), DiceLoss()):
        model.zero_grad()
        value = loss(model(x), t)
        value.backward()
        grads = torch.cat([p.grad.ravel() for p in model.parameters()])
        assert torch.isfinite(value) and torch.isfinite(grads).all() and grads.abs().sum() > 0
    # also at a perfect prediction (the harmonic mean's singular point)
    logits = _logits(t).requires_grad_()
    GombLoss(2)(logits, t).backward()
    assert torch.isfinite(logits.grad).all()


def test_unet_shapes_and_branches():
    x = torch.randn(1, 1, 32, 32)
    assert UNet(branches=1, out_channels=2, depth=3, filters=4)(x).shape == (1, 2, 32, 32)
    gomb = UNet(branches=3, out_channels=2, depth=3, filters=4, norm="group", dropout=0.1)
    assert gomb(x).shape == (1, 6, 32, 32)
    assert len(gomb.decoders) == 3


def test_an_empty_layer_teaches_its_branch_to_stay_empty():
    """A monolayer target: the loss falls as the second branch's false positives shrink, to 0
    when it is empty, and the gradient reaches that branch; with both layers present the loss
    is the plain Gomb loss."""
    t = _targets(2)
    t[:, 1] = 0  # layer 1 absent in both images
    loss = GombLoss(2)
    values = []
    for fraction in (0.3, 0.1, 0.01, 0.0):
        wrong = (torch.rand(t[:, 1:].shape, generator=torch.Generator().manual_seed(0))
                 < fraction).float()
        values.append(loss(_logits(torch.cat([t[:, :1], wrong], 1)), t).item())
    assert values == sorted(values, reverse=True) and values[0] > 0.1 and values[-1] < 1e-5
    logits = torch.cat([_logits(t[:, :1]), torch.zeros_like(t[:, 1:])], 1).requires_grad_()
    loss(logits, t).backward()
    assert logits.grad[:, 1].abs().sum() > 1e-3
    both = _targets(2, seed=3)
    guess = torch.randn(both.shape, generator=torch.Generator().manual_seed(1))
    assert loss._empty_layers(torch.ones(2, 2, 2), torch.sigmoid(guess).reshape(2, 2, 1, 24, 24),
                              both.reshape(2, 2, 1, 24, 24)).eq(1).all()
