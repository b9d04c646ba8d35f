"""Shared end of the real-file reader checks (``afm_readers_real.py``,
``spectra_readers_real.py``): every file checked, a verdict per row, counts per format."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path


def report(files: list[Path], data: Path, check: Callable[[Path, Path], dict],
           verdict: Callable[[dict], str], tolerance: float) -> dict:
    """The JSON object of a reader check: one row per file (``check(path, data)`` with its
    ``verdict``), the verdicts counted per format, and the tolerance (relative) used."""
    rows = [check(path, data) for path in files]
    for row in rows:
        row["verdict"] = verdict(row)
    summary = {fmt: dict(Counter(r["verdict"] for r in rows if r["format"] == fmt))
               for fmt in sorted({r["format"] for r in rows})}
    return {"files": rows, "summary": summary, "tolerance_rel": tolerance}
