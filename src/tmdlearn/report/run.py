"""run.json: what produced a run folder (command, config, versions, seed, timing)."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from tmdlearn import __version__
from tmdlearn.io.atomic import write_text


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically (numpy scalars become numbers)."""
    return write_text(path, json.dumps(payload, indent=2, default=_plain) + "\n")


def write_run_json(run_dir: str | Path, config: dict[str, Any], started: float,
                   **extra: Any) -> Path:
    """Write ``run_dir/run.json`` describing the run; ``started`` is a ``time.time()`` value."""
    import numpy
    import torch

    payload = {
        "tmdlearn": __version__,
        "command": sys.argv,
        "config": config,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        **extra,
    }
    return write_json(Path(run_dir) / "run.json", payload)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
