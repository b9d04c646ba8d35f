"""How a workflow picks its engine from the ``run`` section of its config.

Every batch workflow documents ``run.scheduler`` and ``run.workers`` (:func:`run_section`,
checked with the config by :func:`check_run`; :data:`RUN_HELP` is their meaning in the docs'
config tables) and opens its engine with
:func:`workflow_engine`, which turns ``auto`` into ``processes`` only when the work is large
enough to pay for a local cluster's start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tmdlearn.config import Checked
from tmdlearn.engine.scheduler import ADDRESS_SCHEMES, SCHEDULERS, Engine, open_engine
from tmdlearn.errors import InputError
from tmdlearn.progress import track

#: The ``run`` keys of every batch workflow's DEFAULTS (:func:`run_section`).
RUN_DEFAULTS = {"scheduler": "auto", "workers": None}
#: Their meaning, shared by the docs' config tables (``HELP`` of each workflow).
RUN_HELP = {
    "run.scheduler": "`threads`, `processes` (a local Dask cluster), `auto` (processes for "
                     "large work) or a Dask scheduler address `tcp://host:8786` (`--scheduler`; "
                     "docs/scale.md)",
    "run.workers": "threads or local worker processes; null: one thread, or one process per "
                   "CPU core (`--workers`)",
}


def check_run(run: dict) -> None:
    """InputError unless ``run.scheduler`` is a known scheduler or a Dask address and
    ``run.workers`` a positive integer or null.

    Parameters
    ----------
    run : dict
        A workflow's ``run`` section.
    """
    workers = run.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise InputError(f"config key 'run.workers' must be a positive integer or null, got "
                         f"{workers!r}")
    scheduler = str(run.get("scheduler") or "auto").strip()
    if scheduler not in SCHEDULERS and not scheduler.startswith(ADDRESS_SCHEMES):
        raise InputError(f"config key 'run.scheduler': unknown {scheduler!r}; one of "
                         f"{', '.join(SCHEDULERS)} or a Dask scheduler address such as "
                         "tcp://host:8786")


def run_section(**more: Any) -> Checked:
    """The ``run`` section of a workflow's DEFAULTS: :data:`RUN_DEFAULTS` and ``more`` keys,
    checked with the config by :func:`check_run`.

    Parameters
    ----------
    **more
        The workflow's own ``run`` keys and their defaults.

    Returns
    -------
    Checked
    """
    return Checked({**RUN_DEFAULTS, **more}, check=check_run)


@contextmanager
def workflow_engine(run: dict, size: int, large_from: int,
                    parallel_threads: bool = True) -> Iterator[Engine]:
    """The engine of a workflow's ``run`` settings for ``n_tasks`` tasks.

    Parameters
    ----------
    run : dict
        The workflow's ``run`` section: ``scheduler`` (``auto``, ``threads``, ``processes`` or
        a scheduler address) and ``workers`` (int or None).
    size : int
        How much work the workflow is about to hand the engine (images, items, files, in the
        unit of ``large_from``).
    large_from : int
        ``auto`` runs on ``processes`` from this ``size`` on, else on threads.
    parallel_threads : bool
        Whether tasks may run in several threads of this process at once. False for tasks
        that seed torch's process-wide generator or draw pyplot figures: ``threads`` then runs
        them one after another, as a plain loop would.

    Yields
    ------
    Engine
        Threads: ``workers`` of them (None: 1); processes: ``workers`` single-threaded worker
        processes (None: one per CPU core); an address: its cluster's workers.
    """
    check_run(run)
    scheduler, workers = str(run.get("scheduler") or "auto").strip(), run.get("workers")
    large = size >= large_from
    if scheduler == "threads" or (scheduler == "auto" and not large):
        workers = (workers or 1) if parallel_threads else 1
    with open_engine(scheduler, workers, large=large) as engine:
        yield engine


def map_tasks(engine: Engine | None, fn: Callable[[Any], Any], tasks: Sequence[Any],
              label: str = "") -> list[Any]:
    """``[fn(task) for task in tasks]`` on ``engine``, or a plain loop here without one.

    Parameters
    ----------
    engine : Engine or None
        Where the tasks run (:meth:`Engine.map`); None or one thread: one after another in
        this thread.
    fn : callable
        Module-level function (or a ``functools.partial`` of one), picklable for a cluster.
    tasks : sequence
        One argument of ``fn`` per task.
    label : str
        Progress-bar text, on the loop here or on the engine's tasks.

    Returns
    -------
    list
        ``fn(task)`` per task, in the order of ``tasks`` on the engine as in the loop.
    """
    if engine is None or (engine.client is None and engine.workers == 1):
        return [fn(task) for task in track(tasks, label)]
    return engine.map(fn, tasks, label)
