"""The study's published numbers (``published.yaml``), looked up to sit beside a run's values."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_FILE = Path(__file__).with_name("published.yaml")
SECTIONS = ("regression", "generation", "readout")


@cache
def _values() -> dict:
    return yaml.safe_load(_FILE.read_text(encoding="utf-8")) or {}


def citation() -> str:
    """The reference the published values come from.

    Returns
    -------
    str
    """
    return str(_values().get("citation", "")).strip()


def status() -> str:
    """What was transcribed, and why not more.

    Returns
    -------
    str
    """
    return str(_values().get("status", "")).strip()


def count() -> int:
    """How many published values are transcribed.

    Returns
    -------
    int
    """

    def leaves(node) -> int:
        if isinstance(node, dict):
            return sum(leaves(v) for v in node.values())
        return int(node is not None)

    return sum(leaves(_values().get(section) or {}) for section in SECTIONS)


def note() -> str:
    """Markdown for the run folder's ``published.md``: source, what was transcribed, where the
    values sit beside this run's.

    Returns
    -------
    str
    """
    return (f"# The study's published numbers\n\nSource: {citation()}\n\n"
            f"Values transcribed: {count()}. {status()}\n\n"
            "Where present they sit in the `published_*` columns of tables/table3_regression, "
            "tables/table4_generation and tables/table6_readouts, next to this run's values. "
            "The data differ (this run's dataset vs the study's wafers), so the numbers are not "
            "expected to match.\n")


def published_value(section: str, first: str, second: str, metric: str) -> float | None:
    """``published.yaml[section][first][second][metric]``, or None when not transcribed.

    Parameters
    ----------
    section : str
        "regression", "generation" or "readout".
    first : str
        Input modality (regression) or task, e.g. "afm->raman".
    second : str
        Target (regression), split (generation) or read-out feature.
    metric : str
        Model (regression) or metric name.

    Returns
    -------
    float or None
    """
    node = _values().get(section) or {}
    for key in (first, second, metric):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if node is not None else None
