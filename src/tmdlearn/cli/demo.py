"""`tmdlearn demo`: generate the embedded data, run every workflow, write a report."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(out: Path = typer.Option(Path("demo-output"), help="Run folder to write.")) -> None:
    """Run every workflow on the embedded data and write a report."""
    raise NotImplementedError("filled as workflows land")
