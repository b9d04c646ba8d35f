"""The study's published numbers (``published.yaml``), looked up to sit beside a run's values."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_FILE = Path(__file__).with_name("published.yaml")


@cache
def _values() -> dict:
    return yaml.safe_load(_FILE.read_text(encoding="utf-8")) or {}


def citation() -> str:
    """The reference the published values come from."""
    return str(_values().get("citation", "")).strip()


def published_value(section: str, first: str, second: str, metric: str) -> float | None:
    """``published.yaml[section][first][second][metric]``, or None when not transcribed."""
    node = _values().get(section) or {}
    for key in (first, second, metric):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if node is not None else None
