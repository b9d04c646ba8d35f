"""The one result type of every workflow's ``run``: what the run folder holds, in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Outcome:
    """What a workflow run produced; :func:`tmdlearn.report.run.write_outcome` writes it.

    Attributes
    ----------
    metrics : dict
        Headline numbers (JSON-ready, ``metrics.json``).
    tables : dict
        DataFrames by file stem (``tables/<name>.csv`` and ``.md``).
    figures : dict
        Matplotlib figures, or functions drawing one when it is written (one open at a time),
        by file stem (``figures/<name>.png``).
    models : dict
        The fitted models by name.
    files : dict
        Other outputs (models, maps, notes), each a function writing the file at the path it is
        given, by path in the run folder; a writer returning a model folder, or a list of them,
        as :func:`tmdlearn.models.store.write_model` does, has it listed as ``saved`` under
        ``models`` in ``run.json``.
    loaded_models : list of Path
        The model folders the run applied (listed as ``loaded``).
    info : dict
        More entries of ``run.json``.
    details : object
        The workflow's own results for further analysis in Python (e.g. explain's per-pair
        results).
    folders : (str, str)
        The run folder's sub-folders for tables and figures ("" for the run folder itself).
    """

    metrics: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    files: dict[str, Callable[[Path], Any]] = field(default_factory=dict)
    loaded_models: list[Path] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    details: Any = None
    folders: tuple[str, str] = ("tables", "figures")
