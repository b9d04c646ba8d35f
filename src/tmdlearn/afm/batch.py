"""Per-image work over many images: in a thread pool, or as tasks of a Dask engine.

The heavy parts of levelling and feature extraction (numpy, scipy, scikit-image and the numba
kernels of :mod:`tmdlearn.afm`) release the GIL, so threads share the cores without copying
images between processes. BLAS and OpenMP are held to one thread per worker meanwhile (their
threads only spin on the small products of levelling), so ``workers`` is the number of busy
cores. On a local cluster of processes or a remote one (:mod:`tmdlearn.engine`) each image is a
task; ``fn`` must then be picklable: a module-level function or a ``functools.partial`` of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from threadpoolctl import threadpool_limits

from tmdlearn.errors import InputError
from tmdlearn.progress import track

if TYPE_CHECKING:
    from tmdlearn.engine import Engine

T = TypeVar("T")
R = TypeVar("R")


def map_images(fn: Callable[[T], R], items: Sequence[T], workers: int = 1,
               description: str = "", engine: Engine | None = None) -> list[R]:
    """``[fn(item) for item in items]``, in input order.

    Parameters
    ----------
    fn : callable
        The per-image work; picklable (module-level, or a partial of one) for an engine with
        a Dask client.
    items : sequence
        One argument of ``fn`` per image.
    workers : int
        Threads when there is no engine (1: a plain loop in this thread).
    description : str
        Progress-bar text.
    engine : Engine, optional
        Where the work runs: a threads engine runs ``engine.workers`` threads as above; one
        with a Dask client makes each item a task on its workers.

    Returns
    -------
    list
        ``fn(item)`` per item, in the order of ``items``.
    """
    if engine is not None and engine.client is not None:
        return engine.map(partial(_one_blas_thread, fn), items, description)
    workers = engine.workers if engine is not None else workers
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    with threadpool_limits(limits=1):
        if workers == 1 or len(items) < 2:
            return [fn(item) for item in track(items, description)]
        with ThreadPoolExecutor(workers) as pool:
            return list(track(pool.map(fn, items), description, total=len(items)))


def _one_blas_thread(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)`` with BLAS and OpenMP held to one thread (a worker process is one core)."""
    with threadpool_limits(limits=1):
        return fn(item)
