"""Figures of layer-resolved atom finding (matplotlib figures; saving is the caller's)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LAYER_COLOURS = ("tab:red", "tab:cyan", "tab:green", "tab:orange")


def overlay_figure(image: np.ndarray, atoms: pd.DataFrame, masks: np.ndarray,
                   pixel_size_angstrom: float) -> plt.Figure:
    """The image with each layer's atoms as coloured dots, beside each layer's mask."""
    layers = masks.shape[0]
    fig, axes = plt.subplots(1, 1 + layers, figsize=(4 * (1 + layers), 4.2))
    axes[0].imshow(image, cmap="gray")
    for layer in range(layers):
        a = atoms[atoms.layer == layer]
        colour = LAYER_COLOURS[layer % len(LAYER_COLOURS)]
        axes[0].plot(a.x_px, a.y_px, ".", ms=3, color=colour, label=f"layer {layer} ({len(a)})")
        axes[1 + layer].imshow(masks[layer].any(axis=0), cmap="gray")
        axes[1 + layer].set_title(f"layer {layer} mask")
    axes[0].legend(loc="upper right", fontsize=7)
    ny, nx = image.shape
    axes[0].set_title(f"{nx} x {ny} px, {pixel_size_angstrom:g} Å/px")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
