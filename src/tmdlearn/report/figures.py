"""Figures: matplotlib without a display, saved atomically as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from tmdlearn.io.atomic import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` to ``path`` (PNG unless the suffix says otherwise) and close it.

    Parameters
    ----------
    fig : Figure
        The matplotlib figure.
    path : str or Path
        Output file, written atomically.
    dpi : int
        Resolution, in dots per inch.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
