"""The one progress helper: a rich progress bar on a terminal, silent otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
_CHOICE: ContextVar[bool | None] = ContextVar("progress", default=None)


def progress_enabled() -> bool:
    """Whether progress bars show.

    Returns
    -------
    bool
        The choice of :func:`showing` when one is made, else whether standard error is an
        interactive terminal.
    """
    choice = _CHOICE.get()
    return sys.stderr.isatty() if choice is None else bool(choice)


@contextmanager
def showing(progress: bool | None) -> Iterator[None]:
    """Within the block, progress bars on (True), off (False) or on a terminal only (None).

    Parameters
    ----------
    progress : bool or None
        The ``progress`` argument of every workflow's ``run``.

    Yields
    ------
    None
    """
    token = _CHOICE.set(progress)
    try:
        yield
    finally:
        _CHOICE.reset(token)


def track(items: Iterable[T], description: str = "", total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing a progress bar when attached to a terminal.

    Parameters
    ----------
    items : iterable
        The items.
    description : str
        Label of the bar.
    total : int, optional
        Number of items; default ``len(items)`` where it has one.

    Yields
    ------
    object
        Each item of ``items``.
    """
    if not progress_enabled():
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
