"""The engine runs the same tasks to the same results on threads and on a local Dask cluster,
refuses unknown schedulers and says quickly when an address does not answer."""

import time

import numpy as np
import pytest

from tmdlearn.engine import open_engine
from tmdlearn.engine import scheduler as scheduler_module
from tmdlearn.errors import InputError


def _moments(seed: int) -> tuple[int, float, float]:
    values = np.random.default_rng(seed).normal(size=1000)
    return seed, float(values.mean()), float(values.std())


def _fails(seed: int) -> int:
    if seed == 3:
        raise InputError("planted failure", f"task{seed}.txt")
    return seed


def test_threads_and_processes_give_the_same_results_in_order():
    tasks = list(range(12))
    with open_engine("threads", workers=2) as threads:
        first = threads.map(_moments, tasks)
    with open_engine("processes", workers=2) as processes:
        assert processes.scheduler == "processes" and processes.client is not None
        second = processes.map(_moments, tasks)
        finished = sorted(i for i, _ in processes.completed(_moments, tasks))
    assert [r[0] for r in first] == tasks
    assert first == second
    assert finished == tasks


def test_auto_picks_processes_only_for_large_work():
    with open_engine("auto", workers=1) as small:
        assert small.scheduler == "threads"


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_a_task_error_reaches_the_caller_with_its_file(scheduler):
    with open_engine(scheduler, workers=2) as engine, pytest.raises(InputError) as caught:
        engine.map(_fails, list(range(6)))
    assert caught.value.path is not None and caught.value.path.name == "task3.txt"
    assert "planted failure" in str(caught.value)


def test_unknown_scheduler_and_bad_workers_are_refused():
    with pytest.raises(InputError, match="unknown scheduler 'thread'"):
        with open_engine("thread"):
            pass
    with pytest.raises(InputError, match="workers must be a positive integer"):
        with open_engine("threads", workers=0):
            pass


def test_an_address_that_does_not_answer_fails_in_time(monkeypatch):
    monkeypatch.setattr(scheduler_module, "CONNECT_TIMEOUT_S", 2)
    started = time.monotonic()
    with pytest.raises(InputError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        with open_engine("tcp://127.0.0.1:9"):
            pass
    assert time.monotonic() - started < 8
