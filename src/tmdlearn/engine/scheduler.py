"""The engine: one way to run a function over many tasks, whatever runs them.

``threads`` runs them in this process (small jobs: no start-up, numpy releases the GIL in
part), ``processes`` on a local ``dask.distributed`` cluster (one single-threaded worker
process per core: no GIL, the default for large work), and an address such as
``tcp://host:8786`` on a running Dask cluster (SLURM, PBS, Kubernetes: docs/scale.md). The
results and their order do not depend on the choice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tmdlearn.errors import InputError
from tmdlearn.progress import track

T = TypeVar("T")
R = TypeVar("R")
#: Scheduler names besides an address; ``auto`` is ``processes`` for large work, else threads.
SCHEDULERS = ("auto", "threads", "processes")
#: Address schemes of a running Dask scheduler.
ADDRESS_SCHEMES = ("tcp://", "tls://", "ucx://", "ws://", "wss://")
#: The ``--scheduler`` help text of every batch command.
SCHEDULER_HELP = ("Where the work runs: threads, processes (a local Dask cluster), auto "
                  "(processes for large work) or a Dask scheduler address (tcp://host:8786).")
#: Seconds to wait for a scheduler address to answer.
CONNECT_TIMEOUT_S = 10


@dataclass
class Engine:
    """Runs tasks on ``workers`` threads, or on the workers of a Dask ``client``.

    Attributes
    ----------
    scheduler : str
        ``"threads"``, ``"processes"`` or the scheduler's address.
    workers : int
        Tasks run at once (threads, or the cluster's worker threads).
    client : distributed.Client or None
        The Dask client (None for threads).
    """

    scheduler: str
    workers: int
    client: Any = None

    def completed(self, fn: Callable[[T], R], tasks: Sequence[T],
                  label: str = "") -> Iterator[tuple[int, R]]:
        """Run ``fn`` on every task; yield ``(index, result)`` as each finishes.

        Parameters
        ----------
        fn : callable
            A module-level function (it is pickled for processes and clusters).
        tasks : sequence
            Its arguments, one per task; keep them small (a path and a slice, not the data).
        label : str
            Progress-bar text; the bar counts finished tasks.

        Yields
        ------
        (int, object)
            The task's position in ``tasks`` and ``fn(task)``. The first failure is raised.
        """
        if self.client is None:
            with ThreadPoolExecutor(self.workers) as pool:
                futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
                for future in track(as_completed(futures), label, total=len(futures)):
                    yield futures[future], future.result()
            return
        from distributed import as_completed as dask_completed

        futures = self.client.map(fn, list(tasks), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            done = dask_completed(futures, with_results=True)
            for future, result in track(done, label, total=len(futures)):
                yield index[future.key], result
        finally:
            self.client.cancel(futures)

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], label: str = "") -> list[R]:
        """``[fn(task) for task in tasks]`` run by the engine, in input order.

        Parameters
        ----------
        fn : callable
            A module-level function (it is pickled for processes and clusters).
        tasks : sequence
            Its arguments, one per task.
        label : str
            Progress-bar text.

        Returns
        -------
        list
            ``fn(task)`` per task, in the order of ``tasks``.
        """
        results: list[Any] = [None] * len(tasks)
        for i, result in self.completed(fn, tasks, label):
            results[i] = result
        return results


@contextmanager
def open_engine(scheduler: str = "threads", workers: int | None = None,
                large: bool = False) -> Iterator[Engine]:
    """The engine of ``scheduler``, closed (its local cluster stopped) on leaving the block.

    Parameters
    ----------
    scheduler : str
        ``threads``, ``processes``, ``auto`` (``processes`` when ``large``, else ``threads``) or
        the address of a running Dask scheduler (``tcp://host:8786``).
    workers : int, optional
        Threads, or local worker processes (one thread each); default: the CPU cores. Ignored
        for an address (the cluster has its own).
    large : bool
        Whether the work is large enough to pay a local cluster's start-up (a few seconds).

    Yields
    ------
    Engine
    """
    name = str(scheduler).strip()
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    n = workers or os.cpu_count() or 1
    if name == "auto":
        name = "processes" if large else "threads"
    if name == "threads":
        yield Engine("threads", n)
    elif name == "processes":
        import dask
        from distributed import Client, LocalCluster

        with dask.config.set({_ENVIRON: _worker_environ()}), \
                LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield Engine("processes", n, client)
    elif name.startswith(ADDRESS_SCHEMES):
        with _connected(name) as client:
            yield Engine(name, max(1, sum(client.nthreads().values())), client)
    else:
        raise InputError(f"unknown scheduler {scheduler!r}: use {', '.join(SCHEDULERS)} or a "
                         "Dask scheduler address such as tcp://host:8786")


#: Dask's environment of new worker processes.
_ENVIRON = "distributed.nanny.pre-spawn-environ"


def _worker_environ() -> dict:
    """Dask's worker environment without ``MALLOC_TRIM_THRESHOLD_``: that setting freezes
    glibc's mmap threshold, so every array of more than 128 kB is mapped and faulted in anew;
    AFM levelling ran 1.6-2.5x slower in a worker than in this process with it."""
    import dask
    import distributed  # noqa: F401 (its config defaults)

    return {k: v for k, v in dask.config.get(_ENVIRON).items() if k != "MALLOC_TRIM_THRESHOLD_"}


@contextmanager
def _connected(address: str):
    """A client of the scheduler at ``address``; InputError when none answers in time."""
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as err:
        raise InputError(f"no Dask scheduler answers at {address} within "
                         f"{CONNECT_TIMEOUT_S} s ({type(err).__name__})") from None
    with client:
        yield client
