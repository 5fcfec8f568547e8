"""Drivers for the scenario tests: the same events on the replay clock and on a live clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.cases import Alert, CaseTracker, Response, Step, Watermark, replay
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


def alerts_of(steps: list[Step]) -> list[Alert]:
    """Every alert emitted, in order."""
    return [a for s in steps for a in s.alerts]


def responses_of(steps: list[Step]) -> dict[str, Response]:
    """The final response row per asked message (later rows correct earlier ones)."""
    out: dict[str, Response] = {}
    for s in steps:
        for r in s.responses:
            out[r.asked_event_id] = r
    return out


def keys(alerts: list[Alert]) -> set[tuple[str, str, datetime, str]]:
    """What identifies an alert, independent of when it was detected."""
    return {(a.case_id, a.rule.value, a.deadline.astimezone(UTC), a.status) for a in alerts}


def run_replay(events: list[Touchpoint], policy: SlaPolicy) -> list[Step]:
    """Arrival order on the watermark clock, then the clock moved to the scenario's horizon."""
    return replay(events, policy, until=end_of(events))


def run_live(
    events: list[Touchpoint], policy: SlaPolicy, tick: timedelta = timedelta(seconds=5)
) -> list[Step]:
    """Events arrive at their own time; a wall-clock timer ticks every `tick` in between."""
    tracker = CaseTracker(policy)
    ordered = sorted(events, key=lambda e: e.ts)
    clock = ordered[0].ts.astimezone(UTC)
    steps: list[Step] = []
    for event in ordered:
        while clock + tick <= event.ts:
            clock += tick
            steps.extend(tracker.on_tick(clock))
        steps.append(tracker.on_event(event, now=event.ts))
    steps.extend(tracker.on_tick(end_of(events)))
    return steps


def fresh_watermark(policy: SlaPolicy) -> Watermark:
    """A replay clock with the policy's lateness."""
    return Watermark(lateness=policy.lateness)
