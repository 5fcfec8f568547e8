"""Restart in the middle of cases: state through JSON and back, no lost deadline, no double breach."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest

from pipeline.cases import CaseTracker, Watermark, replay
from pipeline.sla import load_policy

from .helpers import NAMES, alerts_of, end_of, load_events

POLICY = load_policy()


def snapshot(tracker: CaseTracker, watermark: Watermark) -> str:
    """What survives a worker restart: the changelog table and the clock, as JSON text."""
    return json.dumps({"cases": dict(tracker.store), "watermark": watermark.model_dump(mode="json")})


def restore(text: str) -> tuple[CaseTracker, Watermark]:
    data = json.loads(text)
    return CaseTracker(POLICY, store=data["cases"]), Watermark.model_validate(data["watermark"])


def run_with_restart(events, cut):
    tracker, watermark = CaseTracker(POLICY), Watermark(lateness=POLICY.lateness)
    before = replay(events[:cut], POLICY, tracker=tracker, watermark=watermark)
    tracker2, watermark2 = restore(snapshot(tracker, watermark))
    after = replay(events[cut:], POLICY, until=end_of(events), tracker=tracker2, watermark=watermark2)
    return alerts_of(before) + alerts_of(after), tracker2


@pytest.mark.parametrize("name", NAMES)
def test_restart_at_every_event_changes_nothing(name):
    events = load_events(name)
    straight = CaseTracker(POLICY)
    expected = alerts_of(replay(events, POLICY, until=end_of(events), tracker=straight))
    for cut in range(len(events) + 1):
        alerts, tracker = run_with_restart(events, cut)
        ids = [(a.alert_id, a.status) for a in alerts]
        assert Counter(ids).most_common(1)[0][1] == 1, f"double alert after a restart at {cut}"
        assert set(ids) == {(a.alert_id, a.status) for a in expected}, f"cut at {cut}"
        assert tracker.store == straight.store, f"state differs after a restart at {cut}"


def test_deadline_pending_at_the_restart_fires_after_it_on_the_live_clock():
    events = load_events("restart")
    cut = next(i for i, e in enumerate(events) if e.ts.isoformat().endswith("09:10:00+08:00")) + 1
    tracker, watermark = CaseTracker(POLICY), Watermark(lateness=POLICY.lateness)
    replay(events[:cut], POLICY, tracker=tracker, watermark=watermark)
    tracker2, _ = restore(snapshot(tracker, watermark))

    state = tracker2.state("CASE-20250310-0901")
    assert state is not None and state.next_due == datetime.fromisoformat("2025-03-10T09:12:00+08:00")
    assert tracker2.on_tick(datetime.fromisoformat("2025-03-10T09:11:59+08:00")) == []
    fired = alerts_of(tracker2.on_tick(datetime.fromisoformat("2025-03-10T09:12:03+08:00")))
    assert [(a.rule.value, a.status) for a in fired] == [("next_reply", "breach")]
    assert fired[0].waited_ms == 123_000
    assert tracker2.on_tick(datetime.fromisoformat("2025-03-10T09:13:00+08:00")) == []


def test_stale_snapshot_and_redelivered_events_reuse_the_same_alert_ids():
    # The changelog may lag the alerts already sent: after restoring an older snapshot the worker
    # sends some alerts again, but with the same ids, so ClickHouse and notifiers drop them.
    events = load_events("restart")
    tracker, watermark = CaseTracker(POLICY), Watermark(lateness=POLICY.lateness)
    replay(events[:4], POLICY, tracker=tracker, watermark=watermark)
    stale = snapshot(tracker, watermark)
    first_try = alerts_of(
        replay(events[4:], POLICY, until=end_of(events), tracker=tracker, watermark=watermark)
    )
    tracker2, watermark2 = restore(stale)
    second_try = alerts_of(
        replay(events[4:], POLICY, until=end_of(events), tracker=tracker2, watermark=watermark2)
    )
    assert first_try and {(a.alert_id, a.status) for a in first_try} == {
        (a.alert_id, a.status) for a in second_try
    }


def test_redelivered_event_is_ignored():
    events = load_events("restart")
    tracker = CaseTracker(POLICY)
    replay(events, POLICY, until=end_of(events), tracker=tracker)
    before = dict(tracker.store)
    again = replay(events, POLICY, until=end_of(events), tracker=tracker)
    assert alerts_of(again) == [] and all(s.responses == [] for s in again)
    assert tracker.store == before
