"""The WSe2 study's 1D CNN: peak-profile channels (C, L) -> a few regression targets.

Ten convolution blocks (Conv1d -> LeakyReLU(0.01) -> instance-batch normalisation), average
pooling (kernel 2) after every ``pool_every`` blocks, adaptive average pooling to length 4, then
three linear layers (ReLU and dropout 0.5 after the first two). ``residual=True`` wraps every
``pool_every`` blocks in a skip connection (a 1 x 1 convolution where the width changes).

Instance-batch normalisation follows IBN-Net (Pan et al., ECCV 2018, "IBN-a"): the first
``ibn_ratio`` of the channels are normalised per sample by :class:`torch.nn.InstanceNorm1d`
(affine), the rest over the batch by :class:`torch.nn.BatchNorm1d`, and the halves are
concatenated. Instance statistics remove per-sample contrast, batch statistics keep absolute
amplitude (the peak heights the PL intensity depends on), so the block sees both.
"""

from __future__ import annotations

import torch
from torch import nn


class InstanceBatchNorm1d(nn.Module):
    """IBN-a normalisation: InstanceNorm on the first ``round(ratio · C)`` channels,
    BatchNorm on the others.

    Parameters
    ----------
    channels : int
        Channels C.
    ratio : float
        Share of the channels under instance normalisation.
    """

    def __init__(self, channels: int, ratio: float = 0.5):
        super().__init__()
        self.n_instance = int(round(channels * ratio))
        self.instance = (nn.InstanceNorm1d(self.n_instance, affine=True)
                         if self.n_instance else None)
        n_batch = channels - self.n_instance
        self.batch = nn.BatchNorm1d(n_batch) if n_batch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise a batch: instance norm on the first ``n_instance`` channels, batch norm
        on the rest.

        Parameters
        ----------
        x : (N, C, L) tensor
            Feature maps of length L.

        Returns
        -------
        (N, C, L) tensor
            The channels normalised in their original order.
        """
        parts = []
        if self.instance is not None:
            parts.append(self.instance(x[:, :self.n_instance]))
        if self.batch is not None:
            parts.append(self.batch(x[:, self.n_instance:]))
        return torch.cat(parts, dim=1)


class ConvBlock(nn.Module):
    """Conv1d (same length) -> LeakyReLU(0.01) -> instance-batch normalisation.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size : int
        Convolution kernel length (odd keeps the length).
    ibn_ratio : float
        Share of the channels under instance normalisation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 ibn_ratio: float = 0.5):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.act = nn.LeakyReLU(0.01)
        self.norm = InstanceBatchNorm1d(out_channels, ibn_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve, activate and normalise a batch.

        Parameters
        ----------
        x : (N, in_channels, L) tensor
            Spectra (first block) or the previous block's feature maps.

        Returns
        -------
        (N, out_channels, L) tensor
            Same length L for an odd kernel.
        """
        return self.norm(self.act(self.conv(x)))


class _Stage(nn.Module):
    """Consecutive conv blocks, optionally with a skip connection around them."""

    def __init__(self, blocks: list[ConvBlock], in_channels: int, out_channels: int,
                 residual: bool):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.skip = None
        if residual:
            self.skip = (nn.Identity() if in_channels == out_channels
                         else nn.Conv1d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(x)
        return out + self.skip(x) if self.skip is not None else out


class PeakCNN1d(nn.Module):
    """The study's CNN regressor.

    Parameters
    ----------
    in_channels : int
        Input channels (8: one per Raman peak).
    out_features : int
        Targets (3: PL position, FWHM, height), best standardised.
    n_blocks : int
        Convolution blocks (10 in the study).
    pool_every : int
        Average pooling (kernel 2) after every ``pool_every`` blocks (2 or 3), not after the
        last block; the input length should be at least ``2 ** n_pools`` · 2.
    width : int
        Channels of the first stage; each later stage doubles them, up to ``4 · width``.
    hidden : tuple of two ints
        Widths of the first two linear layers.
    dropout : float
        Dropout after the first two linear layers (0.5 in the study).
    residual : bool
        Skip connections around each stage (the residual-block variant).
    kernel_size : int
        Convolution kernel length (odd keeps the length).
    ibn_ratio : float
        Share of the channels under instance normalisation (the rest: batch normalisation).
    """

    def __init__(self, in_channels: int = 8, out_features: int = 3, *, n_blocks: int = 10,
                 pool_every: int = 2, width: int = 32, hidden: tuple[int, int] = (128, 64),
                 dropout: float = 0.5, residual: bool = False, kernel_size: int = 3,
                 ibn_ratio: float = 0.5):
        super().__init__()
        if n_blocks < 1 or pool_every < 1:
            raise ValueError("n_blocks and pool_every must be at least 1")
        self.in_channels, self.out_features = in_channels, out_features
        layers: list[nn.Module] = []
        channels, start, stage = in_channels, 0, 0
        while start < n_blocks:
            stop = min(start + pool_every, n_blocks)
            out = min(width * 2 ** stage, 4 * width)
            blocks = [ConvBlock(channels if i == start else out, out, kernel_size, ibn_ratio)
                      for i in range(start, stop)]
            layers.append(_Stage(blocks, channels, out, residual))
            if stop < n_blocks:
                layers.append(nn.AvgPool1d(2))
            channels, start, stage = out, stop, stage + 1
        layers.append(nn.AdaptiveAvgPool1d(4))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 4, hidden[0]), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden[0], hidden[1]), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden[1], out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Regression outputs of a batch of peak-profile channels.

        Parameters
        ----------
        x : (N, C, L) tensor
            Peak-profile channels.

        Returns
        -------
        (N, out_features) tensor
        """
        return self.head(self.features(x))
