"""Two `cx worker` processes in one consumer group over 4 partitions, each with its own embedded
store: the second joins while the first is busy, and the partitions (with their cases) are split.

What must hold across the rebalance: every event lands (an event on both stores is one whose batch
was in flight at the handover: at most a batch), no alert is raised by both workers, every case
that had events on both sides of it is measured as if one worker had seen them all (its state
moved with its partition), and breaches due while the group was rebalancing fire once and reach
the subscriber (a repeat by the next notifier carries the same delivery id).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.processes import CX, cx_sql, worker_status
from harness.workloads import waiting_chat_case
from pipeline.broker import ensure_topics
from pipeline.cases import apply
from pipeline.config import Settings
from pipeline.events import Channel, Priority, Touchpoint, parse_touchpoint
from pipeline.generate import generate
from pipeline.produce import produce_lines
from pipeline.sla import Rule, load_policy
from streams.worker import STATUS_SECONDS

from harness.receivers import Received, Receivers

pytestmark = pytest.mark.slow

POLICY = load_policy()
WAITING = 16  # chat cases nobody answers; their first-response deadlines pass one a second from B's start


def _told(received: list[Received]) -> list[tuple[str, str]]:
    """(case_id, status) of every alert in the notices (a digest carries several)."""
    return [(a["case_id"], a["status"]) for r in received for a in r.body.get("alerts") or [r.body]]


def _applied(log: Path) -> int:
    status = worker_status(log)
    return status[2] if status else 0


def _wait_for(log: Path, text: str, timeout: float, worker: subprocess.Popen) -> float:
    """Wall time when `text` first shows in the worker's log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in log.read_text(errors="replace"):
            return time.time()
        assert worker.poll() is None, f"worker exited: {log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout}s: {log.read_text()[-3000:]}")


