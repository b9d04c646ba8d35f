"""`tmdlearn spectra`: Preprocess and fit Raman / PL spectra and maps."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Preprocess and fit Raman / PL spectra and maps."""
