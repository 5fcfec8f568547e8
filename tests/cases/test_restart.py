"""Restart in the middle of cases: state through JSON and back, no lost deadline, no double breach."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from pipeline.cases import case_row
from pipeline.sla import load_policy

from .helpers import NAMES, Agent, alerts_of, end_of, load_events, replay

POLICY = load_policy()


def restart(agent: Agent) -> Agent:
    """A new worker: the case table restored from its changelog (a copy of its JSON values), a fresh clock."""
    return Agent(POLICY, table=dict(agent.table))


def case_rows(agent: Agent) -> dict[str, dict]:
    """The `cx.cases` row of every case the agent holds."""
    return {case_id: {**case_row(agent.state(case_id)), "version": None} for case_id in agent.table}


def run_with_restart(events, cut):
    agent = Agent(POLICY)
    before = replay(events[:cut], POLICY, agent=agent)
    agent2 = restart(agent)
    after = replay(events[cut:], POLICY, until=end_of(events), agent=agent2)
    return alerts_of(before) + alerts_of(after), agent2


@pytest.mark.parametrize("name", NAMES)
def test_restart_at_every_event_changes_nothing(name):
    events = load_events(name)
    straight = Agent(POLICY)
    expected = alerts_of(replay(events, POLICY, until=end_of(events), agent=straight))
    for cut in range(len(events) + 1):
        alerts, agent = run_with_restart(events, cut)
        ids = [(a.alert_id, a.status) for a in alerts]
        assert Counter(ids).most_common(1)[0][1] == 1, f"double alert after a restart at {cut}"
        assert set(ids) == {(a.alert_id, a.status) for a in expected}, f"cut at {cut}"
        # The settled horizon follows the clock, which a restart starts afresh (a jump held for
        # confirmation is forgotten): what the case says must not differ, however far it settled.
        assert case_rows(agent) == case_rows(straight), f"case rows differ after a restart at {cut}"


def test_deadline_pending_at_the_restart_fires_after_it_on_the_live_clock():
    events = load_events("restart")
    cut = next(i for i, e in enumerate(events) if e.ts.isoformat().endswith("09:10:00+08:00")) + 1
    agent = Agent(POLICY)
    replay(events[:cut], POLICY, agent=agent)
    agent2 = restart(agent)

    state = agent2.state("CASE-20250310-0901")
    assert state is not None and state.next_due == datetime.fromisoformat("2025-03-10T09:12:00+08:00")
    late = POLICY.lateness  # live, a deadline is judged once the wall clock passed it by the lateness
    assert alerts_of([agent2.tick(datetime.fromisoformat("2025-03-10T09:11:59+08:00") + late)]) == []
    fired = alerts_of([agent2.tick(datetime.fromisoformat("2025-03-10T09:12:03+08:00") + late)])
    assert [(a.rule.value, a.status) for a in fired] == [("next_reply", "breach")]
    assert fired[0].waited_ms == 123_000
    assert alerts_of([agent2.tick(datetime.fromisoformat("2025-03-10T09:13:00+08:00") + late)]) == []


def test_stale_snapshot_and_redelivered_events_reuse_the_same_alert_ids():
    # The changelog may lag the alerts already sent: after restoring an older snapshot the worker
    # sends some alerts again, but with the same ids, so ClickHouse and notifiers drop them.
    events = load_events("restart")
    agent = Agent(POLICY)
    replay(events[:4], POLICY, agent=agent)
    stale = restart(agent)
    first_try = alerts_of(replay(events[4:], POLICY, until=end_of(events), agent=agent))
    second_try = alerts_of(replay(events[4:], POLICY, until=end_of(events), agent=stale))
    assert first_try and {(a.alert_id, a.status) for a in first_try} == {
        (a.alert_id, a.status) for a in second_try
    }


def test_redelivered_event_is_ignored():
    events = load_events("restart")
    agent = Agent(POLICY)
    replay(events, POLICY, until=end_of(events), agent=agent)
    before = {case_id: agent.state(case_id) for case_id in agent.table}
    again = replay(events, POLICY, until=end_of(events), agent=agent)
    assert alerts_of(again) == [] and all(o.responses == [] and not o.cases for o in again)
    # Touched again, a case may settle further (its old events fold into its totals); it does not change.
    after = {case_id: agent.state(case_id) for case_id in agent.table}
    assert {c: s.revision for c, s in after.items()} == {c: s.revision for c, s in before.items()}
    assert all(after[c].summary == before[c].summary for c in before)
