"""Spectrum generators of the MoS2 cross-modal study: image→spectrum, spectrum→spectrum and fusion.

All decoders end in a sigmoid, so outputs lie in [0, 1] like the min-max normalised spectra
they are trained on with binary cross-entropy.

- :class:`ImageToSpectrum`: pooled image features (e.g. 1280 of EfficientNet-Lite0 or 2048 of
  ResNet152) → 2048 → 1024 → decoder layers halving in width → spectrum.
- :class:`SpectrumAutoencoder`: a symmetric fully connected encoder/decoder from one spectrum
  to another (Raman ↔ PL), 64–1024 units per layer.
- :class:`FusionToSpectrum`: image features through the image encoder and a spectrum through a
  fully connected encoder, concatenated in a fusion layer, then decoded.
"""

from __future__ import annotations

import torch
from torch import nn

from tmdlearn.models.mlp import hidden_layers

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
               "tanh": nn.Tanh, "selu": nn.SELU}


def _activation(name: str) -> nn.Module:
    """The torch activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def dense_block(in_features: int, out_features: int, act: str, dropout: float) -> nn.Sequential:
    """Linear → batch norm → activation → dropout.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    act : str
        Activation name (:data:`ACTIVATIONS`).
    dropout : float
        Dropout probability.

    Returns
    -------
    nn.Sequential
    """
    return nn.Sequential(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features),
                         _activation(act), nn.Dropout(dropout))


def halving_widths(start: int, n_layers: int, minimum: int = 16) -> list[int]:
    """``n_layers`` widths starting at ``start // 2`` and halving, never below ``minimum``.

    Parameters
    ----------
    start : int
        Width before the first layer.
    n_layers : int
        Number of widths.
    minimum : int
        Smallest width.

    Returns
    -------
    list of int
    """
    widths, width = [], start
    for _ in range(n_layers):
        width = max(width // 2, minimum)
        widths.append(width)
    return widths


def decoder(in_features: int, out_length: int, n_layers: int, act: str,
            dropout: float) -> nn.Sequential:
    """Dense blocks halving in width from ``in_features``, then Linear → sigmoid.

    Parameters
    ----------
    in_features : int
        Input width.
    out_length : int
        Number of spectral points out.
    n_layers : int
        Number of dense blocks.
    act : str
        Activation name (:data:`ACTIVATIONS`).
    dropout : float
        Dropout probability of every block.

    Returns
    -------
    nn.Sequential
        (N, in_features) → (N, out_length) in [0, 1].
    """
    layers, width = [], in_features
    for size in halving_widths(in_features, n_layers):
        layers.append(dense_block(width, size, act, dropout))
        width = size
    layers += [nn.Linear(width, out_length), nn.Sigmoid()]
    return nn.Sequential(*layers)


class ImageToSpectrum(nn.Module):
    """Image features (N, in_features) → spectrum (N, out_length) in [0, 1].

    Parameters
    ----------
    in_features : int
        Width of the pooled backbone features.
    out_length : int
        Number of spectral points (202 for the study's Raman window).
    n_decoder_layers : int
        Dense blocks after the 2048 → 1024 encoder, halving in width.
    activation : str
        Activation of every dense block (:data:`ACTIVATIONS`).
    dropout : float
        Dropout probability of every dense block.
    """

    def __init__(self, in_features: int, out_length: int, n_decoder_layers: int = 2,
                 activation: str = "relu", dropout: float = 0.1):
        super().__init__()
        self.encoder = nn.Sequential(dense_block(in_features, 2048, activation, dropout),
                                     dense_block(2048, 1024, activation, dropout))
        self.decoder = decoder(1024, out_length, n_decoder_layers, activation, dropout)

    def forward(self, x):
        """The spectra of a batch of image features.

        Parameters
        ----------
        x : (N, in_features) tensor
            Pooled backbone features of the images.

        Returns
        -------
        (N, out_length) tensor
            Spectra in [0, 1].
        """
        return self.decoder(self.encoder(x))


class SpectrumAutoencoder(nn.Module):
    """One spectrum (N, in_length) → another (N, out_length) through a symmetric FC network.

    Parameters
    ----------
    in_length, out_length : int
        Spectral points in and out.
    hidden : tuple of int
        Encoder widths (e.g. ``(512, 256)``, each 64–1024 in the study); the decoder mirrors
        them (``(256, 512)``) before the sigmoid output layer.
    activation : str
        Activation of every dense block (:data:`ACTIVATIONS`).
    dropout : float
        Dropout probability of every dense block.
    """

    def __init__(self, in_length: int, out_length: int, hidden: tuple[int, ...] = (512, 256),
                 activation: str = "relu", dropout: float = 0.1):
        super().__init__()
        widths = [in_length, *hidden]
        self.encoder = nn.Sequential(*[dense_block(a, b, activation, dropout)
                                       for a, b in zip(widths[:-1], widths[1:], strict=True)])
        mirror = [*hidden[::-1]]
        self.decoder = nn.Sequential(
            *[dense_block(a, b, activation, dropout)
              for a, b in zip(mirror[:-1], mirror[1:], strict=True)],
            nn.Linear(mirror[-1], out_length), nn.Sigmoid())

    def forward(self, x):
        """The output spectra of a batch of input spectra.

        Parameters
        ----------
        x : (N, in_length) tensor
            Input spectra (min-max normalised).

        Returns
        -------
        (N, out_length) tensor
            Output spectra in [0, 1].
        """
        return self.decoder(self.encoder(x))


class FusionToSpectrum(nn.Module):
    """Image features and another spectrum → spectrum.

    The input is one tensor ``[image_features | spectrum]`` (N, image_features + in_length);
    the image part goes through 2048 → 1024, the spectrum through ``spectrum_hidden``, both
    are concatenated in a fusion layer of ``fusion_width`` units, then decoded by dense blocks
    halving in width and a sigmoid output.

    Parameters
    ----------
    image_features : int
        Width of the pooled backbone features.
    in_length, out_length : int
        Spectral points of the input spectrum and of the output.
    spectrum_hidden : tuple of int
        Widths of the spectrum encoder.
    fusion_width : int
        Units of the fusion layer.
    n_decoder_layers : int
        Dense blocks of the decoder, halving in width.
    activation : str
        Activation of every dense block (:data:`ACTIVATIONS`).
    dropout : float
        Dropout probability of every dense block.
    """

    def __init__(self, image_features: int, in_length: int, out_length: int,
                 spectrum_hidden: tuple[int, ...] = (256,), fusion_width: int = 512,
                 n_decoder_layers: int = 2, activation: str = "relu", dropout: float = 0.1):
        super().__init__()
        self.image_features = image_features
        self.image_encoder = nn.Sequential(dense_block(image_features, 2048, activation, dropout),
                                           dense_block(2048, 1024, activation, dropout))
        widths = [in_length, *spectrum_hidden]
        self.spectrum_encoder = nn.Sequential(
            *[dense_block(a, b, activation, dropout)
              for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.fusion = dense_block(1024 + widths[-1], fusion_width, activation, dropout)
        self.decoder = decoder(fusion_width, out_length, n_decoder_layers, activation, dropout)

    def forward(self, x):
        """The spectra of a batch of joined image features and input spectra.

        Parameters
        ----------
        x : (N, image_features + in_length) tensor
            ``[image_features | spectrum]``.

        Returns
        -------
        (N, out_length) tensor
            Spectra in [0, 1].
        """
        image, spectrum = x[:, :self.image_features], x[:, self.image_features:]
        joined = torch.cat([self.image_encoder(image), self.spectrum_encoder(spectrum)], dim=1)
        return self.decoder(self.fusion(joined))


class RegressionMLP(nn.Module):
    """Dense layers (Linear → activation → dropout) → linear output: a regression head whose
    activation is tunable (the study's MLP regressors and scalar feature heads).

    Parameters
    ----------
    in_features, out_features : int
        Input width and number of targets.
    hidden : tuple of int
        Widths of the hidden layers.
    activation : str
        Activation name (:data:`ACTIVATIONS`).
    dropout : float
        Dropout after each hidden activation.
    """

    def __init__(self, in_features: int, out_features: int, hidden: tuple[int, ...] = (128,),
                 activation: str = "relu", dropout: float = 0.1):
        super().__init__()
        layers, width = hidden_layers(in_features, hidden, lambda: _activation(activation),
                                      dropout)
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        """The regression outputs of a batch.

        Parameters
        ----------
        x : (N, in_features) tensor
            Inputs, standardised as in training.

        Returns
        -------
        (N, out_features) tensor
            Targets, standardised as in training.
        """
        return self.net(x)
