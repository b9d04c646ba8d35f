"""Helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path

import typer

from tmdlearn.config import load_config

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
