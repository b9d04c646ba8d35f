"""AFM levelling on real instrument files: roughness Sq (nm) of the raw height channel and
after ``tmdlearn afm level``'s two-pass default and the plain line method.

The files: ``tests/data`` (Bruker ``di-1.di`` / ``di-5.di``, Nanosurf ``sapphire.nid``) and,
with ``--data DIR``, the real files of ``afm_readers_real.py`` (its docstring says where to get
them; not committed). A levelled Sq far above the raw one means the levelling added structure
(the DNA-on-mica ``sample_0.gwy`` of AFMReader: 24 nm before session 17's fix). Prints one
JSON object.

    PYTHONPATH=src python benchmarks/afm_real_levelling.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tmdlearn.afm.level import level
from tmdlearn.errors import InputError
from tmdlearn.io import read
from tmdlearn.io.afm import AFM_FORMATS

TESTS = Path(__file__).parents[1] / "tests" / "data"


def sq(h: np.ndarray) -> float:
    """Root-mean-square height about the mean (nm), NaN pixels left out."""
    return round(float(np.nanstd(h)), 4)


def row(path: Path) -> dict:
    """Raw, two-pass and line-levelled Sq of one file's height channel, or its refusal."""
    try:
        raw = read(path).height_nm
    except InputError as err:
        return {"refused": err.problem}
    return {"raw_sq_nm": sq(raw), "two_pass_sq_nm": sq(level(raw)),
            "lines_sq_nm": sq(level(raw, method="lines"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of real AFM files")
    args = parser.parse_args()
    folders = [TESTS / "afm-bruker", TESTS / "afm-nanosurf-nsfopen", *filter(None, [args.data])]
    files = sorted(p for folder in folders for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in AFM_FORMATS)
    print(json.dumps({str(p): row(p) for p in files}, indent=1))


if __name__ == "__main__":
    main()
