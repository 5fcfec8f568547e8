"""Case state that stays small: settled events leave the log, quiet closed cases leave the table.

The yardstick is the same stream run without either: every row and alert must come out the same.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

import pipeline.cases.apply

from pipeline.cases import CaseState, apply
from pipeline.cases.apply import settle
from pipeline.cases.book import CaseBook, Outcome, StreamClock
from pipeline.cases.state import CaseEvent
from pipeline.events import Touchpoint, parse_touchpoint
from pipeline.generate import generate
from pipeline.sla import load_policy

from tests.cases.helpers import NAMES, load_events
from tests.cases.test_rules import at, tp

POLICY = load_policy()
apply_module = sys.modules["pipeline.cases.apply"]  # the package exports a function of the same name
NEVER = timedelta(days=36500)


def _touchpoints(n: int, seed: int) -> list[Touchpoint]:
    """Generated touchpoints, each delayed by up to the policy's lateness (arrivals out of order)."""
    events = [e for ln in generate(n, seed=seed).lines if isinstance(e := parse_touchpoint(ln), Touchpoint)]
    rng = random.Random(seed)
    late = POLICY.lateness.total_seconds()
    arrival = [(e.ts + timedelta(seconds=rng.uniform(0, late)), i) for i, e in enumerate(events)]
    return [events[i] for _, i in sorted(arrival)]


@dataclass
class Run:
    """Everything a run of the case book wrote, the last row per key, and the states it kept."""

    states: dict[str, CaseState] = field(default_factory=dict)
    responses: dict[str, dict] = field(default_factory=dict)
    alerts: list[tuple] = field(default_factory=list)
    cases: dict[str, dict] = field(default_factory=dict)
    evicted: int = 0
    changelog_bytes: int = 0  # every state written, as the stream writes it to the table's changelog

    def take(self, outcome: Outcome) -> None:
        for r in outcome.responses:
            self.responses[r.asked_event_id] = r.row()
        self.alerts.extend((a.alert_id, a.status, a.detected_at) for a in outcome.alerts)
        for case_id, row in outcome.cases.items():
            self.cases[case_id] = row
        self.states.update({c: s for c, (_, s) in outcome.states.items()})
        self.changelog_bytes += sum(len(json.dumps(s.to_json())) for _, s in outcome.states.values())
        for case_id in outcome.forgotten:
            del self.states[case_id]
        self.evicted += len(outcome.evicted)


def run(
    events: list[Touchpoint],
    settle_after: timedelta,
    evict_after: timedelta = NEVER,
    batch: int = 50,
    restored: bool = False,
) -> Run:
    """The case book over `events`; `restored`: every state loaded from its JSON, as after a restart."""
    out = Run()

    def load(case_id: str) -> CaseState | None:
        state = out.states.get(case_id)
        return CaseState.from_json(state.to_json()) if restored and state is not None else state

    book = CaseBook(POLICY, load, StreamClock("event", lateness=POLICY.lateness), settle_after, evict_after)
    for i in range(0, len(events), batch):
        for outcome in (book.on_events([(0, CaseEvent.of(e)) for e in events[i : i + batch]]), book.on_tick()):
            out.take(outcome)
            book.commit(outcome)
    return out


@pytest.fixture(scope="module")
def stream() -> list[Touchpoint]:
    return _touchpoints(6000, seed=11)


@pytest.fixture(scope="module")
def whole(stream) -> Run:
    return run(stream, settle_after=NEVER)


def test_settling_changes_no_row_and_no_alert(stream, whole):
    settled = run(stream, settle_after=timedelta(seconds=1))
    assert settled.alerts == whole.alerts and len(whole.alerts) > 50
    assert settled.responses == whole.responses and len(whole.responses) > 1000
    assert settled.cases == whole.cases
    assert sum(s.settled is not None for s in settled.states.values()) > len(settled.states) / 2
    assert settled.changelog_bytes < whole.changelog_bytes, (settled.changelog_bytes, whole.changelog_bytes)


def test_reading_on_from_the_kept_fold_is_reading_the_log_again(stream, monkeypatch):
    """Most events are read alone after the case's kept reading; a state restored from JSON is read
    again from its log. Both give the same rows, alerts and states, with events out of order too."""
    reads = []
    real = apply_module.read
    monkeypatch.setattr(apply_module, "read", lambda *args: reads.append(len(args[1])) or real(*args))
    kept = run(stream, settle_after=timedelta(minutes=10))
    read_kept, reads[:] = sum(reads), []
    again = run(stream, settle_after=timedelta(minutes=10), restored=True)
    assert read_kept * 3 < sum(reads) and len(stream) <= sum(reads), (read_kept, sum(reads), len(stream))
    assert kept.alerts == again.alerts and len(kept.alerts) > 50
    assert kept.responses == again.responses and kept.cases == again.cases
    assert {c: s.to_json() for c, s in kept.states.items()} == {c: s.to_json() for c, s in again.states.items()}


