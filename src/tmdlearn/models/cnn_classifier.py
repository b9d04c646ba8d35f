"""A CNN classifier: a feature backbone, dropout and a linear layer over classes."""

from __future__ import annotations

import torch
from torch import nn


class CNNClassifier(nn.Module):
    """``backbone`` (B, 3, H, W) -> (B, feature_dim), then dropout and a linear head.

    Blocks listed in ``frozen`` keep ``requires_grad=False`` and stay in eval mode while the
    rest trains (their batch-norm statistics are not updated).

    Parameters
    ----------
    backbone : Backbone
        Feature extractor with ``feature_dim`` and ``blocks()``
        (:func:`tmdlearn.models.backbones.build_backbone`).
    n_classes : int
        Number of classes.
    dropout : float
        Dropout before the head.
    """

    def __init__(self, backbone: nn.Module, n_classes: int, dropout: float = 0.2):
        super().__init__()
        self.backbone = backbone
        self.n_classes = n_classes
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.feature_dim, n_classes)
        self.frozen: list[nn.Module] = []

    def freeze_all_but_last(self, k: int | None) -> None:
        """Train only the last ``k`` blocks of the backbone and the head.

        Parameters
        ----------
        k : int or None
            Number of trained backbone blocks (None: all; 0: none).
        """
        blocks = self.backbone.blocks()
        keep = len(blocks) if k is None else max(0, min(k, len(blocks)))
        self.frozen = blocks[:len(blocks) - keep]
        for block in blocks:
            block.requires_grad_(True)
        for block in self.frozen:
            block.requires_grad_(False)

    def grow_head(self, n_classes: int) -> None:
        """Add outputs for new classes, keeping the weights of the existing ones.

        Parameters
        ----------
        n_classes : int
            The new number of classes (at least the current one).
        """
        old = self.head
        self.head = nn.Linear(old.in_features, n_classes).to(old.weight.device)
        with torch.no_grad():
            self.head.weight[:old.out_features] = old.weight
            self.head.bias[:old.out_features] = old.bias
        self.n_classes = n_classes

    def train(self, mode: bool = True):
        """Set training mode, keeping the frozen blocks in eval mode.

        Parameters
        ----------
        mode : bool
            Training (True) or evaluation (False) mode.

        Returns
        -------
        CNNClassifier
            ``self``.
        """
        super().train(mode)
        for block in self.frozen:
            block.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone features entering the head (no dropout), for latent analysis.

        Parameters
        ----------
        x : (B, 3, H, W) tensor
            Prepared images.

        Returns
        -------
        (B, feature_dim) tensor
            Pooled backbone features.
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of a batch of images: backbone, dropout, linear head.

        Parameters
        ----------
        x : (B, 3, H, W) tensor
            Prepared images (normalised as the backbone expects).

        Returns
        -------
        (B, n_classes) tensor
            Unnormalised class scores.
        """
        return self.head(self.dropout(self.backbone(x)))
