"""Every SLA rule on its JSONL scenario: expected alerts and waits, replay == live, arrival order."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from pipeline.cases import alert_id
from pipeline.sla import load_policy

from .helpers import NAMES, alerts_of, keys, load_events, load_expected, responses_of, run_live, run_replay

POLICY = load_policy()


def expected_keys(name: str) -> set[tuple]:
    out = set()
    for a in load_expected(name)["alerts"]:
        deadline = datetime.fromisoformat(a["deadline"])
        out |= {(a["case_id"], a["rule"], deadline, status) for status in a["statuses"]}
    return out


def test_every_rule_has_a_scenario():
    rules = {a["rule"] for name in NAMES for a in load_expected(name)["alerts"]}
    assert rules == {"first_response", "next_reply", "resolution", "handoffs", "promise", "follow_up"}
    assert {"out_of_order", "restart"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_replay_raises_the_expected_alerts(name):
    alerts = alerts_of(run_replay(load_events(name), POLICY))
    assert keys(alerts) == expected_keys(name)
    # Exactly once per (alert, status), and the id is the one derived from (case, rule, deadline).
    assert max(Counter((a.alert_id, a.status) for a in alerts).values()) == 1
    for a in alerts:
        assert a.alert_id == alert_id(a.case_id, a.rule, a.deadline)


@pytest.mark.parametrize("name", NAMES)
def test_replay_measures_the_expected_waits(name):
    expected = load_expected(name).get("responses", [])
    got = {(r.case_id, r.asked_at): r for r in responses_of(run_replay(load_events(name), POLICY)).values()}
    for row in expected:
        r = got[(row["case_id"], datetime.fromisoformat(row["asked_at"]))]
        assert (r.kind, r.wait_ms) == (row["kind"], row["wait_ms"]), row
        if "business_wait_ms" in row:
            assert r.business_wait_ms == row["business_wait_ms"], row
    if expected:
        answered_cases = {row["case_id"] for row in expected}
        assert len([k for k in got if k[0] in answered_cases]) == len(expected)


@pytest.mark.parametrize("name", NAMES)
def test_replay_equals_live(name):
    events = load_events(name)
    replayed, live = alerts_of(run_replay(events, POLICY)), alerts_of(run_live(events, POLICY))
    assert {(a.alert_id, a.status) for a in replayed} == {(a.alert_id, a.status) for a in live}
    assert keys(replayed) == keys(live)


def test_live_detects_while_the_customer_waits():
    # Replay learns of 0102's breach from the watermark; live, at the first tick after the deadline,
    # 90 s before the late reply arrives.
    live = alerts_of(run_live(load_events("first_response"), POLICY))
    breach = next(a for a in live if a.case_id == "CASE-20250310-0102" and a.status == "breach")
    assert 0 <= (breach.detected_at - breach.deadline).total_seconds() < 5
    assert breach.detected_at < datetime.fromisoformat("2025-03-10T10:12:30+08:00")


@pytest.mark.parametrize("name", NAMES)
def test_arrival_order_does_not_change_the_outcome(name):
    events = load_events(name)
    shuffled = run_replay(events, POLICY)
    ordered = run_replay(sorted(events, key=lambda e: e.ts), POLICY)
    assert keys(alerts_of(shuffled)) == keys(alerts_of(ordered))
    strip = lambda rows: {k: r.model_copy(update={"version": 0}) for k, r in rows.items()}  # noqa: E731
    assert strip(responses_of(shuffled)) == strip(responses_of(ordered))


def test_out_of_order_fixture_really_is_out_of_order_within_lateness():
    events = load_events("out_of_order")
    newest = events[0].ts
    late = 0
    for e in events:
        if e.ts < newest:
            late += 1
            assert newest - e.ts <= POLICY.lateness
        newest = max(newest, e.ts)
    assert late >= 3
