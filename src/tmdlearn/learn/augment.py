"""Augmentations of image batches that keep the physics of a height map."""

from __future__ import annotations

import torch


def dihedral(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random flips and 90° rotations of each image in ``batch`` (B, C, H, W), H == W.

    Each image gets one of the 8 symmetries of the square, drawn with ``generator``; AFM
    height maps have no preferred in-plane orientation, so labels are unchanged.

    Parameters
    ----------
    batch : (B, C, H, W) tensor
        Square images.
    generator : torch.Generator, optional
        Source of the random draws (reproducible augmentation).

    Returns
    -------
    (B, C, H, W) tensor
        A transformed copy; ``batch`` is not changed.
    """
    if batch.shape[-1] != batch.shape[-2]:
        raise ValueError(f"dihedral augmentation needs square images, got {tuple(batch.shape)}")
    turns = torch.randint(0, 4, (len(batch),), generator=generator)
    flips = torch.randint(0, 2, (len(batch),), generator=generator).bool()
    out = batch.clone()
    for k in range(1, 4):
        chosen = turns == k
        if chosen.any():
            out[chosen] = torch.rot90(out[chosen], k, dims=(-2, -1))
    out[flips] = torch.flip(out[flips], dims=(-1,))
    return out
