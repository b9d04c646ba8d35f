"""Per-image work over many images in a thread pool.

The heavy parts of levelling and feature extraction (numpy, scipy, scikit-image and the numba
kernels of :mod:`tmdlearn.afm`) release the GIL, so threads share the cores without copying
images between processes. BLAS and OpenMP are held to one thread per worker meanwhile (their
threads only spin on the small products of levelling), so ``workers`` is the number of busy
cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

from tmdlearn.errors import InputError
from tmdlearn.progress import track

T = TypeVar("T")
R = TypeVar("R")


def map_images(fn: Callable[[T], R], items: Sequence[T], workers: int = 1,
               description: str = "") -> list[R]:
    """``[fn(item) for item in items]`` computed by ``workers`` threads, in input order.

    Parameters
    ----------
    fn : callable
        The per-image work.
    items : sequence
        Its inputs.
    workers : int
        Threads (busy cores), at least 1.
    description : str
        Label of the progress bar.

    Returns
    -------
    list
        ``fn``'s results, in the order of ``items``.
    """
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    with threadpool_limits(limits=1):
        if workers == 1 or len(items) < 2:
            return [fn(item) for item in track(items, description)]
        with ThreadPoolExecutor(workers) as pool:
            return list(track(pool.map(fn, items), description, total=len(items)))
