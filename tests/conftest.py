"""Shared fixtures: paths to the committed test data and to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI always means a change broke something);
# locally hypothesis keeps exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"


def _torch_threads_at_one():
    """One torch CPU thread until resumed, then the previous count restored."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_torch_thread():
    """One torch CPU thread during a test (deterministic, and fair to the other jobs), the
    previous count restored after it."""
    yield from _torch_threads_at_one()


@pytest.fixture(scope="module")
def one_torch_thread_module():
    """:func:`one_torch_thread` for all the tests of a module at once."""
    yield from _torch_threads_at_one()


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small real files committed with their licenses (tests/data/)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real files in ../shared/data (present beside every clone in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: clone tmdlearn next to shared/")
    return SHARED_DATA
