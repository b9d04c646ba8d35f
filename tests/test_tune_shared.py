"""Shared Optuna studies (learn.tune): worker processes on one SQLite study add up to the target,
an interrupted or killed search resumes to it, and a storage that cannot be used is one
InputError line.

Workers are forked (not spawned) so that they start in milliseconds instead of re-importing
torch; they share nothing but the SQLite file (each opens its own connection)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from collections import Counter

import optuna
import pytest
from optuna.storages._heartbeat import HeartbeatThread

from tmdlearn.errors import InputError
from tmdlearn.learn import tune as tuning

SPACE = {"x": {"type": "float", "low": -2.0, "high": 2.0}}


def _square(params, trial):
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.05)  # long enough for the workers to interleave
    return (params["x"] - 1.0) ** 2


def _worker(storage, name, n_trials, barrier, results):
    barrier.wait()
    study = tuning.tune(_square, SPACE, n_trials, study_name=name, storage=storage)
    results.put((os.getpid(), study.best_trial.number))


def _trials(storage, name):
    study = optuna.load_study(study_name=name, storage=tuning.open_storage(storage))
    return study.get_trials(deepcopy=False)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_worker_processes_share_one_study(database, tmp_path):
    """SQLite always; PostgreSQL when TMDLEARN_TEST_POSTGRES names a database URL."""
    storage, target = tmp_path / "optuna.db", 10
    if database == "postgresql":
        storage = os.environ.get("TMDLEARN_TEST_POSTGRES") or pytest.skip(
            "set TMDLEARN_TEST_POSTGRES=postgresql://user@host/db to test PostgreSQL")
        pytest.importorskip("psycopg")
    name = f"shared-{time.time_ns()}"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_worker, args=(storage, name, target, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    returned = dict(results.get(timeout=5) for _ in workers)
    trials = _trials(storage, name)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == target                              # none lost, none extra
    assert {t.state for t in trials} <= {optuna.trial.TrialState.COMPLETE,
                                         optuna.trial.TrialState.PRUNED}  # lost races only
    assert len({t.params["x"] for t in complete}) == target     # no point drawn twice
    by_worker = Counter(t.user_attrs["pid"] for t in complete)
    assert set(by_worker) == set(returned) and min(by_worker.values()) >= 1
    best = min(complete, key=lambda t: t.value).number
    assert set(returned.values()) == {best}                     # both return the study's best


def test_a_search_alone_draws_as_optunas_seeded_tpe():
    def value(params):
        return (params["x"] - 1.0) ** 2

    alone = tuning.tune(lambda params, trial: value(params), SPACE, 14, seed=3)
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    plain.optimize(lambda trial: value(tuning.suggest(trial, SPACE)), n_trials=14)
    assert [t.params for t in alone.trials] == [t.params for t in plain.trials]


def test_interrupted_search_resumes_to_its_target(tmp_path):
    storage, calls = tmp_path / "optuna.db", []

    def objective(params, trial):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the 4th trial
        calls.append(params["x"])
        return (params["x"] - 1.0) ** 2

    with pytest.raises(KeyboardInterrupt):
        tuning.tune(objective, SPACE, 7, study_name="s", storage=storage)
    before = [t.params["x"] for t in _trials(storage, "s")
              if t.state == optuna.trial.TrialState.COMPLETE]
    assert before == calls
    calls.append("resumed")
    study = tuning.tune(objective, SPACE, 7, study_name="s", storage=storage)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 7 and len(calls) == 3 + 1 + 4       # only the 4 missing ran
    assert [t.params["x"] for t in complete[:3]] == before      # the first 3 kept
    assert [t.state for t in study.trials].count(optuna.trial.TrialState.FAIL) == 1


def _killed_mid_trial(storage, heartbeat_thread):
    if not heartbeat_thread:  # killed before Optuna's heartbeat thread first ran (seen in CI)
        HeartbeatThread.start = HeartbeatThread.join = lambda self: None

    def objective(params, trial):
        if trial.number == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return params["x"] ** 2

    tuning.tune(objective, SPACE, 5, study_name="s", storage=storage)


def _killed_worker_study(storage, heartbeat_thread=True):
    """A study of 5 trials whose worker process was killed during trial 2."""
    worker = multiprocessing.get_context("fork").Process(target=_killed_mid_trial,
                                                         args=(storage, heartbeat_thread))
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == -signal.SIGKILL
    assert [t.state.name for t in _trials(storage, "s")] == ["COMPLETE", "COMPLETE", "RUNNING"]


@pytest.mark.timeout(60)  # without a first heartbeat the resumed run would wait forever
@pytest.mark.parametrize("heartbeat_thread", [True, False])
def test_trial_of_a_killed_worker_is_failed_and_run_again(heartbeat_thread, tmp_path,
                                                           monkeypatch):
    """Resumed on another machine: the killed trial's heartbeat lapses after GRACE_S, also when
    the worker was killed before Optuna's heartbeat thread first ran."""
    storage = tmp_path / "optuna.db"
    _killed_worker_study(storage, heartbeat_thread)
    monkeypatch.setattr(tuning.socket, "gethostname", lambda: "another-machine")
    monkeypatch.setattr(tuning, "GRACE_S", 1)
    monkeypatch.setattr(tuning, "POLL_S", 0.1)
    study = tuning.tune(lambda params, trial: params["x"] ** 2, SPACE, 5, study_name="s",
                        storage=storage)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 5 and states[2] == "FAIL"


