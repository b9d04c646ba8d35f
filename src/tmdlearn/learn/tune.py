"""Hyperparameter search with Optuna: search spaces written as plain dicts (YAML-friendly), studies
stored in SQLite (or any SQLAlchemy URL, e.g. PostgreSQL) so that a search can be resumed.

A search space maps a parameter name to one of::

    {type: float, low: 1e-4, high: 1e-2, log: true}
    {type: int, low: 1, high: 4}
    {type: categorical, choices: [relu, elu]}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from tmdlearn.errors import InputError

_TYPES = ("float", "int", "categorical")


def check_space(space: dict[str, dict]) -> None:
    """Raise InputError naming the first malformed entry of a search space.

    Parameters
    ----------
    space : dict of str to dict
        Search space (see the module docstring).
    """
    for name, spec in space.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in _TYPES:
            raise InputError(f"search space entry {name!r} needs type one of {_TYPES}")
        if kind == "categorical" and not spec.get("choices"):
            raise InputError(f"search space entry {name!r} needs a non-empty choices list")
        if kind != "categorical":
            try:
                ordered = float(spec["low"]) <= float(spec["high"])
            except (KeyError, TypeError, ValueError):
                ordered = False
            if not ordered:
                raise InputError(f"search space entry {name!r} needs numbers low <= high")


def suggest(trial: optuna.Trial, space: dict[str, dict]) -> dict[str, Any]:
    """One value per parameter of ``space`` drawn by ``trial``.

    Parameters
    ----------
    trial : optuna.Trial
        The trial that draws the values.
    space : dict of str to dict
        Search space (see the module docstring), already checked by :func:`check_space`.

    Returns
    -------
    dict of str to value
        Parameter name to the drawn float, int or choice.
    """
    params = {}
    for name, spec in space.items():
        if spec["type"] == "float":
            params[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                               log=bool(spec.get("log", False)))
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                             log=bool(spec.get("log", False)))
        else:
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
    return params


def storage_url(storage: str | Path | None) -> str | None:
    """An Optuna storage URL: a path becomes ``sqlite:///path``; URLs pass unchanged; None
    keeps the study in memory.

    Parameters
    ----------
    storage : str or Path, optional
        SQLite file path (its folder is created) or SQLAlchemy URL.

    Returns
    -------
    str or None
        The URL (absolute path for SQLite), or None.
    """
    if storage is None:
        return None
    text = str(storage)
    if "://" in text:
        return text
    Path(text).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(text).resolve()}"


def tune(objective: Callable[[dict[str, Any], optuna.Trial], float], space: dict[str, dict],
         n_trials: int, *, study_name: str = "tmdlearn", storage: str | Path | None = None,
         seed: int = 0, direction: str = "minimize") -> optuna.Study:
    """Run up to ``n_trials`` trials of ``objective(params, trial)`` over ``space``.

    With a ``storage`` (path or URL) the study named ``study_name`` is created or resumed:
    completed trials are kept and only the missing ones run (the total is ``n_trials``).

    Parameters
    ----------
    objective : callable
        ``objective(params, trial) -> float``, ``params`` drawn by :func:`suggest`.
    space : dict of str to dict
        Search space (see the module docstring).
    n_trials : int
        Completed trials the study should hold at the end (>= 1).
    study_name : str
        Name of the study in ``storage``.
    storage : str or Path, optional
        SQLite path or SQLAlchemy URL (:func:`storage_url`); None keeps the study in memory.
    seed : int
        Seed of the TPE sampler.
    direction : str
        "minimize" or "maximize".

    Returns
    -------
    optuna.Study
        The study with all its trials (``best_params``, ``trials_dataframe()``).
    """
    check_space(space)
    if n_trials < 1:
        raise InputError(f"n_trials must be at least 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=storage_url(storage),
                                load_if_exists=True, direction=direction,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    remaining = n_trials - done
    if remaining > 0:
        study.optimize(lambda trial: objective(suggest(trial, space), trial),
                       n_trials=remaining)
    return study
