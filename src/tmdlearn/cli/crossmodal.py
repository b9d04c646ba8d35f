"""`tmdlearn crossmodal`: AFM morphology from spectra; spectra across modalities."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Predict AFM morphology from spectra; generate spectra across modalities."""