def test_a_contact_opened_after_the_first_message_opens_the_case_again():
    """The one event read in order that changes what came before: the case opens from it instead."""
    events = [
        tp("customer_message", "10:00:00", channel="email", priority="high"),
        tp("contact_opened", "10:00:05", channel="phone"),
        tp("agent_reply", "10:00:30"),
    ]
    on = again = None
    for e in events:
        step = apply(on.state if on else None, e, POLICY, fold=on.fold if on else None)
        fresh = apply(again.state if again else None, e, POLICY)
        assert step.state == fresh.state and step.case == fresh.case and step.alerts == fresh.alerts
        on, again = step, fresh
    assert on.state.summary.channel.value == "phone" and on.state.summary.opened_at == events[1].ts


def test_a_reading_of_another_state_is_not_read_on():
    """The reading from before a settle (same events, other settled part) or of another log is ignored."""
    state = fold = None
    late = [tp("customer_message", "09:00:00"), tp("agent_reply", "09:05:00"), tp("customer_message", "09:06:00")]
    for e in late:  # a breached first response, then a message still open
        step = apply(state, e, POLICY, fold=fold)
        state, fold = step.state, step.fold
    assert [a.status for a in apply(None, late[0], POLICY, now=at("09:02:00")).alerts] == ["breach"]
    settled, _ = settle(state, until=at("09:05:30"), policy=POLICY)
    nxt = tp("agent_reply", "09:06:30")
    fresh = apply(settled, nxt, POLICY)
    assert apply(settled, nxt, POLICY, fold=fold).state == fresh.state and not fresh.alerts
    other = apply(state, tp("agent_reply", "09:06:10"), POLICY)
    assert apply(other.state, nxt, POLICY, fold=fold).state == apply(other.state, nxt, POLICY).state


def test_a_long_case_keeps_a_state_of_the_same_size():
    """200 turns of message and reply: the settled state stays as small as after the first few."""
    events = [tp("contact_opened", "00:00:00", case="C-LONG")]
    for turn in range(200):
        t = turn * 240
        events += [
            tp("customer_message", f"{t // 3600:02d}:{t // 60 % 60:02d}:00", case="C-LONG"),
            tp("agent_reply", f"{t // 3600:02d}:{t // 60 % 60:02d}:30", case="C-LONG"),
        ]
    sizes = {}
    for name, after in (("settled", timedelta(seconds=1)), ("whole", NEVER)):
        r = run(events, after, batch=1)
        sizes[name] = len(json.dumps(r.states["C-LONG"].to_json()))
        early = run(events[:21], after, batch=1)
        sizes[f"{name} after 10 turns"] = len(json.dumps(early.states["C-LONG"].to_json()))
    assert sizes["settled"] < sizes["settled after 10 turns"] * 1.2, sizes
    assert sizes["whole"] > sizes["whole after 10 turns"] * 10, sizes


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_comes_out_the_same_when_settled_at_once(name):
    events = load_events(name)
    assert run(events, timedelta(seconds=1), batch=1).alerts == run(events, NEVER, batch=1).alerts


def test_quiet_closed_cases_leave_and_only_they(stream, whole):
    evicting = run(stream, settle_after=timedelta(seconds=1), evict_after=timedelta(hours=1))
    assert evicting.cases == whole.cases and evicting.alerts == whole.alerts
    assert evicting.evicted > len(whole.states) / 3
    left = {c for c, s in evicting.states.items() if s.gone is None}  # the others left a marker
    assert {c for c, row in whole.cases.items() if row["status"] != "closed"} <= left
    newest = max(e.ts for e in stream)
    for case_id, row in whole.cases.items():
        if case_id not in left:  # evicted: closed, and quiet for the hour before the clock's last reading
            assert row["status"] == "closed" and row["last_event_at"] + timedelta(hours=1) <= newest - POLICY.lateness


def test_a_settled_event_redelivered_or_too_late_changes_nothing():
    state = None
    for e in [tp("contact_opened", "09:00:00"), tp("customer_message", "09:00:05"), tp("agent_reply", "09:00:40")]:
        state = apply(state, e, POLICY).state
    settled, _ = settle(state, until=state.log[-1].ts + timedelta(seconds=1), policy=POLICY)
    assert settled.log == [] and settled.settled.events == 3 and settled.events == 3
    assert settled.summary == state.summary and settled.answered == {}
    again = apply(settled, tp("customer_message", "09:00:20"), POLICY)  # before the horizon
    assert again.state is settled and not again.responses and not again.alerts and again.case is None
    nxt = apply(settled, tp("customer_message", "09:05:00"), POLICY)
    assert nxt.state.summary.messages == 3 and nxt.state.events == 4 and nxt.case["events"] == 4


def test_a_case_back_after_eviction_writes_rows_that_win():
    closed = None
    for e in [tp("contact_opened", "09:00:00", case="C-EV"), tp("agent_reply", "09:01:00", case="C-EV"), tp("closed", "09:02:00", actor="system", case="C-EV")]:
        closed = apply(closed, e, POLICY).state
    assert closed.quiet_since is not None
    back = apply(None, tp("customer_message", "09:00:00", case="C-EV", day="2025-03-20"), POLICY)
    assert back.case["version"] > closed.revision
    stale = apply(None, tp("customer_message", "08:00:00", case="C-EV"), POLICY)  # an old event, redelivered
    assert stale.case["version"] < closed.revision
