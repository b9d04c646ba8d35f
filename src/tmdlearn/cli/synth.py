"""`tmdlearn synth`: Generate the embedded datasets (simulators with stored ground truth)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Generate the embedded datasets (simulators with stored ground truth)."""
