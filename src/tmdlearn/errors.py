"""Errors raised for a user's mistake (bad file, bad argument), as opposed to bugs."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: names the file (if any) and what is wrong with it.

    The command line prints ``str(error)`` as one line and exits with code 2.
    """

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else Path(path)
        super().__init__(problem if path is None else f"{path}: {problem}")

    def __reduce__(self):
        """Pickled with its problem and path (errors raised on Dask workers keep both)."""
        return type(self), (self.problem, self.path)


class MissingPixelSize(InputError):
    """An image file that stores no pixel size (the caller may give one)."""
