"""`tmdlearn afm`: Level AFM images, compute physical features and deep embeddings."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Level AFM images, compute physical features and deep embeddings."""
