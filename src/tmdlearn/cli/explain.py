"""`tmdlearn explain`: Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""
