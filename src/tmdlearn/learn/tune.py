"""Hyperparameter search with Optuna: search spaces written as plain dicts (YAML-friendly), studies
stored in SQLite (or any SQLAlchemy URL, e.g. PostgreSQL) so that a search can be resumed and
shared by several processes or machines.

A search space maps a parameter name to one of::

    {type: float, low: 1e-4, high: 1e-2, log: true}
    {type: int, low: 1, high: 4}
    {type: categorical, choices: [relu, elu]}

Every process that calls :func:`tune` with the same storage and study name works on one study:
``n_trials`` is the study's total of complete trials, whoever runs them. A process takes a new
trial while the complete and running trials are fewer than ``n_trials``, then waits for the
trials that others run, and returns when the study holds ``n_trials`` complete trials (so every
worker returns the same best trial). A worker killed mid-trial stops sending heartbeats; after
:data:`GRACE_S` its trial is marked failed and another worker runs one in its place. A trial
records the host and process that run it: one of this host whose process is gone (a killed
run, resumed here) is failed at once (:func:`fail_dead_local_trials`), without that wait.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage
from optuna.trial import TrialState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from tmdlearn.errors import InputError

_TYPES = ("float", "int", "categorical")
#: Seconds a database server has to answer the first connection (PostgreSQL, MySQL).
CONNECT_TIMEOUT_S = 10
#: Seconds a SQLite writer waits for another process's lock before failing.
SQLITE_WAIT_S = 60
#: Seconds between a running trial's heartbeats, and without one before it counts as dead.
HEARTBEAT_S, GRACE_S = 30, 120
#: Seconds between looks at the study while other workers run its last trials.
POLL_S = 1.0
#: Python modules of the database drivers, by SQLAlchemy driver name, and how to install them.
DRIVERS = {"psycopg": "pip install 'tmdlearn[postgres]'", "mysqldb": "pip install mysqlclient",
           "pymysql": "pip install pymysql"}
_TABLE_TRIES = 5
_HELD = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
#: User attribute of a trial: the ``host`` and ``pid`` of the process that runs it.
WORKER_ATTR = "worker"


def check_space(space: dict[str, dict], where: str = "") -> None:
    """Raise InputError naming the first malformed entry of a search space.

    Parameters
    ----------
    space : dict of str to dict
        Search space (see the module docstring).
    where : str
        Dotted prefix of its entries' config keys in messages (e.g. ``regression.mlp.space.``).
    """
    if not isinstance(space, dict):
        raise InputError(f"search space {where.rstrip('.')!r} must be a mapping of "
                         f"parameters to specs, got {space!r}")
    for name, spec in space.items():
        entry = f"search space entry '{where}{name}'"
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in _TYPES:
            raise InputError(f"{entry} needs type one of {_TYPES}")
        if kind == "categorical" and not spec.get("choices"):
            raise InputError(f"{entry} needs a non-empty choices list")
        if kind != "categorical":
            try:
                ordered = float(spec["low"]) <= float(spec["high"])
            except (KeyError, TypeError, ValueError):
                ordered = False
            if not ordered:
                raise InputError(f"{entry} needs numbers low <= high")


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


def open_storage(storage: str | Path | BaseStorage | None) -> BaseStorage | None:
    """The Optuna storage of a path or database URL, connected and checked.

    Open it once per process and pass it on to every :func:`tune` of a run: each storage holds
    its own pool of database connections.

    SQLite writers wait up to :data:`SQLITE_WAIT_S` for each other's locks; ``postgresql://``
    goes through psycopg (the ``postgres`` extra); a server has :data:`CONNECT_TIMEOUT_S` to
    answer. Processes that open a new storage at the same moment retry the creation of its
    tables. Running trials send heartbeats (:data:`HEARTBEAT_S`) so that the trial of a killed
    worker is failed after :data:`GRACE_S` and run again by another.

    Parameters
    ----------
    storage : str, Path or optuna.storages.BaseStorage, optional
        SQLite file path or URL (``sqlite:///``, ``postgresql://``, ``mysql://``); a storage
        already open is returned as it is; None keeps the study in memory.

    Returns
    -------
    optuna.storages.BaseStorage or None
        The storage (an ``RDBStorage`` for a path or URL), or None for None.

    Raises
    ------
    InputError
        Not a database URL, its driver is not installed, or the database does not answer.
    """
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    try:
        parsed = make_url(storage_url(storage))
        shown = parsed.render_as_string(hide_password=True)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        parsed.get_dialect()
    except SQLAlchemyError as error:
        raise InputError("the storage is neither a file path nor a database URL (sqlite:///, "
                         f"postgresql://, mysql://): {error}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if driver in DRIVERS:
        try:
            importlib.import_module(driver)
        except ImportError:
            raise InputError(f"{shown}: needs the {driver} driver ({DRIVERS[driver]})") from None
    connect_args = ({"timeout": SQLITE_WAIT_S} if backend == "sqlite" else
                    {"connect_timeout": CONNECT_TIMEOUT_S} if backend in ("postgresql", "mysql")
                    else {})
    url = parsed.render_as_string(hide_password=False)
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args)
        try:
            engine.connect().close()
        finally:
            engine.dispose()
    except ImportError as error:
        missing = error.__cause__ or error
        raise InputError(f"{shown}: its database driver is not installed ({missing})") from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise InputError(f"{shown}: the database does not answer or refuses ({reason})") from None
    for attempt in range(_TABLE_TRIES):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats
                return optuna.storages.RDBStorage(
                    url, engine_kwargs={"connect_args": connect_args},
                    heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
        except SQLAlchemyError:  # another process creating the tables at the same moment
            if attempt + 1 == _TABLE_TRIES:
                raise
            time.sleep(0.1 * (attempt + 1))


def tune(objective: Callable[[dict[str, Any], optuna.Trial], float], space: dict[str, dict],
         n_trials: int, *, study_name: str = "tmdlearn",
         storage: str | Path | BaseStorage | None = None, seed: int = 0,
         direction: str = "minimize") -> optuna.Study:
    """Run the trials of ``objective(params, trial)`` over ``space`` that the study still
    lacks, alone or beside other processes on the same study.

    With a ``storage`` (path or URL) the study named ``study_name`` is created or resumed:
    completed trials are kept and only the missing ones run. Several processes may run this on
    one study at once: each takes trials while the study's complete and running trials are
    fewer than ``n_trials``, then waits for the others' (module docstring). A process draws
    from one TPE sampler seeded ``seed + k``, k the number of its first trial: a new search run
    alone draws as ``TPESampler(seed)``, and workers or a resumed run do not repeat the draws
    of another.

    Parameters
    ----------
    objective : callable
        ``objective(params, trial) -> float``, ``params`` drawn by :func:`suggest`.
    space : dict of str to dict
        Search space (see the module docstring).
    n_trials : int
        Complete trials the study holds at the end (>= 1), counting those of earlier runs and
        of other workers.
    study_name : str
        Name of the study in ``storage``.
    storage : str, Path or optuna.storages.BaseStorage, optional
        SQLite path, database URL or storage already open (:func:`open_storage`); None keeps
        the study in memory.
    seed : int
        Seed of the TPE sampler (plus the number of this process's first trial).
    direction : str
        "minimize" or "maximize".

    Returns
    -------
    optuna.Study
        The study with all its trials (``best_params``, ``trials_dataframe()``); trials that
        lost a race for the last places are pruned without running ``objective``.

    Raises
    ------
    InputError
        A malformed space, ``n_trials`` < 1, a storage that cannot be opened, or a study of
        that name that searches another space.
    """
    check_space(space)
    if n_trials < 1:
        raise InputError(f"n_trials must be at least 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = open_storage(storage)
    study = optuna.create_study(study_name=study_name, storage=opened, load_if_exists=True,
                                direction=direction, sampler=_sampler(seed))
    _claim_space(study, space)

    seeded = []

    def one_trial(trial: optuna.Trial) -> float:
        held = study.get_trials(deepcopy=False, states=_HELD)
        if sum(t.number < trial.number for t in held) >= n_trials:
            raise optuna.TrialPruned("another worker took the study's last trial")
        if not seeded:  # this process's first trial: its number keeps workers apart
            study.sampler = _sampler(seed + trial.number)
            seeded.append(trial.number)
        trial.set_user_attr(WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})
        _first_heartbeat(opened, trial)
        return objective(suggest(trial, space), trial)

    while True:
        fail_dead_local_trials(study)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # trials of killed workers
        states = [t.state for t in study.get_trials(deepcopy=False)]
        complete = states.count(TrialState.COMPLETE)
        if complete >= n_trials:
            return study
        if complete + states.count(TrialState.RUNNING) < n_trials:
            study.optimize(one_trial, n_trials=1)
        else:
            time.sleep(POLL_S)  # the last trials run in other workers


def fail_dead_local_trials(study: optuna.Study) -> list[int]:
    """Mark failed the running trials of ``study`` that a process of this host ran and that
    process is gone (a killed run): their heartbeats would take :data:`GRACE_S` to lapse.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    list of int
        Numbers of the trials failed.
    """
    host, failed = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if isinstance(worker, dict) and worker.get("host") == host \
                and not _alive(int(worker.get("pid", 0))):
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def _first_heartbeat(storage: BaseStorage | None, trial: optuna.Trial) -> None:
    """Record the trial's first heartbeat before its objective runs. Optuna's heartbeat thread
    may not have run yet when a worker is killed, and a running trial that never had a
    heartbeat is never found stale: every worker would wait for it forever."""
    if isinstance(storage, optuna.storages.RDBStorage) and storage.get_heartbeat_interval():
        storage.record_heartbeat(trial._trial_id)  # its row id: Optuna has no public getter


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (this process counts as alive)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _sampler(seed: int) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _claim_space(study: optuna.Study, space: dict[str, dict]) -> None:
    """Record ``space`` in a new study; refuse a study that searches another."""
    plain = json.loads(json.dumps(space))
    held = study.user_attrs.get("space")
    if held is None:
        study.set_user_attr("space", plain)
    elif held != plain:
        raise InputError(f"the study {study.study_name!r} in this storage searches another "
                         "space: give another study name (--study) or storage")
