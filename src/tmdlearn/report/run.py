"""Run folders: every workflow's :class:`~tmdlearn.outcome.Outcome` written the same way, and
run.json (what produced it: command, config, versions, seed, timing). ``write_json`` is
:func:`tmdlearn.io.atomic.write_json`."""

from __future__ import annotations

import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

from tmdlearn import __version__
from tmdlearn.io.atomic import write_json
from tmdlearn.report.outdir import command_name, run_record

#: ``scheme://user:password@`` in a URL (a database storage of an Optuna study).
_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.I)


def without_passwords(value: Any) -> Any:
    """``value`` with the password of every URL in its strings replaced by ``***``.

    Parameters
    ----------
    value : object
        A config, a command line (list of str) or a string; other values pass unchanged.

    Returns
    -------
    object
        The same structure, new where a string changed.
    """
    if isinstance(value, str):
        return _PASSWORD.sub(r"\1***@", value)
    if isinstance(value, dict):
        return {k: without_passwords(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(without_passwords(v) for v in value)
    return value


def write_run_json(run_dir: str | Path, config: dict[str, Any], started: float,
                   **extra: Any) -> Path:
    """Write ``run_dir/run.json`` describing the run.

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    config : dict
        The run's config (passwords in URLs are written as ``***``, as in the command).
    started : float
        When the run began, a ``time.time()`` value (s).
    **extra
        More entries of ``run.json``.

    Returns
    -------
    Path
        The written ``run.json``.
    """
    import numpy
    import torch

    payload = {
        "tmdlearn": __version__,
        "command": without_passwords(sys.argv),
        "command_name": command_name(),
        "config": without_passwords(config),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        **extra,
    }
    return write_json(Path(run_dir) / "run.json", payload)


def write_outcome(out: str | Path, outcome, config: dict[str, Any],
                  started: float | None = None) -> Path:
    """Write a workflow's ``outcome`` into the run folder ``out``, every file atomically.

    Writes ``tables/`` (CSV and Markdown), ``figures/`` (PNG; both folders as
    ``outcome.folders`` says), its other files, ``metrics.json`` and ``run.json`` (with
    ``outcome.info``, ``models``: the models the run saved or loaded, :func:`model_records`,
    and ``outputs``: the files written, relative to ``out``). Files an earlier run of the same
    command recorded in its ``outputs`` and this run did not write again are removed (a rerun
    on fewer images leaves no stale levelled maps or previews).

    Parameters
    ----------
    out : str or Path
        The run folder (created if missing).
    outcome : Outcome
        What the workflow's ``run`` returned.
    config : dict
        The run's config, saved in ``run.json``.
    started : float, optional
        When the run began, a ``time.time()`` value (s); default now.

    Returns
    -------
    Path
        ``out``.
    """
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.tables import write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_outputs(out)
    tables, figures = outcome.folders
    outputs = []
    for name, table in outcome.tables.items():
        write_table(table, out / tables / name)
        outputs += [f"{Path(tables, name).as_posix()}.{ext}" for ext in ("csv", "md")]
    for name, figure in outcome.figures.items():
        save_figure(figure() if callable(figure) else figure, out / figures / f"{name}.png")
        outputs.append(f"{Path(figures, name).as_posix()}.png")
    written = [write(out / name) for name, write in outcome.files.items()]
    outputs += list(outcome.files)
    write_json(out / "metrics.json", outcome.metrics)
    models = model_records(out, written, outcome.loaded_models)
    write_run_json(out, config, time.time() if started is None else started, **outcome.info,
                   **({"models": models} if models else {}), outputs=outputs)
    for name in sorted(set(earlier) - set(outputs)):
        stale = out / name
        if stale.is_file() and out.resolve() in stale.resolve().parents:
            stale.unlink()
    return out


def _earlier_outputs(out: Path) -> list[str]:
    """The ``outputs`` an earlier run of the running command recorded in ``out/run.json``
    (none for another command's run, whose folder only ``--overwrite`` lets one write into)."""
    record = run_record(out)
    if record is None or record.get("command_name") != command_name():
        return []
    outputs = record.get("outputs")
    return [str(name) for name in outputs] if isinstance(outputs, list) else []


def model_records(out: str | Path, written, loaded=()) -> list[dict[str, Any]]:
    """``run.json``'s ``models`` entries (:func:`tmdlearn.models.store.model_record`).

    Parameters
    ----------
    out : str or Path
        The run folder (paths are recorded relative to it).
    written : iterable
        The writers' return values: a path or a list of paths each; those holding a model card
        are the saved models.
    loaded : iterable of Path
        The model folders the run loaded.

    Returns
    -------
    list of dict
        The loaded models' entries, then the saved models'.
    """
    from tmdlearn.models.card import CARD_NAME
    from tmdlearn.models.store import model_record

    saved = []
    for result in written:
        for path in result if isinstance(result, list | tuple) else [result]:
            if isinstance(path, str | Path) and (Path(path) / CARD_NAME).is_file():
                saved.append(Path(path))
    return ([model_record(folder, out, "loaded") for folder in loaded]
            + [model_record(folder, out, "saved") for folder in saved])