def test_two_workers_split_the_partitions_and_hand_over_cases(broker, tmp_path):
    tag = f"two{os.getpid()}"
    settings = Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=f"{tag}.", app_id=tag, partitions=4)
    ensure_topics(settings)
    now = datetime.now(UTC)
    # Recent history, so the group runs on today's clock throughout (no replay-to-live switch).
    lines = generate(3000, seed=41, start=now - timedelta(minutes=90), until=now - timedelta(minutes=2)).lines
    half = len(lines) // 2
    limit = POLICY.response_limit(Rule.first_response, Channel.chat).span(Priority.normal)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": broker.bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix, "CX_APP_ID": tag,
        "CX_KAFKA_SESSION_TIMEOUT": "6", "CX_REPORT_PORT": "off", "CX_FLUSH_SECONDS": "0.5",
    }  # fmt: skip
    workers: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in "ab"}
    with Receivers() as rx:
        subscribers = tmp_path / "subscribers.yaml"
        subscribers.write_text(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{rx.url('webhook')}', rate_limit_per_minute: 1000000}}\n")
        envs = {n: base | {"CX_DATA_DIR": str(tmp_path / n), "CX_ALERTS_CONFIG": str(subscribers)} for n in "ab"}

        def start(name: str) -> None:
            workers[name] = subprocess.Popen([CX, "worker", "-v"], env=envs[name], stdout=logs[name].open("a"), stderr=subprocess.STDOUT)

        try:
            start("a")
            _wait_for(logs["a"], "due index rebuilt", 90, workers["a"])
            produce_lines(settings, lines[:half])
            # The second half and the waiting cases go in while A is busy with the first; B joins now.
            b_started = datetime.now(UTC)
            waiting = [waiting_chat_case("WAIT", n, b_started - limit + timedelta(seconds=n)) for n in range(WAITING)]
            start("b")
            fed = produce_lines(settings, lines[half:] + waiting)
            assert not fed.unsent
            b_ready = datetime.fromtimestamp(_wait_for(logs["b"], "due index rebuilt", 90, workers["b"]), UTC)
            touchpoints = sum(1 for ln in lines if '"event_id"' in ln) + WAITING
            end = time.monotonic() + 240
            while time.monotonic() < end:
                told = {case for case, _ in _told(rx.accepted("webhook"))}
                applied = sum(_applied(logs[n]) for n in "ab")
                if applied >= touchpoints and all(f"WAIT-{n}" in told for n in range(WAITING)):
                    break
                time.sleep(1.0)
            time.sleep(STATUS_SECONDS / 10)  # the last batch's offsets and notices
            for w in workers.values():
                w.send_signal(signal.SIGTERM)
            for name, w in workers.items():
                assert w.wait(timeout=60) == 0, f"worker {name} exited {w.returncode}: {logs[name].read_text()[-3000:]}"
        finally:
            for w in workers.values():
                if w.poll() is None:
                    w.kill()
                    w.wait()
        delivered = rx.accepted("webhook")

    rows = {n: cx_sql("SELECT 'tp', event_id, '' FROM cx.v_touchpoints UNION ALL SELECT 'rv', review_id, '' FROM cx.v_reviews"
                      " UNION ALL SELECT 'al', alert_id, status FROM cx.v_alerts", envs[n]) for n in "ab"}  # fmt: skip
    assert rows["a"] and rows["b"], "both workers must have landed something"
    fed_ids = Counter(parse_touchpoint(ln).event_id for ln in lines + waiting if '"event_id"' in ln)
    landed = Counter(r[1] for n in "ab" for r in rows[n] if r[0] == "tp")
    reviews = Counter(r[1] for n in "ab" for r in rows[n] if r[0] == "rv")
    assert set(landed) == set(fed_ids), "every touchpoint landed, on one worker or the other"
    assert len(reviews) == len(lines) - len(fed_ids) + WAITING, "every review landed"
    # Each store shows an event once (its views dedupe); an event both stores hold is one whose batch
    # was in flight when its partition moved (at-least-once across the handover): at most a batch.
    both = [i for i, c in (landed + reviews).items() if c > 1]
    assert len(both) <= settings.batch_size, f"{len(both)} events landed on both workers"
    alerts = Counter((r[1], r[2]) for n in "ab" for r in rows[n] if r[0] == "al")
    twice = [k for k, c in alerts.items() if c > 1]
    assert not twice, f"alerts raised by both workers: {twice}"

    # Breaches due during the rebalance: each raised once (above) and told; a notice repeated by the
    # partition's next notifier carries the same delivery id, so a receiver can drop it.
    during = [n for n in range(WAITING) if b_started + timedelta(seconds=n) <= b_ready]  # deadline n: B's start + n s
    assert during, f"no deadline fell in the rebalance ({b_started} .. {b_ready})"
    wait_notices = [r for r in delivered if any(c.startswith("WAIT-") and s == "breach" for c, s in _told([r]))]
    told = Counter(case for case, status in _told(wait_notices) if status == "breach")
    assert set(told) == {f"WAIT-{n}" for n in range(WAITING)}, f"breach notices per waiting case: {told}"
    assert len({r.headers.get("X-CX-Delivery-Id") for r in wait_notices}) == WAITING, told
    print(f"two workers: {len(both)} events on both stores, {len(wait_notices) - WAITING} waiting-case notices repeated, deadlines {during} inside the rebalance")

    # Cases with events on both sides of the handover: measured as if one worker saw them all.
    cases = {n: {r[0]: r[1:] for r in cx_sql("SELECT case_id, events, messages, replies, status, version FROM cx.cases FINAL", envs[n])} for n in "ab"}
    by_case: dict[str, list[Touchpoint]] = {}
    for ln in lines:
        if '"event_id"' in ln:
            e = parse_touchpoint(ln)
            by_case.setdefault(e.case_id, []).append(e)
    early = {parse_touchpoint(ln).case_id for ln in lines[:half] if '"event_id"' in ln}
    late = {parse_touchpoint(ln).case_id for ln in lines[half:] if '"event_id"' in ln}
    straddling = early & late
    assert len(straddling) > 20
    for case_id in straddling:
        state = None
        for e in by_case[case_id]:
            state = apply(state, e, POLICY).state
        s = state.summary
        expected = [str(state.events), str(s.messages), str(s.replies), s.status]
        latest = max((c[case_id] for c in cases.values() if case_id in c), key=lambda r: int(r[-1]))
        assert latest[:-1] == expected, case_id
