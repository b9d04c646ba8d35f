"""`tmdlearn inspect FILE...`: what a file holds, with axes in physical units."""

from __future__ import annotations

from pathlib import Path

import typer


def inspect(files: list[Path] = typer.Argument(..., help="Instrument files to describe.")) -> None:
    """Print modality, shape, axes with units and key metadata of each file."""
    raise NotImplementedError("filled by the readers work (issue 2)")
