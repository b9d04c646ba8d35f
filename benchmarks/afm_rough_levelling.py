"""Do the two-pass levelling's per-line fits streak a rough surface that is no few-layer film?

On the shared Bruker images (``tests/data/afm-bruker``: ``di-1.di``, a ±30 nm granular
surface, and ``di-5.di``, Sq 1.75 nm), the mean |median height difference| of adjacent rows
(nm; bands a levelling adds) and the Sq (nm) of: the layer-aware refit the two-pass method
used before session 15 on every image (:func:`tmdlearn.afm.twopass._refine` from both starts,
fewer off-level pixels wins), and :func:`tmdlearn.afm.level.level` as it is now (rows aligned
and a quadratic surface only where :func:`tmdlearn.afm.twopass.is_rough`). Prints one JSON
object.

    PYTHONPATH=src python benchmarks/afm_rough_levelling.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tmdlearn.afm.level import level
from tmdlearn.afm.surface import height_array
from tmdlearn.afm.twopass import _refine, _robust_first_pass, _row_start, is_rough
from tmdlearn.io import read

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "afm-bruker"


def row_jump_nm(height: np.ndarray) -> float:
    """Mean |median height difference| of adjacent rows (nm)."""
    return float(np.mean(np.abs(np.nanmedian(np.diff(height, axis=0), axis=1))))


def film_model(h: np.ndarray) -> np.ndarray:
    """The layer-aware refit from both first passes (the two-pass method without the rough
    test): the one with fewer off-level pixels."""
    runs = [_refine(h, start, 2, "otsu", 2, 3) for start in (_robust_first_pass(h),
                                                             _row_start(h))]
    return min(runs, key=lambda run: run[1])[0]


def main() -> None:
    rows = {}
    for name in ("di-1.di", "di-5.di"):
        h = height_array(read(DATA / name).height_nm)
        before, now = film_model(h), level(h, scars=False, zero="none")
        rows[name] = {"rough": is_rough(h),
                      "row_jump_nm": {"film_model": round(row_jump_nm(before), 4),
                                      "now": round(row_jump_nm(now), 4)},
                      "sq_nm": {"film_model": round(float(np.nanstd(before)), 3),
                                "now": round(float(np.nanstd(now)), 3)}}
    print(json.dumps({"benchmark": "afm_rough_levelling", "images": rows}, indent=1))


if __name__ == "__main__":
    main()
