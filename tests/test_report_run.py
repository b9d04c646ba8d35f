"""run.json records the command and config without the passwords of database URLs."""

import json
import sys
import time

from tmdlearn.report.run import without_passwords, write_run_json


def test_run_json_hides_url_passwords_and_keeps_the_rest(tmp_path, monkeypatch):
    url = "postgresql://lab:s3cret@db.example.org:5432/optuna"
    monkeypatch.setattr(sys, "argv", ["tmdlearn", "crossmodal", "run", "--storage", url])
    config = {"optuna": {"storage": url, "study": "s"}, "data": {"folder": "/data/x:y@z"},
              "seed": 3, "list": [url, 1.5]}
    written = json.loads(write_run_json(tmp_path, config, time.time()).read_text())
    assert "s3cret" not in json.dumps(written)
    assert written["config"]["optuna"]["storage"] == (
        "postgresql://lab:***@db.example.org:5432/optuna")
    assert written["command"][-1] == written["config"]["optuna"]["storage"]
    assert written["config"]["data"]["folder"] == "/data/x:y@z"  # not a URL: unchanged
    assert written["config"]["seed"] == 3 and written["config"]["list"][1] == 1.5
    assert config["optuna"]["storage"] == url  # the caller's config is not changed


def test_urls_without_a_password_are_unchanged():
    for text in ("sqlite:///runs/optuna.db", "postgresql://lab@db/optuna", "tcp://head:8786",
                 "runs/optuna.db"):
        assert without_passwords(text) == text
