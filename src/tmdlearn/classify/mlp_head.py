"""A small torch MLP classification head with the scikit-learn classifier API (clonable,
``get_params``/``set_params``, ``fit``/``predict``/``predict_proba``), optionally a bag of
seeds.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from tmdlearn.learn import TrainConfig, grouped_holdout, predict, train_model
from tmdlearn.models.mlp import MLP


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A small torch MLP (``tmdlearn.models.MLP``) with the scikit-learn classifier API.

    Training uses ``tmdlearn.learn.train_model``: AdamW, label smoothing, class weights
    ("balanced") or oversampling, Gaussian noise of standard deviation ``noise`` added to the
    (transformed) features of each training batch, and, with ``val_fraction`` > 0, early
    stopping on a validation split grouped by ``groups``. ``n_models`` > 1 trains a bag of
    MLPs with seeds ``seed``, ``seed + 1``, ... and averages their class probabilities.
    """

    def __init__(self, hidden=(256,), dropout=0.5, input_dropout=0.2, noise=0.3,
                 label_smoothing=0.1, epochs=150, batch_size=64, lr=1e-3, weight_decay=1e-3,
                 class_weight="balanced", oversample=False, val_fraction=0.0, patience=15,
                 n_models=1, seed=0, device="auto"):
        self.hidden, self.dropout, self.input_dropout = hidden, dropout, input_dropout
        self.noise, self.label_smoothing, self.epochs = noise, label_smoothing, epochs
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.class_weight, self.oversample = class_weight, oversample
        self.val_fraction, self.patience, self.seed, self.device = (
            val_fraction, patience, seed, device)
        self.n_models = n_models

    def fit(self, X, y, groups=None):
        """Train ``n_models`` MLPs.

        Parameters
        ----------
        X : (N, D) array
            Training features (cast to float32).
        y : (N,) array
            Class labels; ``classes_`` becomes their sorted unique values.
        groups : (N,) array, optional
            Sample ids for the grouped early-stopping split (``val_fraction`` > 0); default:
            each item its own group.

        Returns
        -------
        MLPClassifier
            ``self``, fitted.
        """
        X = np.asarray(X, dtype=np.float32)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.models_ = [self._fit_one(X, codes, groups, self.seed + k)
                        for k in range(self.n_models)]
        self.model_ = self.models_[0]
        return self

    def _fit_one(self, X, codes, groups, seed: int) -> MLP:
        train, val = np.arange(len(X)), np.array([], dtype=int)
        if self.val_fraction > 0:
            groups = np.arange(len(X)) if groups is None else np.asarray(groups)
            train, val = grouped_holdout(codes, groups, self.val_fraction, seed=seed)
        torch.manual_seed(seed)
        model = MLP(X.shape[1], len(self.classes_), hidden=tuple(self.hidden),
                    dropout=self.dropout, input_dropout=self.input_dropout)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, patience=self.patience,
                             label_smoothing=self.label_smoothing,
                             class_weight=self.class_weight, oversample=self.oversample,
                             seed=seed, device=self.device)
        noise = self.noise

        def jitter(batch, generator):
            return batch + noise * torch.randn(batch.shape, generator=generator)

        train_model(model, X[train], codes[train], config=config,
                    x_val=X[val] if len(val) else None, y_val=codes[val],
                    augment=jitter if noise > 0 else None, description="MLP head")
        return model

    def predict_proba(self, X):
        """Class probabilities, averaged over the bag.

        Parameters
        ----------
        X : (N, D) array
            Features in the columns of ``fit``'s ``X`` (cast to float32).

        Returns
        -------
        (N, n_classes) array
            Probabilities in the order of ``classes_``.
        """
        X = np.asarray(X, dtype=np.float32)
        return np.mean([torch.softmax(torch.as_tensor(predict(m, X, device=self.device)),
                                      dim=1).numpy() for m in self.models_], axis=0)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : (N, D) array
            Features; the class of highest bag-mean probability (:meth:`predict_proba`) is
            taken per row.

        Returns
        -------
        (N,) array
            Class labels.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        """The hidden representation of the (first) trained MLP (for latent analysis).

        Parameters
        ----------
        X : (N, D) array
            Features, passed through the first MLP of the bag only (dropout off).

        Returns
        -------
        (N, H) array
            Last hidden layer's activations (the input itself without hidden layers).
        """
        self.model_.eval()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(X, dtype=np.float32))
            return self.model_.embed(x.to(next(self.model_.parameters()).device)).cpu().numpy()
