"""Image strategies: which layers train, the sequential head growth, probability layout."""

import numpy as np
import pytest
import torch

from tmdlearn.classify.strategies import ImageClassifier

pytestmark = pytest.mark.filterwarnings("ignore:.*random initialisation")


def _images(n=18, size=32, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["MoS2", "WS2", "WSe2"])[np.arange(n) % 3]
    x = torch.as_tensor(rng.normal(size=(n, 3, size, size)), dtype=torch.float32)
    x[y == "WS2", :, : size // 2] += 2.0
    return x, y, np.arange(n) // 2


def _fit(strategy, **kw):
    torch.set_num_threads(1)
    x, y, groups = _images()
    params = dict(backbone="resnet18", weights=None, epochs=1, batch_size=6, lr=1e-2,
                  backbone_lr=1e-2, device="cpu", seed=0, val_fraction=0.25)
    params.update(kw)
    model = ImageClassifier(strategy, **params)
    model.fit(x, y, groups)
    return model, x, y, None


def test_finetune_last_trains_only_the_last_block():
    from tmdlearn.models.backbones import build_backbone

    model, x, y, _ = _fit("finetune-last", unfreeze=1)
    fresh = build_backbone("resnet18", None, "cpu", seed=0).state_dict()
    state = model.model_.backbone.state_dict()
    last = "features.4."  # resnet18 blocks: stem, layer1..layer4
    assert all(torch.equal(state[k], fresh[k]) for k in fresh if not k.startswith(last))
    assert any(not torch.equal(state[k], fresh[k]) for k in fresh if k.startswith(last))
    proba = model.predict_proba(x)
    assert proba.shape == (18, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(model.predict(x)) <= set(y)
    assert model.transform(x).shape == (18, 512)


def test_finetune_full_trains_the_stem():
    from tmdlearn.models.backbones import build_backbone

    model, *_ = _fit("finetune-full")
    fresh = build_backbone("resnet18", None, "cpu", seed=0).state_dict()
    state = model.model_.backbone.state_dict()
    assert not torch.equal(state["features.0.0.weight"], fresh["features.0.0.weight"])


def test_sequential_adds_classes_stage_by_stage():
    model, x, y, _ = _fit("sequential", stages=[["MoS2", "WS2"], ["WSe2"]])
    assert len(model.histories_) == 2
    assert model.model_.head.out_features == 3
    assert list(model.order_) == ["MoS2", "WS2", "WSe2"]
    assert model.predict_proba(x).shape == (18, 3)
    with pytest.raises(ValueError, match="each class once"):
        _fit("sequential", stages=[["MoS2"], ["WS2"]])
