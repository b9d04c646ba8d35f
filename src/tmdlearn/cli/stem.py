"""`tmdlearn stem`: Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""
