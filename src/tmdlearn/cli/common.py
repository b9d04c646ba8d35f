"""Helpers shared by the command modules."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

import typer

from tmdlearn.config import load_config
from tmdlearn.engine.scheduler import SCHEDULER_HELP

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="YAML config file.")
SET_OPTION = typer.Option(
    None, "--set", "-s", help="Override a config key: key.sub=value (repeatable)."
)
OVERWRITE_OPTION = typer.Option(
    False, "--overwrite", help="Write into a non-empty --out folder that is not a tmdlearn run "
    "folder (files of the same name are replaced)."
)
RUN_OUT_OPTION = typer.Option(..., "--out", "-o", help="Run folder to write.")


def run_workflow(workflow, cfg: dict, out: Path, overwrite: bool, started: float):
    """Prepare the run folder ``out``, run a workflow module (its ``load``, then ``run``) on
    ``cfg`` and write the folder (the run started at ``started``, seconds since the epoch);
    returns the Outcome."""
    from tmdlearn.report.outdir import prepare_out
    from tmdlearn.report.run import write_outcome

    prepare_out(out, overwrite)
    outcome = workflow.run(workflow.load(cfg), cfg)
    write_outcome(out, outcome, cfg, started)
    return outcome


def report_skipped(outcome) -> None:
    """The error line of every file of a folder that was left out (``outcome.info["skipped"]``,
    one line each); exit code 2 if any.

    Parameters
    ----------
    outcome : Outcome
        A workflow's outcome.
    """
    skipped = outcome.info.get("skipped", ())
    for line in skipped:
        typer.echo(f"error: {line}", err=True)
    if skipped:
        raise typer.Exit(2)


def config_from_cli(path: Path | None, overrides: list[str] | None, defaults: dict) -> dict:
    """The effective config of a command: defaults < YAML file < ``--set`` overrides, every
    key checked against the defaults (an unknown key: one line naming the closest, exit 2)."""
    return load_config(path, overrides, defaults)


def engine_options(only_for: str = "",
                   workers_null: str = "one thread, or one process per CPU core"):
    """The ``--scheduler`` and ``--workers`` typer options of a batch command.

    Parameters
    ----------
    only_for : str
        The inputs the options apply to when not all of the command's (e.g. ``"zarr map
        stores"``); "" for all.
    workers_null : str
        What ``run.workers: null`` means for the command.

    Returns
    -------
    tuple
        The ``--scheduler`` and ``--workers`` options (``typer.Option``, default None).
    """
    scope, of = (f" Only for {only_for}.", f" of {only_for}") if only_for else ("", "")
    return (typer.Option(None, "--scheduler", help=f"{SCHEDULER_HELP}{scope} Default: the "
                         "config's run.scheduler (auto); docs/scale.md."),
            typer.Option(None, "--workers", help=f"Threads or local worker processes{of} "
                         f"(default: the config's run.workers; null: {workers_null})."))


SCHEDULER_OPTION, WORKERS_OPTION = engine_options()


def engine_config(path: Path | None, overrides: list[str] | None, defaults: dict,
                  scheduler: str | None, workers: int | None) -> dict:
    """The effective config of a command with ``--scheduler`` and ``--workers``:
    :func:`config_from_cli`, then :func:`set_engine`.

    Parameters
    ----------
    path : Path or None
        ``--config``, a YAML file.
    overrides : list of str or None
        ``--set`` values, key.sub=value.
    defaults : dict
        The workflow's ``DEFAULTS`` (with a ``run`` section).
    scheduler : str or None
        ``--scheduler``; None keeps the config's ``run.scheduler``.
    workers : int or None
        ``--workers``; None keeps the config's ``run.workers``.

    Returns
    -------
    dict
        The config, checked against ``defaults``.
    """
    return set_engine(config_from_cli(path, overrides, defaults), scheduler, workers)


def set_engine(config: dict, scheduler: str | None, workers: int | None) -> dict:
    """``config`` with ``--scheduler`` and ``--workers``, when given, as ``run.scheduler`` and
    ``run.workers``.

    Parameters
    ----------
    config : dict
        A workflow's effective config (it has a ``run`` section).
    scheduler : str or None
        ``--scheduler``; None keeps the config's.
    workers : int or None
        ``--workers``; None keeps the config's.

    Returns
    -------
    dict
        ``config``, updated in place.
    """
    if scheduler is not None:
        config["run"]["scheduler"] = scheduler
    if workers is not None:
        config["run"]["workers"] = workers
    return config


def add_run_command(app: typer.Typer, module: str, help_text: str,
                    report: Callable[[object, Path], None]) -> None:
    """Add the command ``run`` (``--config``, ``--out``, ``--overwrite``, ``--set``,
    ``--scheduler``, ``--workers``) to ``app``: the config of the workflow ``module`` (a module
    name, imported when the command runs) is loaded and run into the run folder by
    :func:`run_workflow`, then ``report(outcome, out)`` prints its summary."""

    @app.command("run", help=help_text)
    def run(config: Path | None = CONFIG_OPTION, out: Path = RUN_OUT_OPTION,
            overwrite: bool = OVERWRITE_OPTION, overrides: list[str] | None = SET_OPTION,
            scheduler: str | None = SCHEDULER_OPTION,
            workers: int | None = WORKERS_OPTION) -> None:
        started = time.time()
        workflow = importlib.import_module(module)
        cfg = engine_config(config, overrides, workflow.DEFAULTS, scheduler, workers)
        report(run_workflow(workflow, cfg, out, overwrite, started), out)
