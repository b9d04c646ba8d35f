"""Helpers shared by the command modules."""

from __future__ import annotations

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


def config_from_cli(path: Path | None, overrides: list[str] | None, defaults: dict) -> dict:
    """The effective config of a command: defaults < YAML file < ``--set`` overrides, every
    key checked against the defaults (an unknown key: one line naming the closest, exit 2)."""
    return load_config(path, overrides, defaults)
SCHEDULER_OPTION = typer.Option(
    None, "--scheduler", help=f"{SCHEDULER_HELP} Default: the config's run.scheduler (auto); "
    "docs/scale.md."
)
WORKERS_OPTION = typer.Option(
    None, "--workers", help="Threads or local worker processes (default: the config's "
    "run.workers; null: one thread, or one process per CPU core)."
)


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
