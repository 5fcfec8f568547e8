"""A worker's case states and the book over them, as the case agent drives them, ready to run apart.

`CaseKeeper` owns the states (the case table's content), so only bytes and rows cross to the
stream: case-feed messages in, breach messages, rows and changelog records out (`CaseWrites`). The
case agent runs it in a process of its own (`streams.pools.cases`); the stream keeps the broker
and the store. Unlike `CaseBook`'s, an outcome is current at once, so the next batch can be applied
while this one is written: a write that fails stops the worker, whose successor rebuilds the states
from the changelog (what was written) and is given the unacked batches again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.cases.book import CaseBook, ClockMode, Outcome, StreamClock
from pipeline.cases.clock import MAX_CLOCK_AHEAD, ODD_TIME_JUMP, InputMark
from pipeline.cases.feed import read_case_feed
from pipeline.cases.state import CaseEvent, CaseRecord, CaseState
from pipeline.sla.policy import SlaPolicy
from pipeline.store.tables import ALERTS, CASES, LATE_EVENTS, RESPONSES

Stored = bytes | dict  # a case table value: the changelog's JSON (written here) or it decoded (restored)


@dataclass
class CaseWrites:
    """What a batch or a tick produced, in the form it is written: breach messages (key, JSON),
    rows per table, changelog records (case id, state JSON; None: the case is forgotten)."""

    breaches: list[tuple[bytes, bytes]] = field(default_factory=list)
    rows: dict[str, list[dict]] = field(default_factory=dict)
    changes: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    alert_keys: list[tuple[str, str]] = field(default_factory=list)  # (alert_id, status) published
    events: int = 0  # touchpoints applied
    updates: int = 0  # case states changed
    evicted: int = 0
    live: bool = False  # (a tick) every watched partition followed the wall clock

    @property
    def empty(self) -> bool:
        """Nothing to write: no row, no state changed, no case left."""
        return not self.rows and not self.changes


def stored_record(value: Stored) -> CaseRecord:
    """The record a case table value holds."""
    return CaseRecord.model_validate_json(value) if isinstance(value, bytes) else CaseRecord.model_validate(value)


class CaseKeeper:
    """Case states by case id, a `CaseBook` over them and its stream clock.

    `behind`, given with each batch and tick: the partitions whose events the stream has fetched
    but not handed over yet (the clock never calls those idle); `still`: partition -> seconds its
    log end has stood still, by the stream's fetches (a partition quiet that long is idle)."""

    def __init__(
        self,
        policy: SlaPolicy,
        clock: ClockMode = "auto",
        settle_after: timedelta = timedelta(minutes=10),
        evict_after: timedelta = timedelta(days=7),
        ahead: timedelta = MAX_CLOCK_AHEAD,
        jump: timedelta = ODD_TIME_JUMP,
    ):
        self.states: dict[str, CaseState] = {}
        self._behind: frozenset[int] = frozenset()
        self._still: Mapping[int, float] = {}
        self.clock = StreamClock(
            clock,
            lateness=policy.lateness,
            behind=lambda partition: partition in self._behind,
            still=lambda partition: self._still.get(partition, 0.0),
            ahead=ahead,
            jump=jump,
        )
        self.book = CaseBook(policy, self.states.get, self.clock, settle_after, evict_after)

    def on_events(
        self, packs: Sequence[tuple[int, bytes]], behind: Iterable[int] = (), still: Mapping[int, float] | None = None
    ) -> CaseWrites:
        """Apply the case events of case-feed messages (partition, value), in order."""
        self._behind, self._still = frozenset(behind), still or {}
        batch: list[tuple[int, CaseEvent]] = []
        marks: dict[int, list[InputMark]] = {}
        for partition, value in packs:
            events, reported = read_case_feed(value)
            batch += [(partition, event) for event in events]
            if reported:
                marks.setdefault(partition, []).extend(reported)
        writes = self._writes(self.book.on_events(batch, marks))
        writes.events = len(batch)
        return writes

    def on_tick(self, behind: Iterable[int] = (), still: Mapping[int, float] | None = None) -> CaseWrites:
        """Fire what the clock says is due, on every partition."""
        self._behind, self._still = frozenset(behind), still or {}
        live = all(self.clock.live(p) for p in self.book.due)
        writes = self._writes(self.book.on_tick())
        writes.live = live
        return writes

    def _writes(self, outcome: Outcome) -> CaseWrites:
        rows: dict[str, list[dict]] = {}
        if outcome.responses:
            rows[RESPONSES] = [r.row() for r in outcome.responses]
        if outcome.alerts:
            rows[ALERTS] = [a.row() for a in outcome.alerts]
        if outcome.changed:
            rows[CASES] = list(outcome.cases.values())
        if outcome.late:
            rows[LATE_EVENTS] = [e.row() for e in outcome.late]
        changes: list[tuple[bytes, bytes | None]] = [
            (c.encode(), CaseRecord(partition=p, state=state).dump()) for c, (p, state) in outcome.states.items()
        ]
        changes += [(c.encode(), None) for c in outcome.forgotten]  # tombstones: compaction drops the case
        writes = CaseWrites(
            breaches=[(a.case_id.encode(), a.model_dump_json().encode()) for a in outcome.alerts],
            rows=rows,
            changes=changes,
            alert_keys=[(a.alert_id, a.status) for a in outcome.alerts],
            updates=outcome.updates,
            evicted=len(outcome.evicted),
        )
        self._commit(outcome)
        return writes

    def _commit(self, outcome: Outcome) -> None:
        for case_id, (_, state) in outcome.states.items():
            self.states[case_id] = state
        for case_id in outcome.forgotten:
            self.states.pop(case_id, None)
        self.book.commit(outcome)

    def rebuild(self, stored: Iterable[Stored], owned: Iterable[int]) -> int:
        """Take the case table's content (after a restart or a rebalance) and watch the cases of the
        partitions owned now; returns how many those are."""
        owned = set(owned)
        records = [stored_record(value) for value in stored if value]
        self.states.clear()
        self.states.update((r.state.case_id, r.state) for r in records)
        cases = [(r.partition, r.state) for r in records if r.partition in owned]
        self.book.rebuild(cases)
        self.clock.own(owned)
        return len(cases)

    def forget(self, partitions: Iterable[int]) -> None:
        """Stop watching the cases of partitions handed to another worker."""
        self.book.forget(partitions)
