"""Transfer-learning strategies that train a CNN on AFM images, scikit-learn style.

- ``"finetune-last"``: freeze the backbone except its last ``unfreeze`` blocks; train those and
  a new linear head.
- ``"finetune-full"``: train every layer (the backbone at ``backbone_lr``, the head at ``lr``).
- ``"sequential"``: as the multi-material study, add classes stage by stage (by default the
  most frequent two first, then one more per stage), growing the head and keeping what was
  learnt; each stage fine-tunes the last ``unfreeze`` blocks.

(The fourth strategy, ``"frozen"``, is a head on fixed backbone features:
:func:`tmdlearn.classify.heads.make_head` on :func:`tmdlearn.afm.embed.embed` output.)

Class imbalance: ``oversample=True`` (the study's choice) draws every class up to the largest
per epoch; ``class_weight="balanced"`` weights the loss instead. Augmentation: random flips
and 90° rotations. Early stopping on a validation split grouped by sample.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from tmdlearn.errors import InputError
from tmdlearn.learn import TrainConfig, dihedral, grouped_holdout, predict, train_model
from tmdlearn.models.backbones import build_backbone
from tmdlearn.models.cnn_classifier import CNNClassifier

TRAINED_STRATEGIES = ("finetune-last", "finetune-full", "sequential")
STRATEGIES = ("frozen", *TRAINED_STRATEGIES)


class ImageClassifier(ClassifierMixin, BaseEstimator):
    """A CNN trained on prepared images (N, 3, S, S) by one of :data:`TRAINED_STRATEGIES`.

    ``X`` is the output of :func:`tmdlearn.afm.embed.prepare_images`. ``stages`` (sequential
    only) is a list of lists of class names, each stage adding its classes.
    """

    def __init__(self, strategy="finetune-last", backbone="efficientnet-lite0",
                 weights="default", unfreeze=1, epochs=10, batch_size=16, lr=1e-3,
                 backbone_lr=1e-4, weight_decay=1e-4, dropout=0.2, label_smoothing=0.0,
                 oversample=True, class_weight=None, augment=True, val_fraction=0.2,
                 patience=3, stages=None, seed=0, device="auto"):
        self.strategy, self.backbone, self.weights, self.unfreeze = (
            strategy, backbone, weights, unfreeze)
        self.epochs, self.batch_size, self.lr, self.backbone_lr = (
            epochs, batch_size, lr, backbone_lr)
        self.weight_decay, self.dropout, self.label_smoothing = (
            weight_decay, dropout, label_smoothing)
        self.oversample, self.class_weight, self.augment = oversample, class_weight, augment
        self.val_fraction, self.patience, self.stages = val_fraction, patience, stages
        self.seed, self.device = seed, device

    def fit(self, X, y, groups=None):
        """Train the CNN (stage by stage for "sequential").

        Parameters
        ----------
        X : (N, 3, S, S) array
            Prepared images (:func:`tmdlearn.afm.embed.prepare_images`).
        y : (N,) array
            Class labels.
        groups : (N,) array, optional
            Sample ids for the grouped early-stopping split; default: each image its own
            group.

        Returns
        -------
        ImageClassifier
            ``self``, fitted.
        """
        if self.strategy not in TRAINED_STRATEGIES:
            raise InputError(f"unknown strategy {self.strategy!r}: choose one of "
                             f"{', '.join(TRAINED_STRATEGIES)} (or 'frozen' with a head)")
        X = torch.as_tensor(X, dtype=torch.float32)
        y = np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        self.classes_ = np.unique(y)
        stages = self._stages(y)
        order = [c for stage in stages for c in stage]  # head output k = class order[k]
        lookup = {name: k for k, name in enumerate(order)}
        codes = np.array([lookup[name] for name in y])
        backbone = build_backbone(self.backbone, self.weights, self.device, seed=self.seed)
        torch.manual_seed(self.seed)
        self.model_ = CNNClassifier(backbone, len(stages[0]), dropout=self.dropout)
        self.model_.freeze_all_but_last(None if self.strategy == "finetune-full"
                                        else self.unfreeze)
        self.histories_ = []
        seen = 0
        for number, stage in enumerate(stages):
            seen += len(stage)
            if number:
                self.model_.grow_head(seen)
            chosen = np.flatnonzero(codes < seen)
            self.histories_.append(self._train(X[chosen], codes[chosen], groups[chosen],
                                               f"stage {number + 1}/{len(stages)}"))
        self.order_ = np.array(order)
        return self

    def _stages(self, y) -> list[list]:
        if self.strategy != "sequential":
            return [list(self.classes_)]
        if self.stages is None:
            names, counts = np.unique(y, return_counts=True)
            ranked = list(names[np.argsort(-counts, kind="stable")])
            return [ranked[:2], *([c] for c in ranked[2:])]
        stages = [list(s) for s in self.stages]
        listed = [c for s in stages for c in s]
        if sorted(map(str, listed)) != sorted(map(str, self.classes_)):
            raise InputError(f"stages {stages} must list each class once: "
                             f"{list(self.classes_)}")
        return stages

    def _train(self, X, codes, groups, description):
        train, val = np.arange(len(codes)), np.array([], dtype=int)
        if self.val_fraction > 0 and len(np.unique(groups)) > 2:
            train, val = grouped_holdout(codes, groups, self.val_fraction, seed=self.seed)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay,
                             patience=self.patience if len(val) else None,
                             label_smoothing=self.label_smoothing,
                             class_weight=self.class_weight, oversample=self.oversample,
                             seed=self.seed, device=self.device)
        head = list(self.model_.head.parameters())
        body = [p for p in self.model_.backbone.parameters() if p.requires_grad]
        groups_ = [{"params": head, "lr": self.lr}]
        if body:
            groups_.append({"params": body, "lr": self.backbone_lr})
        index = torch.as_tensor(train)
        val_index = torch.as_tensor(val)
        return train_model(self.model_, X[index], codes[train], config=config,
                           x_val=X[val_index] if len(val) else None, y_val=codes[val],
                           augment=dihedral if self.augment else None, parameters=groups_,
                           description=f"{self.strategy} {description}")

    def predict_proba(self, X):
        """Class probabilities (N, n_classes), columns in the order of ``classes_``.

        Parameters
        ----------
        X : (N, 3, S, S) array
            Images prepared as for :meth:`fit`, run through the network 64 at a time.

        Returns
        -------
        (N, n_classes) array
            Softmax of the network's logits; each row sums to 1.
        """
        logits = predict(self.model_, X, batch_size=64, device=self.device)
        proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
        columns = np.searchsorted(self.classes_, self.order_)
        out = np.zeros_like(proba)
        out[:, columns] = proba
        return out

    def predict(self, X):
        """Most probable class of each image (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : (N, 3, S, S) array
            Prepared images.

        Returns
        -------
        (N,) array
            Labels from ``classes_``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        """Backbone features entering the head (N, feature_dim), for latent analysis.

        Parameters
        ----------
        X : (N, 3, S, S) array
            Images from :func:`tmdlearn.afm.embed.prepare_images`.

        Returns
        -------
        (N, feature_dim) array
            Pooled backbone features (the head's input before its dropout).
        """
        return predict(self.model_.backbone, X, batch_size=64, device=self.device)
