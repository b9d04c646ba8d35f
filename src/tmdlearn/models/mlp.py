"""Multilayer perceptron: a classification or regression head on feature vectors."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def hidden_layers(in_features: int, hidden: tuple[int, ...], activation: Callable[[], nn.Module],
                  dropout: float) -> tuple[list[nn.Module], int]:
    """Linear → activation → dropout for each hidden width.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden : tuple of int
        Widths of the hidden layers (empty: no layer).
    activation : callable
        Makes a new activation module (e.g. ``nn.ReLU``).
    dropout : float
        Dropout after each activation.

    Returns
    -------
    layers : list of nn.Module
        Three modules per hidden layer.
    width : int
        Width of the last layer's output (``in_features`` without hidden layers).
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), activation(), nn.Dropout(dropout)]
        width = size
    return layers, width


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
        layers, width = hidden_layers(in_features, hidden, nn.ReLU, dropout)
        if input_dropout > 0:
            layers.insert(0, nn.Dropout(input_dropout))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)

    def embed(self, x):
        """The last hidden representation (the input itself when there is no hidden layer).

        Parameters
        ----------
        x : (N, in_features) tensor
            Feature vectors.

        Returns
        -------
        (N, hidden[-1]) tensor
            Activations entering the output layer.
        """
        return self.body(x)

    def forward(self, x):
        """Class logits or regression outputs of a batch.

        Parameters
        ----------
        x : (N, in_features) tensor
            Feature vectors (e.g. pooled backbone features).

        Returns
        -------
        (N, out_features) tensor
            Logits, or targets in the units they were trained in.
        """
        return self.head(self.body(x))
