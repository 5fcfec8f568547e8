"""A worker told to stop while it holds a fetched backlog leaves promptly (real broker, `cx worker`).

Its agents let every batch they took commit and stop taking; Faust's own stop must then not wait for
the messages fetched but never taken: nothing acks them any more, so it waited forever (the stop's
30 s bound could not cut that wait), and a rebalance beginning meanwhile ran the same wait in the
consumer's thread. What was not taken is read again by the next owner, which the restarts check:
every event lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from harness.processes import CX, cx_sql
from pipeline.broker import ensure_topics
from pipeline.generate import generate
from pipeline.produce import produce_lines
from streams.worker import STOP_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_worker_stopped_over_a_fetched_backlog_leaves_promptly_and_loses_nothing(settings, tmp_path):
    own = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "stop.", "app_id": settings.app_id + "-stop"})
    ensure_topics(own)
    lines = generate(20_000, seed=9).lines
    produce_lines(own, lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": own.kafka_bootstrap, "CX_TOPIC_PREFIX": own.topic_prefix, "CX_APP_ID": own.app_id,
        "CX_DATA_DIR": str(tmp_path / "cx"), "CX_KAFKA_SESSION_TIMEOUT": "6", "CX_REPORT_PORT": "off",
    }  # fmt: skip
    log_path = tmp_path / "worker.log"
    with open(log_path, "a") as log:
        worker = subprocess.Popen([CX, "worker", "-v"], env=env, stdout=log, stderr=log)
        try:
            end = time.monotonic() + 120
            while "consuming from" not in log_path.read_text(errors="replace"):
                assert worker.poll() is None and time.monotonic() < end, log_path.read_text()[-3000:]
                time.sleep(0.2)
            time.sleep(2.0)  # fetching: the backlog fills the agents' streams
            told = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=STOP_SECONDS + 60)
            took = time.monotonic() - told
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    text = log_path.read_text(errors="replace")
    assert worker.returncode == 0, text[-3000:]
    assert took < STOP_SECONDS / 2, f"stopping took {took:.1f} s:\n{text[-3000:]}"
    assert "did not stop within" not in text

    touchpoints = sum('"event_id"' in line for line in lines)
    landed = 0
    for _ in range(3):  # the next owner (here the same worker, again) reads what was not taken
        start = log_path.stat().st_size
        with open(log_path, "a") as log:
            worker = subprocess.Popen([CX, "worker", "-v"], env=env, stdout=log, stderr=log)
            try:
                end = time.monotonic() + 180
                while "case clock live" not in log_path.read_text(errors="replace")[start:]:
                    assert worker.poll() is None and time.monotonic() < end, log_path.read_text()[-3000:]
                    time.sleep(0.5)
                time.sleep(3.0)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=STOP_SECONDS + 60)
        landed = int(cx_sql("SELECT uniqExact(event_id) FROM cx.v_touchpoints", env)[0][0])
        if landed == touchpoints:
            break
    assert landed == touchpoints
