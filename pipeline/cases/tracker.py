"""Many cases at once: states in any mapping (a dict, a Faust table), with a due-deadline index."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from datetime import datetime
from typing import Any

from pipeline.cases.apply import Step, advance, apply
from pipeline.cases.clock import DueIndex, Watermark
from pipeline.cases.state import CaseState
from pipeline.events.models import Touchpoint
from pipeline.sla.policy import SlaPolicy


class CaseTracker:
    """Applies events and clock ticks to cases kept as JSON dicts in `store`, keyed by case_id."""

    def __init__(self, policy: SlaPolicy, store: MutableMapping[str, Any] | None = None) -> None:
        self.policy = policy
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.due = DueIndex()
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the due index from the store (after a restart or a partition reassignment)."""
        self.due = DueIndex()
        for case_id, data in self.store.items():
            self.due.set(case_id, CaseState.from_json(data).next_due)

    def state(self, case_id: str) -> CaseState | None:
        """The current state of a case, if any."""
        data = self.store.get(case_id)
        return None if data is None else CaseState.from_json(data)

    def _save(self, step: Step) -> Step:
        self.store[step.state.case_id] = step.state.to_json()
        self.due.set(step.state.case_id, step.state.next_due)
        return step

    def on_event(
        self, event: Touchpoint, sentiment: float | None = None, now: datetime | None = None
    ) -> Step:
        """Apply a touchpoint to its case; with `now`, also fire that case's deadlines due by then."""
        return self._save(apply(self.state(event.case_id), event, self.policy, sentiment, now))

    def on_tick(self, now: datetime | None) -> list[Step]:
        """Fire every deadline at or before `now` on every case (None: the clock has not started)."""
        if now is None:
            return []
        steps = []
        for case_id in self.due.pop_due(now):
            state = self.state(case_id)
            if state is not None:
                steps.append(self._save(advance(state, now)))
        return steps


def replay(
    events: Iterable[Touchpoint],
    policy: SlaPolicy,
    sentiments: dict[str, float] | None = None,
    until: datetime | None = None,
    tracker: CaseTracker | None = None,
    watermark: Watermark | None = None,
) -> list[Step]:
    """Run events in the given (arrival) order on the watermark clock; then, optionally, to `until`."""
    tracker = tracker or CaseTracker(policy)
    watermark = watermark or Watermark(lateness=policy.lateness)
    sentiments = sentiments or {}
    steps: list[Step] = []
    for event in events:
        now = watermark.observe(event.ts)
        steps.append(tracker.on_event(event, sentiments.get(event.event_id)))
        steps.extend(tracker.on_tick(now))
    if until is not None:
        steps.extend(tracker.on_tick(until))
    return steps
