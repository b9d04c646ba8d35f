"""`tmdlearn classify`: Transfer-learning material classification from AFM."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Transfer-learning material classification from AFM."""
