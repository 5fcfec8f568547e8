"""Case latency and SLA breaches through the real stream: Tansu -> Faust table + timer -> chdb."""

import asyncio
import heapq
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from pipeline.events import Touchpoint
from pipeline.cases.feed import read_case_events
from pipeline.sla import load_policy
from pipeline.store import empty_data_tables
from pipeline.store.base import scalar
from pipeline.store.tables import CASES
from streams.demo import feed_and_wait

from harness.faults import Outage
from .cases.helpers import NAMES, SCENARIOS, alerts_of, load_events, load_expected, replay
from .test_views import figures

pytestmark = pytest.mark.slow

POLICY = load_policy()


def _merged() -> list[tuple[str, Touchpoint]]:
    """All scenarios as one replay of history: merged by time, each file's own (arrival) order kept."""
    files = []
    for name in NAMES:
        lines = [ln for ln in (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
        files.append(list(zip(lines, load_events(name))))
    return list(heapq.merge(*files, key=lambda pair: pair[1].ts))


def _lines() -> list[str]:
    return [line for line, _ in _merged()]


def _oracle(until: datetime) -> set[tuple[str, str, str]]:
    """What the pure logic raises for the same replay, with the clock then taken to `until` (today)."""
    outcomes = replay([tp for _, tp in _merged()], POLICY, until=until)
    return {(a.alert_id, a.rule.value, a.status) for a in alerts_of(outcomes)}


def _hand_expected() -> set[tuple[str, str, datetime, str]]:
    out = set()
    for name in NAMES:
        for a in load_expected(name)["alerts"]:
            deadline = datetime.fromisoformat(a["deadline"]).astimezone(UTC)
            out |= {(a["case_id"], a["rule"], deadline, s) for s in a["statuses"]}
    return out


def _partitions(settings, topic: str, cases_of=lambda message: [message.key]) -> dict[bytes, set[int]]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
    seen: dict[bytes, set[int]] = {}
    for message in consumer:
        for case in cases_of(message):
            seen.setdefault(case, set()).add(message.partition)
    consumer.close()
    return seen


def _fed_cases(message) -> list[bytes]:
    # A case-feed message packs a batch's events for one partition.
    return [e.case_id.encode() for e in read_case_events(message.value)]


def _stream_alerts(store) -> list[tuple]:
    _, rows = store.query("SELECT alert_id, rule, status, case_id, deadline FROM cx.alerts")
    return rows


def test_scenarios_through_the_stream_raise_exactly_the_expected_alerts(settings, clean_store):
    store = clean_store
    asyncio.run(feed_and_wait(settings, store, _lines(), stall_timeout=60))
    rows = _stream_alerts(store)
    # Each (alert, status) exactly once: no duplicate rows even before merges.
    assert max(Counter((r[0], r[2]) for r in rows).values()) == 1
    got = {(r[0], r[1], r[2]) for r in rows}
    # The replay ended and the clock went on to today, so still-open deadlines breach now as well.
    assert got == _oracle(datetime.now(UTC))
    got_keys = {(r[3], r[1], r[4].astimezone(UTC), r[2]) for r in rows}
    assert _hand_expected() <= got_keys
    # A case's state lives in the same partition number as its events, so it moves with them
    # when several workers split the partitions.
    changelog = _partitions(settings, f"{settings.app_id}-cases-changelog")
    assert changelog == _partitions(settings, settings.topic("cx.case-events"), _fed_cases)
    assert all(len(partitions) == 1 for partitions in changelog.values())
    # Every answered customer message has a response row with its wait.
    assert scalar(store, "SELECT countIf(wait_ms != dateDiff('millisecond', asked_at, answered_at)) FROM cx.responses FINAL") == 0
    assert scalar(store, "SELECT count() FROM cx.cases FINAL") == len({ln.split('"case_id": "')[1].split('"')[0] for ln in _lines()})


def test_a_case_agent_stalled_mid_replay_judges_its_backlog_by_event_time(settings, clean_store):
    # The case rows cannot be written for 8 s (longer than a partition takes to be called idle)
    # while the case feed piles up behind: the replay is stalled, not over, so nothing may be
    # judged by today's clock until the backlog is applied.
    down = Outage(clean_store, seconds=8.0, tables={CASES})
    small_batches = settings.model_copy(update={"batch_size": 25})
    asyncio.run(feed_and_wait(small_batches, down, _lines(), stall_timeout=90))
    assert down.refused > 0
    assert {(r[0], r[1], r[2]) for r in _stream_alerts(clean_store)} == _oracle(datetime.now(UTC))


def test_worker_restart_mid_case_loses_no_deadline_and_raises_none_twice(settings, clean_store):
    store = clean_store
    lines = _lines()
    half = len(lines) // 2
    # First worker sees half the events; the replay clock never goes live (it stops before).
    asyncio.run(feed_and_wait(settings, store, lines[:half], stall_timeout=60, until_live=False))
    first = {(r[0], r[2]) for r in _stream_alerts(store)}
    # A new worker in the same group restores the case table from its changelog and goes on.
    asyncio.run(feed_and_wait(settings, store, lines[half:], stall_timeout=60))
    rows = _stream_alerts(store)
    assert max(Counter((r[0], r[2]) for r in rows).values()) == 1, "an alert was raised twice"
    assert first <= {(r[0], r[2]) for r in rows}
    assert {(r[0], r[1], r[2]) for r in rows} == _oracle(datetime.now(UTC))


def test_cx_demo_input_replays_a_scenario_file(tmp_path):
    scenario = tmp_path / "scenario.jsonl"
    scenario.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    cx = str(Path(sys.executable).with_name("cx"))
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx")}
    env.pop("CX_CLICKHOUSE_URL", None)
    run = subprocess.run([cx, "demo", "--input", str(scenario)], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    query = subprocess.run(
        [cx, "sql", "SELECT uniqExact(alert_id, status) FROM cx.alerts FINAL WHERE status = 'breach'"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    breaches = {k for k in _oracle(datetime.now(UTC)) if k[2] == "breach"}
    assert int(query.stdout.strip().splitlines()[-1]) == len(breaches)


def test_redelivery_across_a_worker_restart_changes_no_view_or_rollup_figure(settings, clean_store):
    """One clean run, then (new topics, new group) half the events, a restart, and all of them again:
    every analyst view and dashboard rollup gives the clean run's figures."""
    store = clean_store
    lines = _lines()
    asyncio.run(feed_and_wait(settings, store, lines, stall_timeout=60))
    clean = figures(store)
    empty_data_tables(store)
    again = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "again.", "app_id": settings.app_id + "-again"})
    asyncio.run(feed_and_wait(again, store, lines[: len(lines) // 2], stall_timeout=60, until_live=False))
    asyncio.run(feed_and_wait(again, store, lines, stall_timeout=60))  # a new worker; the first half redelivered
    assert scalar(store, "SELECT count() FROM cx.touchpoints") > scalar(store, "SELECT count() FROM cx.v_touchpoints")
    assert figures(store) == clean
