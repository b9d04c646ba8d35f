"""AFM embeddings: image preparation and the feature cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmdlearn.afm.embed import embed, prepare_images
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError
from tmdlearn.models.backbones import IMAGENET_MEAN, IMAGENET_STD


def test_prepare_images_clips_scales_normalises_and_resizes():
    h = np.zeros((2, 64, 64))
    h[0, :, :32] = -5.0  # below the window: clipped to -1.5 -> 0
    h[0, :, 32:] = 0.75  # 0.75 nm in a ±1.5 nm window -> 0.75
    h[1] = np.nan  # missing -> centre -> 0.5
    x = prepare_images(h, size=32, clip_nm=1.5)
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    np.testing.assert_allclose(x[0, :, 5, 2].numpy(), (0.0 - mean) / std, atol=1e-5)
    np.testing.assert_allclose(x[0, :, 5, 29].numpy(), (0.75 - mean) / std, atol=1e-5)
    np.testing.assert_allclose(x[1, :, 5, 5].numpy(), (0.5 - mean) / std, atol=1e-5)


def test_prepare_images_accepts_heightmaps_of_different_sizes():
    maps = [HeightMap(np.ones((50, 70)), 2.0), HeightMap(np.full((224, 224), -1.5), 1.0)]
    x = prepare_images(maps)
    assert x.shape == (2, 3, 224, 224)
    np.testing.assert_allclose(x[1, 0].numpy(), -IMAGENET_MEAN[0] / IMAGENET_STD[0], atol=1e-5)
    with pytest.raises(InputError):
        prepare_images(np.zeros((2, 3, 4, 5)))


def test_embed_is_deterministic_and_cached(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.5, size=(3, 64, 64))
    first = embed(images, batch_size=2, device="cpu", cache_dir=tmp_path)
    assert first.shape == (3, 1280) and np.isfinite(first).all()
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("efficientnet-lite0")
    assert len(list(folder.glob("*.npy"))) == 3
    # Different images give different features.
    assert not np.allclose(first[0], first[1])

    # Second call: all three come from the cache, only the new image is computed.
    import tmdlearn.afm.embed as module

    computed = []
    original = module._features

    def spy(net, values, *args):
        computed.append(len(values))
        return original(net, values, *args)

    monkeypatch.setattr(module, "_features", spy)
    more = np.concatenate([images, rng.normal(0, 0.5, size=(1, 64, 64))])
    second = embed(more, device="cpu", cache_dir=tmp_path)
    assert computed == [1]
    np.testing.assert_allclose(second[:3], first, rtol=1e-6)
    np.testing.assert_allclose(second[:3], embed(images, device="cpu"), rtol=1e-4, atol=1e-5)
    # Changing the preparation changes the key.
    embed(images[:1], device="cpu", cache_dir=tmp_path, clip_nm=3.0)
    assert computed == [1, 3, 1]  # the uncached call above computed 3
