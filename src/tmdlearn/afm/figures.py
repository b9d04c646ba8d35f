"""Figures of the AFM embedding: thumbnails at their embedding coordinates (the MoS2 study's
Fig. 3) and the heat map of axis-feature correlations. Functions return matplotlib figures;
saving is :func:`tmdlearn.report.figures.save_figure`'s job."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox, OffsetImage  # noqa: E402
from skimage.transform import resize  # noqa: E402


def thumbnail_map(coords: np.ndarray, heights: Sequence[np.ndarray], clip_nm: float = 1.5,
                  thumb_px: int = 48, zoom: float = 0.6, labels: Sequence[str] | None = None,
                  axis_names: tuple[str, str] = ("UMAP 1", "UMAP 2")) -> plt.Figure:
    """Each height map drawn as a thumbnail (clipped to ±``clip_nm`` nm, ``thumb_px`` pixels) at
    its 2-D embedding coordinates.

    Parameters
    ----------
    coords : (N, 2) array
        Embedding coordinates (further columns are ignored).
    heights : sequence of (H, W) arrays
        Levelled heights (nm), one per row of ``coords``.
    clip_nm : float
        Colour range ±``clip_nm`` (nm).
    thumb_px : int
        Thumbnail side (px).
    zoom : float
        Matplotlib zoom of the thumbnails.
    labels : sequence of str, optional
        Text under each thumbnail.
    axis_names : tuple of str
        Axis labels.

    Returns
    -------
    Figure
    """
    coords = np.asarray(coords, dtype=float)[:, :2]
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.scatter(coords[:, 0], coords[:, 1], s=4, alpha=0.0)
    for i, (xy, h) in enumerate(zip(coords, heights, strict=True)):
        thumb = resize(np.clip(np.asarray(h, dtype=float), -clip_nm, clip_nm), (thumb_px, thumb_px),
                       anti_aliasing=True, preserve_range=True)
        image = OffsetImage(thumb, cmap="afmhot", zoom=zoom, norm=plt.Normalize(-clip_nm, clip_nm))
        ax.add_artist(AnnotationBbox(image, xy, frameon=True, pad=0.1))
        if labels is not None:
            ax.annotate(str(labels[i]), xy, fontsize=5, ha="center", va="top",
                        xytext=(0, -thumb_px * zoom / 2 - 2), textcoords="offset points")
    span = np.ptp(coords, axis=0) + 1e-9
    ax.set_xlim(coords[:, 0].min() - 0.1 * span[0], coords[:, 0].max() + 0.1 * span[0])
    ax.set_ylim(coords[:, 1].min() - 0.1 * span[1], coords[:, 1].max() + 0.1 * span[1])
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(f"AFM height maps at their embedding coordinates (±{clip_nm:g} nm)")
    return fig


def correlation_heatmap(correlations: pd.DataFrame, value: str = "spearman_rho") -> plt.Figure:
    """Heat map (axes x features) of ``value`` from :func:`tmdlearn.afm.embed.axis_correlations`,
    annotated with the coefficient, in grey where p >= 0.05.

    Parameters
    ----------
    correlations : DataFrame
        The long table of :func:`~tmdlearn.afm.embed.axis_correlations`.
    value : str
        Column shown: "spearman_rho" or "pearson_r" (its p-value column greys weak cells).

    Returns
    -------
    Figure
    """
    grid = correlations.pivot(index="feature", columns="axis", values=value)
    pcol = value.split("_")[0] + "_p"
    pvals = correlations.pivot(index="feature", columns="axis", values=pcol).reindex_like(grid)
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 3, 0.35 * grid.shape[0] + 1.5))
    im = ax.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns)
    ax.set_yticks(range(grid.shape[0]), grid.index)
    for (i, j), v in np.ndenumerate(grid.to_numpy()):
        if np.isfinite(v):
            weak = not pvals.iloc[i, j] < 0.05
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="grey" if weak else "black")
    fig.colorbar(im, ax=ax, label=value.replace("_", " "))
    ax.set_title("Embedding axes vs physical features (grey: p ≥ 0.05)")
    return fig


def preview_figure(raw, flat) -> plt.Figure:
    """Raw (plane removed) and levelled height maps side by side; the levelled one scaled to its
    1st-99th percentile.

    Parameters
    ----------
    raw, flat : HeightMap
        The image as read and levelled (nm).

    Returns
    -------
    Figure
    """
    from tmdlearn.afm.surface import plane_fit

    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    axes[0].imshow(plane_fit(raw.height_nm), cmap="afmhot")
    axes[0].set_title("raw (plane removed)")
    low, high = np.nanpercentile(flat.height_nm, [1, 99])
    axes[1].imshow(flat.height_nm, cmap="afmhot", vmin=low, vmax=high)
    axes[1].set_title(f"levelled ({low:.2g} to {high:.2g} nm)")
    for ax in axes:
        ax.axis("off")
    return fig
