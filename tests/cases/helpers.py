"""Drivers for the scenario tests: the case agent's logic on the replay clock and on a live clock."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.cases import Alert, Response
from pipeline.cases.book import CaseBook, Outcome, StreamClock
from pipeline.cases.state import CaseEvent, CaseRecord, CaseState
from pipeline.events import Rejected, Touchpoint, parse_touchpoint
from pipeline.sla import SlaPolicy

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
NAMES = sorted(p.name.removesuffix(".jsonl") for p in SCENARIOS.glob("*.jsonl"))


def load_events(name: str) -> list[Touchpoint]:
    """A fixture's touchpoints in file (arrival) order, validated like the stream does."""
    events = []
    for line in (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        event = parse_touchpoint(line)
        assert not isinstance(event, Rejected), event.reason
        events.append(event)
    return events


def load_expected(name: str) -> dict:
    """The sidecar `<name>.expected.json`."""
    return json.loads((SCENARIOS / f"{name}.expected.json").read_text(encoding="utf-8"))


def end_of(events: list[Touchpoint]) -> datetime:
    """The scenario's horizon: its newest event time."""
    return max(e.ts for e in events)


class Agent:
    """What the case agent does, minus Kafka: `CaseBook` over a dict standing for the case table.

    One batch per touchpoint, written to the table after each batch as the agent does. The table
    holds what the changelog holds (`CaseRecord` JSON), so a copy of it is what a restart restores;
    the clock, as in the worker, starts afresh. `live=False`: the clock is the worker's default
    (auto), replaying history until `tick(until)` takes it to the present; `live=True`: the wall
    clock, set to each event's time as it arrives."""

    def __init__(self, policy: SlaPolicy, live: bool = False, table: dict[str, str] | None = None) -> None:
        self.table: dict[str, str] = {} if table is None else table
        self.wall = datetime(9999, 1, 1, tzinfo=UTC)  # history is far behind the wall clock
        self.monotonic = 0.0  # the worker's monotonic clock: only `tick` moves it, so a replay idles there
        self.clock = StreamClock(
            "wall" if live else "auto", lateness=policy.lateness, wall=lambda: self.wall, monotonic=lambda: self.monotonic
        )
        self.book = CaseBook(policy, self.state, self.clock)
        self.book.rebuild((r.partition, r.state) for r in map(CaseRecord.model_validate_json, self.table.values()))

    def state(self, case_id: str) -> CaseState | None:
        """The stored state of a case, if any."""
        stored = self.table.get(case_id)
        return None if stored is None else CaseRecord.model_validate_json(stored).state

    def _written(self, outcome: Outcome) -> Outcome:
        for case_id, (partition, state) in outcome.states.items():
            self.table[case_id] = CaseRecord(partition=partition, state=state).model_dump_json()
        for case_id in outcome.forgotten:
            del self.table[case_id]
        self.book.commit(outcome)
        return outcome

    def events(self, events: Iterable[Touchpoint | CaseEvent]) -> list[Outcome]:
        """Each touchpoint as a batch of its own, in the given (arrival) order; live, at its own time."""
        out = []
        for event in events:
            if isinstance(event, Touchpoint):
                event = CaseEvent.of(event)
            if self.clock.mode == "wall":
                self.wall = event.entry.ts
            out.append(self._written(self.book.on_events([(0, event)])))
        return out

    def tick(self, now: datetime) -> Outcome:
        """The timer at wall-clock time `now`; a replay has been idle long enough to go live by then."""
        self.wall, self.monotonic = now, self.monotonic + 3600.0
        return self._written(self.book.on_tick())


def replay(
    events: Iterable[Touchpoint | CaseEvent],
    policy: SlaPolicy,
    until: datetime | None = None,
    agent: Agent | None = None,
) -> list[Outcome]:
    """Events in arrival order on the replay clock; then, optionally, the clock taken to `until`."""
    agent = agent or Agent(policy)
    out = agent.events(events)
    return out + [agent.tick(until)] if until is not None else out


def alerts_of(outcomes: list[Outcome]) -> list[Alert]:
    """Every alert emitted, in order."""
    return [a for o in outcomes for a in o.alerts]


def responses_of(outcomes: list[Outcome]) -> dict[str, Response]:
    """The final response row per asked message (later rows correct earlier ones)."""
    out: dict[str, Response] = {}
    for o in outcomes:
        for r in o.responses:
            out[r.asked_event_id] = r
    return out


def keys(alerts: list[Alert]) -> set[tuple[str, str, datetime, str]]:
    """What identifies an alert, independent of when it was detected."""
    return {(a.case_id, a.rule.value, a.deadline.astimezone(UTC), a.status) for a in alerts}


def run_replay(events: list[Touchpoint], policy: SlaPolicy) -> list[Outcome]:
    """Arrival order on the replay clock, then the clock moved to the scenario's horizon."""
    return replay(events, policy, until=end_of(events))


def run_live(events: list[Touchpoint], policy: SlaPolicy, tick: timedelta = timedelta(seconds=5)) -> list[Outcome]:
    """Events arrive at their own time; the timer ticks every `tick` in between."""
    agent = Agent(policy, live=True)
    ordered = sorted(events, key=lambda e: e.ts)
    clock = ordered[0].ts.astimezone(UTC)
    out: list[Outcome] = []
    for event in ordered:
        while clock + tick <= event.ts:
            clock += tick
            out.append(agent.tick(clock))
        out += agent.events([event])
    return out + [agent.tick(end_of(events))]
