"""U-Nets for per-pixel segmentation: one decoder, or one encoder with B decoders (Gomb-Net).

``UNet(branches=1)`` is the classic U-Net (Ronneberger et al. 2015); ``branches=B`` shares the
encoder and gives every branch its own decoder and head (the multi-branch U-Net of Gomb-Net),
so that each branch can specialise on one layer. The outputs of all branches are concatenated
along the channel axis: (N, branches * out_channels, H, W) logits.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

NORMS = ("batch", "group", "instance", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalisation and ReLU, then dropout."""

    def __init__(self, c_in: int, c_out: int, norm: str = "batch", dropout: float = 0.0):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=norm == "none"), _norm(norm, c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=norm == "none"), _norm(norm, c_out),
            nn.ReLU(inplace=True),
            nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
        )


class Encoder(nn.Module):
    """Contracting path: ``depth`` blocks with 2x2 max-pooling between them."""

    def __init__(self, in_channels: int, widths: list[int], norm: str, dropout: float):
        super().__init__()
        chans = [in_channels, *widths]
        self.blocks = nn.ModuleList(
            ConvBlock(a, b, norm, dropout) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The features of every level, for the skip connections.

        Parameters
        ----------
        x : (N, C, H, W) tensor
            Images.

        Returns
        -------
        list of tensor
            (N, widths[k], H / 2**k, W / 2**k) for each level k.
        """
        skips = []
        for k, block in enumerate(self.blocks):
            x = block(x if k == 0 else self.pool(x))
            skips.append(x)
        return skips


class Decoder(nn.Module):
    """Expanding path: transposed-conv upsampling, skip concatenation, blocks, 1x1 head."""

    def __init__(self, widths: list[int], out_channels: int, norm: str, dropout: float):
        super().__init__()
        rev = widths[::-1]
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 2, stride=2)
                                 for a, b in zip(rev[:-1], rev[1:], strict=True))
        self.blocks = nn.ModuleList(ConvBlock(2 * b, b, norm, dropout) for b in rev[1:])
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        """Logits from the encoder's features.

        Parameters
        ----------
        skips : list of tensor
            :meth:`Encoder.forward`'s output.

        Returns
        -------
        (N, out_channels, H, W) tensor
        """
        x = skips[-1]
        for up, block, skip in zip(self.ups, self.blocks, skips[-2::-1], strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


class UNet(nn.Module):
    """U-Net with ``branches`` decoders sharing one encoder.

    Parameters
    ----------
    in_channels, out_channels : int
        Input channels; output channels *per branch*.
    branches : int
        Number of decoders (1 = classic U-Net, 2 = Gomb-Net for a bilayer).
    depth : int
        Number of resolution levels (input sides must be divisible by 2**(depth-1)).
    filters : int
        Channels at the first level, doubled at every level.
    dropout : float
        Dropout2d probability after each block.
    norm : str
        "batch", "group", "instance" or "none".
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, branches: int = 1,
                 depth: int = 4, filters: int = 16, dropout: float = 0.0, norm: str = "batch"):
        super().__init__()
        if depth < 1 or branches < 1 or filters < 1:
            raise ValueError("depth, branches and filters must be positive")
        widths = [filters * 2**k for k in range(depth)]
        self.config = {"in_channels": in_channels, "out_channels": out_channels,
                       "branches": branches, "depth": depth, "filters": filters,
                       "dropout": dropout, "norm": norm}
        self.encoder = Encoder(in_channels, widths, norm, dropout)
        self.decoders = nn.ModuleList(
            Decoder(widths, out_channels, norm, dropout) for _ in range(branches))

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2 ** (self.config["depth"] - 1)

    @torch.no_grad()
    def fold_batchnorm(self) -> UNet:
        """An eval-mode copy with every BatchNorm folded into the convolution before it.

        With running mean m, variance v, scale g and shift b, conv(x) * g / sqrt(v + eps) + b
        - m * g / sqrt(v + eps) is one convolution; outputs are equal to rounding, inference is
        faster.

        Returns
        -------
        UNet
            The copy, which cannot be trained further; models without batch norm come back as is.
        """
        folded = copy.deepcopy(self).eval()
        for block in folded.modules():
            if not isinstance(block, ConvBlock):
                continue
            for k in range(len(block) - 1):
                conv, norm = block[k], block[k + 1]
                if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)):
                    continue
                scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                                  padding=conv.padding, bias=True)
                fused.weight.copy_(conv.weight * scale[:, None, None, None])
                bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
                fused.bias.copy_(norm.bias + (bias - norm.running_mean) * scale)
                block[k], block[k + 1] = fused, nn.Identity()
        return folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every branch.

        Parameters
        ----------
        x : (N, in_channels, H, W) tensor
            Images; H and W multiples of :attr:`multiple`.

        Returns
        -------
        (N, branches * out_channels, H, W) tensor
        """
        skips = self.encoder(x)
        return torch.cat([decoder(skips) for decoder in self.decoders], dim=1)
