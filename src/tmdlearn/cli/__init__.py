"""The ``tmdlearn`` command: one sub-command group per workflow stage.

Each group lives in its own module; user mistakes (``InputError``) print one line and exit 2.
"""

from __future__ import annotations

import inspect as inspect_module
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
from tmdlearn.report.outdir import running_command

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


def _reflowed(doc: str) -> str:
    """``doc`` with each paragraph on one line."""
    return "\n\n".join(" ".join(p.split()) for p in inspect_module.cleandoc(doc).split("\n\n"))


def _reflowed_help(command: typer.Typer) -> None:
    """Every command's and group's help from its docstring with each paragraph on one line:
    typer rewraps only the first paragraph and keeps the source's line breaks in the others."""
    for info in [*command.registered_commands, command.registered_callback]:
        if info is not None and _unset(info.help) and getattr(info.callback, "__doc__", None):
            info.help = _reflowed(info.callback.__doc__)
    for group in command.registered_groups:
        _reflowed_help(group.typer_instance)
        callback = group.typer_instance.registered_callback
        if _unset(group.help) and callback is not None and not _unset(callback.help):
            group.help = callback.help


def _unset(help_text) -> bool:
    """Whether typer was given no help text (None, or its placeholder for a default)."""
    return help_text is None or isinstance(help_text, typer.models.DefaultPlaceholder)


_reflowed_help(app)


def _command_name(argv: list[str]) -> str:
    """The command ``argv`` runs, as its words (``tmdlearn stem predict``)."""
    command, words = typer.main.get_command(app), ["tmdlearn"]
    for token in argv:
        command = getattr(command, "commands", {}).get(token)
        if command is None:
            break
        words.append(token)
    return " ".join(words)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; a user's mistake gives one line and exit code 2."""
    running_command[0] = _command_name(sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="tmdlearn")
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    finally:
        running_command[0] = None
