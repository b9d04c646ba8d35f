"""Figures of layer-resolved atom finding (matplotlib figures; saving is the caller's)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LAYER_COLOURS = ("tab:red", "tab:cyan", "tab:green", "tab:orange")
#: Marker of each species (WS2: metal, pure-S, mixed and pure-Se chalcogen columns).
SPECIES_MARKERS = {"W": "o", "Mo": "o", "S2": ".", "SSe": "^", "Se2": "s"}


#: Colour of each self-check verdict (tmdlearn.stem.quality).
TRUST_COLOURS = {"ok": "tab:green", "doubtful": "tab:orange", "fail": "tab:red"}


def _verdict_title(fig: plt.Figure, quality) -> None:
    """The self-check's verdict, score and main reason as the figure's title."""
    import textwrap

    text = f"self-check: {quality.trust} (score {quality.score:.2f})"
    if quality.main_reason:
        text += "\n" + textwrap.shorten(quality.main_reason, 110)
    fig.suptitle(text, color=TRUST_COLOURS.get(quality.trust, "black"), fontsize=10)


def overlay_figure(image: np.ndarray, atoms: pd.DataFrame, masks: np.ndarray,
                   pixel_size_angstrom: float, quality=None) -> plt.Figure:
    """The image with each layer's atoms as coloured markers (one marker per species: see
    SPECIES_MARKERS), beside each layer's mask; with a
    :class:`tmdlearn.stem.quality.Quality`, its verdict as the title.

    Parameters
    ----------
    image : (H, W) array
        The HAADF image.
    atoms : DataFrame
        Atoms, columns x_px, y_px (px), layer and species.
    masks : (B, S, H, W) bool array
        Per-layer, per-species masks; each layer's union is shown.
    pixel_size_angstrom : float
        Pixel size (Å/px), for the title.
    quality : Quality, optional
        The self-check, whose verdict becomes the title.

    Returns
    -------
    Figure
    """
    layers = masks.shape[0]
    fig, axes = plt.subplots(1, 1 + layers, figsize=(4 * (1 + layers), 4.2))
    axes[0].imshow(image, cmap="gray")
    size = _marker_size(image.shape, atoms)
    for layer in range(layers):
        colour = LAYER_COLOURS[layer % len(LAYER_COLOURS)]
        for species, a in atoms[atoms.layer == layer].groupby("species", sort=False):
            marker = SPECIES_MARKERS.get(str(species), ".")
            axes[0].plot(a.x_px, a.y_px, marker, ms=size, mew=min(size / 3, 0.8),
                         color=colour, label=f"layer {layer} {species} ({len(a)})")
        axes[1 + layer].imshow(masks[layer].any(axis=0), cmap="gray")
        axes[1 + layer].set_title(f"layer {layer} mask")
    if len(atoms):
        axes[0].legend(loc="upper right", fontsize=7)
    ny, nx = image.shape
    axes[0].set_title(f"{nx} x {ny} px, {pixel_size_angstrom:g} Å/px")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if quality is not None:
        _verdict_title(fig, quality)
    fig.tight_layout()
    return fig


def _marker_size(shape: tuple[int, int], atoms: pd.DataFrame) -> float:
    """Marker size (points) of the overlay: 0.4 of the atoms' mean spacing as drawn on its
    4-inch panel (the densest layer's), 0.5-3 pt, so that the atoms of a large field stay
    apart."""
    per_layer = atoms.groupby("layer").size().max() if len(atoms) else 0
    if not per_layer:
        return 3.0
    spacing_px = np.sqrt(shape[0] * shape[1] / per_layer)
    return float(np.clip(0.4 * spacing_px * 4 * 72 / max(shape), 0.5, 3.0))


def render_figure(quality) -> plt.Figure:
    """The render-back of a :class:`tmdlearn.stem.quality.Quality`: the low-passed input, the
    image rendered from the found atoms (the Gomb-Net study's Fig. 3b) and the map of R² over
    windows, with the verdict as the title.

    Parameters
    ----------
    quality : Quality
        A self-check with its ``rendering``.

    Returns
    -------
    Figure
    """
    from tmdlearn.stem.render import WINDOW_ANGSTROM

    rendering = quality.rendering
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    low, rendered = rendering.lowpass, rendering.image
    lo, hi = np.percentile(low, [0.5, 99.5])
    axes[0].imshow(low, cmap="gray", vmin=lo, vmax=hi)
    axes[0].set_title("input (low-passed)")
    axes[1].imshow(rendered, cmap="gray", vmin=lo, vmax=hi)
    axes[1].set_title(f"rendered from the atoms (R² {rendering.r2:.2f})")
    im = axes[2].imshow(rendering.r2_map, cmap="RdYlGn", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[2], label="R²")
    axes[2].set_title(f"R² per {WINDOW_ANGSTROM / 10:g} nm window")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    _verdict_title(fig, quality)
    fig.tight_layout()
    return fig


def bond_histogram_figure(bonds_angstrom: np.ndarray, reference_angstrom: float = 1.42
                          ) -> plt.Figure:
    """Histogram of nearest-neighbour distances with the reference bond length marked.

    Parameters
    ----------
    bonds_angstrom : (N,) array
        Distances (Å).
    reference_angstrom : float
        Reference bond length (Å; graphene C–C 1.42 Å).

    Returns
    -------
    Figure
    """
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.hist(bonds_angstrom, bins=60, color="0.4")
    ax.axvline(reference_angstrom, color="tab:red", ls="--", label=f"{reference_angstrom} Å")
    if len(bonds_angstrom):
        ax.set_title(f"median {np.median(bonds_angstrom):.3f} Å (n = {len(bonds_angstrom)})")
    ax.set_xlabel("nearest-neighbour distance (Å)")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    return fig


def order_parameter_figure(maps: dict[str, np.ndarray]) -> plt.Figure:
    """Order-parameter maps |u| (Å) and, when present, the local stacking map.

    Parameters
    ----------
    maps : dict of (H, W) arrays
        Maps by name (``analyse_atoms(...)["maps"]``): |u| in Å; "stacking" holds labels 0-2.

    Returns
    -------
    Figure
    """
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 3.8), squeeze=False)
    for ax, (name, grid) in zip(axes[0], maps.items(), strict=True):
        if name == "stacking":
            im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=2)
            cbar = fig.colorbar(im, ax=ax, ticks=[0, 1, 2])
            cbar.ax.set_yticklabels(["W/X", "X/W", "other"])
        else:
            im = ax.imshow(grid, cmap="magma")
            fig.colorbar(im, ax=ax, label="|u| (Å)")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def kde_figure(kde: dict, n_boot: int) -> plt.Figure:
    """Densities of u at Se sites and at all sites, with 95 % bootstrap bands.

    Parameters
    ----------
    kde : dict
        ``analyse_atoms(...)["kde"]``: ``se_sites``, ``all_sites`` (u^{X/W}, Å), ``mse``,
        ``mse_low``, ``mse_high``.
    n_boot : int
        Bootstrap resamples of the bands.

    Returns
    -------
    Figure
    """
    from tmdlearn.stem.densities import bootstrap_kde

    both = np.concatenate([kde["se_sites"], kde["all_sites"]])
    grid = np.linspace(both.min(), both.max(), 200)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for key, colour in (("se_sites", "tab:red"), ("all_sites", "tab:blue")):
        full, boots = bootstrap_kde(kde[key], grid, n_boot)
        lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
        ax.fill_between(grid, lo, hi, color=colour, alpha=0.25)
        ax.plot(grid, full, color=colour, label=key.replace("_", " "))
    ax.set_xlabel("u$^{X/W}$ (Å)")
    ax.set_ylabel("density")
    ax.set_title(f"MSE {kde['mse']:.3g} [{kde['mse_low']:.3g}, {kde['mse_high']:.3g}]")
    ax.legend()
    fig.tight_layout()
    return fig
