"""The ``tmdlearn`` command: one sub-command group per workflow stage.

Each group lives in its own module; user mistakes (``InputError``) print one line and exit 2.
"""

from __future__ import annotations

import sys

import typer

from tmdlearn import __version__
from tmdlearn.cli import (
    afm,
    classify,
    convert,
    crossmodal,
    demo,
    explain,
    inspect,
    models,
    spectra,
    stem,
    synth,
)
from tmdlearn.errors import InputError

app = typer.Typer(
    name="tmdlearn",
    help="Machine learning for 2D TMD films: AFM, Raman, PL and HAADF-STEM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tmdlearn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Machine learning for 2D TMD films: AFM, Raman, PL and HAADF-STEM."""


app.command("inspect")(inspect.inspect)
app.command("demo")(demo.demo)
app.command("convert")(convert.convert)
for _module in (synth, spectra, afm, stem, classify, crossmodal, explain, models):
    app.add_typer(_module.app, name=_module.__name__.rsplit(".", 1)[-1])


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; a user's mistake gives one line and exit code 2."""
    try:
        app(args=argv, prog_name="tmdlearn")
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