def test_a_killed_run_resumed_on_its_host_does_not_wait_for_the_heartbeat(tmp_path):
    """The trial records its host and process; that process is gone, so the resumed run
    fails the trial at once (with GRACE_S = 120 s it would wait two minutes)."""
    storage = tmp_path / "optuna.db"
    _killed_worker_study(storage)
    study = tuning.tune(lambda params, trial: params["x"] ** 2, SPACE, 5, study_name="s",
                        storage=storage)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 5 and states[2] == "FAIL"
    assert study.trials[2].user_attrs[tuning.WORKER_ATTR]["host"] == socket.gethostname()


def test_only_gone_processes_of_this_host_are_failed(tmp_path):
    study = optuna.create_study(study_name="s", storage=tuning.open_storage(tmp_path / "o.db"))
    gone = multiprocessing.get_context("fork").Process(target=int)
    gone.start()
    gone.join()
    host = socket.gethostname()
    owners = [{"host": host, "pid": gone.pid}, {"host": host, "pid": os.getppid()},
              {"host": "another-machine", "pid": gone.pid}, None]
    for owner in owners:
        trial = study.ask()
        if owner is not None:
            trial.set_user_attr(tuning.WORKER_ATTR, owner)
    assert tuning.fail_dead_local_trials(study) == [0]
    assert [t.state.name for t in study.trials] == ["FAIL", "RUNNING", "RUNNING", "RUNNING"]


def test_another_space_in_the_same_study_is_refused(tmp_path):
    storage = tmp_path / "optuna.db"
    tuning.tune(lambda params, trial: params["x"], SPACE, 1, study_name="s", storage=storage)
    with pytest.raises(InputError, match="searches another space"):
        tuning.tune(lambda params, trial: params["x"], {"x": {"type": "int", "low": 0,
                                                              "high": 3}},
                    1, study_name="s", storage=storage)


def test_postgresql_without_psycopg_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(InputError, match=r"pip install 'tmdlearn\[postgres\]'") as error:
        tuning.open_storage("postgresql://me:secret@db.example.org/optuna")
    assert "secret" not in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("url, reason", [
    ("sqlite:////no/such/folder/optuna.db", "does not answer"),
    ("nosuchdb://host/optuna", "neither a file path nor a database URL"),
])
def test_storage_that_cannot_be_opened_is_one_line(url, reason):
    with pytest.raises(InputError, match=reason) as error:
        tuning.open_storage(url)
    assert "\n" not in str(error.value)


def test_postgresql_server_that_does_not_answer_times_out(monkeypatch):
    pytest.importorskip("psycopg")
    monkeypatch.setattr(tuning, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as silent:  # accepts the connection, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(InputError, match="does not answer"):
            tuning.open_storage(f"postgresql://me@127.0.0.1:{port}/optuna")
    assert time.monotonic() - started < 5


def test_a_run_opens_its_storage_once(tmp_path):
    storage = tuning.open_storage(tmp_path / "optuna.db")
    assert tuning.open_storage(storage) is storage  # one connection pool for every search
    for name in ("regression", "generation"):
        tuning.tune(lambda params, trial: params["x"], SPACE, 2, study_name=name,
                    storage=storage)
    assert sorted(optuna.get_all_study_names(storage)) == ["generation", "regression"]
