"""Real instrument files shipped with tmdlearn (package data), each folder with its source's
license: the inputs of ``tmdlearn demo`` and of the documentation's examples.

>>> from tmdlearn.examples import example_path
>>> from tmdlearn.io import read
>>> hm = read(example_path("afm-bruker/di-1.di"))

The test suite reads the same files (``tests/data`` links to them).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tmdlearn.errors import InputError

#: The shipped files, relative to this package (README.md says what each holds).
EXAMPLE_FILES = ("afm-bruker/di-1.di", "afm-bruker/di-5.di",
                 "spectra-wse2mose2/WSe2_Raman.txt", "spectra-wse2mose2/WSe2_PL.txt",
                 "spectra-wse2mose2/MoSe2_Raman.txt", "spectra-wse2mose2/MoSe2_PL.txt",
                 "tmd-afm-features/resnet18_imagenet_512.npz")


def example_path(name: str) -> Path:
    """Path of a shipped example file.

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLE_FILES` (a path relative to this package).

    Returns
    -------
    Path
        The file on disk, inside the installed package.
    """
    if name not in EXAMPLE_FILES:
        raise InputError(f"no example file {name!r}: choose from {list(EXAMPLE_FILES)}")
    path = Path(str(resources.files("tmdlearn.examples") / name))
    if not path.is_file():
        raise InputError("example file missing from this installation of tmdlearn", path)
    return path
