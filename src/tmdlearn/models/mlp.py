"""Multilayer perceptron: a classification or regression head on feature vectors."""

from __future__ import annotations

from torch import nn


class MLP(nn.Module):
    """Dense layers with ReLU and dropout: ``in_features`` -> hidden... -> ``out_features``.

    Parameters
    ----------
    in_features, out_features : int
        Input width and output width (classes, or regression targets).
    hidden : tuple of int
        Widths of the hidden layers (empty: a linear model).
    dropout : float
        Dropout after each hidden activation.
    input_dropout : float
        Dropout on the input features (a strong regulariser for wide frozen features).
    """

    def __init__(self, in_features: int, out_features: int, hidden: tuple[int, ...] = (256,),
                 dropout: float = 0.5, input_dropout: float = 0.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout > 0 else []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)

    def embed(self, x):
        """The last hidden representation (the input itself when there is no hidden layer).

        Parameters
        ----------
        x : (N, in_features) tensor
            Input features.

        Returns
        -------
        (N, hidden[-1]) tensor
        """
        return self.body(x)

    def forward(self, x):
        """Class logits or regression outputs of a batch.

        Parameters
        ----------
        x : (N, in_features) tensor
            Input features.

        Returns
        -------
        (N, out_features) tensor
        """
        return self.head(self.body(x))
