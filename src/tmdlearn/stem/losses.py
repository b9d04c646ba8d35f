"""Segmentation losses for layer-resolved atom maps: soft Dice and the Gomb loss.

Shapes: ``logits`` and ``target`` are (N, B * S, H, W) — B layers (branches) of S species each,
grouped by layer. The Gomb loss is invariant to which branch predicts which layer; see
docs/stem.md for the equation.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def weighted_dice(pred: torch.Tensor, target: torch.Tensor, alpha: float = 2.0,
                  eps: float = 1e-6, per_species: bool = False) -> torch.Tensor:
    """Dice loss weighted against false positives over all but the leading dims' last three.

    ``D = 1 - 2 TP / (2 TP + alpha FP + FN)`` summed over (S, H, W); alpha = 1 is the ordinary
    soft Dice, alpha > 1 penalises false positives more. Zero for a perfect prediction.

    Parameters
    ----------
    pred, target : Tensor
        Broadcasting to (..., S, H, W), values in [0, 1].
    alpha : float
        Weight of the false positives.
    eps : float
        Smoothing term of numerator and denominator.
    per_species : bool
        Return ½ (D + mean over species of D computed per species over (H, W)): the
        per-species half makes a rare species weigh as much as a common one, the pooled half
        keeps penalising false positives in a species absent from the image (whose own Dice is
        saturated at 1, without gradient). The same as D for S = 1.

    Returns
    -------
    Tensor
        D, of the leading (...) shape.
    """
    tp = (pred * target).sum(dim=(-2, -1))
    fp = pred.sum(dim=(-2, -1)) - tp
    fn = target.sum(dim=(-2, -1)) - tp
    pooled = 1 - (2 * tp.sum(-1) + eps) / (2 * tp.sum(-1) + alpha * fp.sum(-1) + fn.sum(-1) + eps)
    if not per_species:
        return pooled
    each = 1 - (2 * tp + eps) / (2 * tp + alpha * fp + fn + eps)
    return 0.5 * (pooled + each.mean(dim=-1))


class DiceLoss(nn.Module):
    """Soft Dice loss averaged over channels and images (the U-Net + Dice baseline)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Soft Dice loss of a batch.

        Parameters
        ----------
        logits : (N, C, H, W) Tensor
            Logits.
        target : (N, C, H, W) Tensor
            Targets in [0, 1].

        Returns
        -------
        Tensor
            Scalar: 1 - the Dice per channel (pooled over images and pixels), averaged.
        """
        prob = torch.sigmoid(logits)
        dims = (0, 2, 3)
        inter = (prob * target).sum(dims)
        dice = (2 * inter + self.eps) / (prob.sum(dims) + target.sum(dims) + self.eps)
        return 1 - dice.mean()


class GombLoss(nn.Module):
    """Groupwise combinatorial Dice loss (Gomb-Net, Eq. 1) generalised to B layers.

    For image n with branch predictions P_b and layer targets T_c (each S species maps)::

        D[b, c] = weighted_dice(P_b, T_c, alpha)
        L_pred  = 1 / sum_{pi in perms(B)} 1 / (sum_b D[b, pi(b)] + eps)     (harmonic)
        L_sim   = sigmoid( sum_{b < c} (D1(P_b, P_c) - D1(T_pi*(b), T_pi*(c)))**2 )
        L       = L_pred * L_sim,   averaged over the batch.

    L_pred is small as soon as *one* assignment of branches to layers fits; L_sim grows when the
    branches resemble each other more (or less) than the true layers do, which keeps two
    branches from predicting the same layer. For B = 2 this is the paper's Eq. 1 with two
    fixes: the weighted Dice is zero at a perfect prediction (the paper's ``2 TP / (alpha sum P
    + sum T)`` is not), and the similarity term uses the symmetric Dice D1 (alpha = 1), since an
    asymmetric D(P_b, P_c) would make the loss depend on which branch is called b. For B > 2
    the branch pairs are compared with the layer pairs of the best assignment pi* (the
    permutation with the smallest summed Dice); for B = 2 every assignment gives the same L_sim.
    ``per_species`` adds the species-averaged Dice to the pooled one (see
    :func:`weighted_dice`): with pooled species only, a rare, hard species (Se columns in WS2)
    is cheaper left out than guessed, and the network learns never to predict it. Against an
    empty layer (a monolayer) the Dice is replaced by one that still has a gradient
    (:meth:`_empty_layers`).
    """

    def __init__(self, layers: int = 2, alpha: float = 2.0, eps: float = 1e-6,
                 similarity: bool = True, per_species: bool = False):
        super().__init__()
        self.layers, self.alpha, self.eps, self.similarity = layers, alpha, eps, similarity
        self.per_species = per_species
        self.perms = torch.tensor(list(itertools.permutations(range(layers))))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The Gomb loss of a batch, averaged over the images.

        Parameters
        ----------
        logits : (N, B * S, H, W) Tensor
            Logits of B branches of S species each, grouped by branch.
        target : (N, B * S, H, W) Tensor
            Layer targets in [0, 1], grouped by layer.

        Returns
        -------
        Tensor
            Scalar.
        """
        n, c, h, w = logits.shape
        b = self.layers
        p = torch.sigmoid(logits).reshape(n, b, c // b, h, w)
        t = target.to(p.dtype).reshape(n, b, c // b, h, w)
        d = weighted_dice(p[:, :, None], t[:, None, :], self.alpha, self.eps,
                          self.per_species)  # (n, B, B)
        d = self._empty_layers(d, p, t)
        perms = self.perms.to(logits.device)
        branch = torch.arange(b, device=logits.device)
        totals = d[:, branch[None, :], perms].sum(-1)  # (n, n_perms)
        loss = 1 / (1 / (totals + self.eps)).sum(-1)
        if self.similarity and b > 1:
            i, j = torch.triu_indices(b, b, offset=1, device=logits.device)
            best = perms[totals.argmin(-1)]  # (n, B): layer of each branch, best assignment
            rows = torch.arange(n, device=logits.device)[:, None]
            d_pred = weighted_dice(p[:, i], p[:, j], 1.0, self.eps)
            d_true = weighted_dice(t[rows, best[:, i]], t[rows, best[:, j]], 1.0, self.eps)
            loss = loss * torch.sigmoid(((d_pred - d_true) ** 2).sum(-1))
        return loss.mean()


    def _empty_layers(self, d: torch.Tensor, p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``d`` (n, B, B) with the Dice against an empty layer (a monolayer image, or a layer
        outside the field) replaced by ``alpha FP / (alpha FP + K)``, K the mean area of the
        image's non-empty layers: the Dice of an empty target is 1 for any false positive
        and gives no gradient, so the network would never learn to leave a branch empty."""
        area = t.sum(dim=(-3, -2, -1))  # (n, B)
        empty = area == 0
        if not empty.any():
            return d
        full = (~empty).sum(-1).clamp(min=1)
        k = (area.sum(-1) / full).clamp(min=1.0)[:, None, None]  # (n, 1, 1)
        fp = self.alpha * p.sum(dim=(-3, -2, -1))[:, :, None]  # (n, B, 1)
        return torch.where(empty[:, None, :], fp / (fp + k), d)


#: The losses :func:`make_loss` builds by name.
LOSSES = ("gomb", "dice")


def make_loss(name: str, layers: int = 2, alpha: float = 2.0,
              per_species: bool = False) -> nn.Module:
    """"gomb" (GombLoss, ``per_species`` Dice optional) or "dice" (DiceLoss) by name.

    Parameters
    ----------
    name : str
        "gomb" or "dice".
    layers : int
        Layers B of the Gomb loss.
    alpha : float
        False-positive weight of the Gomb loss's Dice.
    per_species : bool
        Species-averaged Dice in the Gomb loss (:func:`weighted_dice`).

    Returns
    -------
    nn.Module
    """
    if name == "gomb":
        return GombLoss(layers, alpha, per_species=per_species)
    if name == "dice":
        return DiceLoss()
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
