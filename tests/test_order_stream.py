"""The same events, any producer, any partitioning, a kill: the same alerts and responses (real parts).

(a) keyed by case through `cx produce`'s producer; (b) by kafka-python without a key, spread at
random over the 4 partitions, the backlog complete before the worker starts; (c) as (b), with the
worker (`cx worker`) killed once with SIGKILL while it works through the backlog. The views must be
identical: `cx.v_alerts` (case, rule, status, deadline) and `cx.v_responses`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import faust
import pytest

from pipeline.broker import ensure_topics
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import produce_lines
from pipeline.store import empty_data_tables
from streams.worker import run_worker
from streams.progress import Progress

from harness.processes import cx_sql
from harness.workloads import unkeyed as unkeyed_at_random

CX = str(Path(sys.executable).with_name("cx"))
EVENTS = 1500
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALERTS = "SELECT case_id, rule, status, toString(deadline) FROM cx.v_alerts ORDER BY case_id, rule, deadline, status"
RESPONSES = (
    "SELECT case_id, kind, toString(asked_at), toString(answered_at), toString(wait_ms), ifNull(toString(within_sla), '-')"
    " FROM cx.v_responses ORDER BY case_id, asked_at, kind"
)


def _workload() -> list[str]:
    return generate(EVENTS, seed=5).lines


def _touchpoints(lines: list[str]) -> int:
    return sum('"event_id"' in line for line in lines)


def _run_in_process(settings: Settings, store, total: int) -> None:
    """A worker until every message landed, every touchpoint is in its case and the clock went live after it."""
    progress = Progress()

    async def done(app: faust.App) -> bool:
        return progress.caught_up(total)

    asyncio.run(asyncio.wait_for(run_worker(settings, store, until=done, poll=0.5, progress=progress), 240))


def _views(query) -> tuple[list, list]:
    return query(ALERTS), query(RESPONSES)


def test_keyed_unkeyed_and_killed_give_the_same_alerts_and_responses(settings, clean_store, tmp_path):
    lines = _workload()
    # (a) keyed by case, as `cx produce` sends.
    keyed = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "a.", "app_id": settings.app_id + "-a"})
    ensure_topics(keyed)
    produce_lines(keyed, lines)
    _run_in_process(keyed, clean_store, len(lines))
    a = _views(lambda q: [list(map(str, r)) for r in clean_store.query(q)[1]])
    assert any(r[2] == "breach" for r in a[0]) and len(a[1]) > 100

    # (b) unkeyed, at random over the partitions, the backlog complete before the worker starts.
    empty_data_tables(clean_store)
    unkeyed = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "b.", "app_id": settings.app_id + "-b"})
    ensure_topics(unkeyed)
    unkeyed_at_random(unkeyed, lines, seed=1)
    _run_in_process(unkeyed, clean_store, len(lines))
    b = _views(lambda q: [list(map(str, r)) for r in clean_store.query(q)[1]])
    assert b == a

    # (c) as (b), with `cx worker` killed once while it works through the backlog.
    killed = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "c.", "app_id": settings.app_id + "-c"})
    ensure_topics(killed)
    unkeyed_at_random(killed, lines, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": killed.kafka_bootstrap, "CX_TOPIC_PREFIX": killed.topic_prefix, "CX_APP_ID": killed.app_id,
        "CX_DATA_DIR": str(tmp_path / "killed"), "CX_KAFKA_SESSION_TIMEOUT": "6", "CX_REPORT_PORT": "off",
        "CX_BATCH_SIZE": "100", "CX_CATCH_UP_BATCH_SIZE": "200", "CX_FLUSH_SECONDS": "0.3",
    }  # fmt: skip
    log_path = tmp_path / "worker.log"
    log = open(log_path, "a")

    def run(sig: int, seconds: float = 0.0) -> None:
        """`cx worker` for `seconds`, or (none given) until its case clock is live and a few ticks went by."""
        start = log_path.stat().st_size
        worker = subprocess.Popen([CX, "worker", "-v"], env=env, stdout=log, stderr=log)
        try:
            end = time.monotonic() + (seconds or 120.0)
            while time.monotonic() < end and worker.poll() is None:
                if not seconds and "case clock live" in log_path.read_text(errors="replace")[start:]:
                    time.sleep(3.0)  # what the live tick found overdue is written
                    break
                time.sleep(0.5)
            assert worker.poll() is None, log_path.read_text()[-3000:]
            worker.send_signal(sig)
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    run(signal.SIGKILL, seconds=11.0)
    touchpoints = _touchpoints(lines)
    for _ in range(3):
        run(signal.SIGTERM)
        c = _views(lambda q: cx_sql(q, env))
        (landed,) = cx_sql("SELECT uniqExact(event_id) FROM cx.v_touchpoints", env)
        if int(landed[0]) == touchpoints and c == a:
            break
    for got, want, what in ((c[0], a[0], "alerts"), (c[1], a[1], "responses")):
        extra, missing = [r for r in got if r not in want], [r for r in want if r not in got]
        assert (extra, missing) == ([], []), f"{what}: killed run has {extra[:5]}, lacks {missing[:5]}"
