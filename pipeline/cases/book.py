"""One worker's cases, grouped by the partition they arrive on, driven by a stream clock.

The stream hands over batches of touchpoints and clock ticks; `CaseBook` returns what to write
(rows, alerts) and the new states, and only `commit` makes them current, after the writes landed.
A crash between the two replays the batch into the same rows: ids and versions are deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pipeline.cases.apply import Step, advance, apply, settle
from pipeline.cases.clock import MAX_CLOCK_AHEAD, ODD_TIME_JUMP, DueIndex, InputMark, Watermark, aligned, wall_clock
from pipeline.cases.derive import Fold
from pipeline.cases.rows import BEHIND_WATERMARK, PAST_HORIZON, Alert, LateEvent, Response, case_row, late_event
from pipeline.cases.state import CaseEvent, CaseState
from pipeline.sla.policy import SlaPolicy

ClockMode = Literal["auto", "event", "wall"]


class StreamClock:
    """The time deadlines are judged by, per partition, always less the allowed lateness.

    event: the watermark. When landing reports its input partitions' marks with the case feed
    (`inputs`), it is the minimum over the input partitions with events left to read (idle ones
    excluded), so an input partition read ahead of another never judges the other's cases; without
    reports, the partition's own mark (`Watermark`: one event stamped far ahead cannot move it).
    wall: the wall clock; auto: per partition, the watermark while its history is being replayed, the
    wall clock once it is live (its newest event within `live_window` of now) or idle for
    `idle_after` - so the end of a replay goes on to today and a case still unanswered now breaches
    now. Each partition decides for itself: one partition reaching today while another still
    replays last month must not judge the other's backlog by today's clock. A partition this worker
    has seen no event on since it was given the partition (`own`) waits `startup_grace` before calling itself
    idle: it may be about to catch up on a backlog, and judging that by today's clock would raise
    false alarms. For the same reason a partition with unread events (`behind`: the stream's view of
    its backlog) is never idle, however long the stream went without delivering any: a stalled
    replay is not a quiet partition. Idle counts from the last event applied or, when the stream
    saw its log end stand still for longer (`still`: seconds, by its fetches), from then: a backlog
    applied late but complete long ago is not waited on for another `idle_after`.
    """

    def __init__(
        self,
        mode: ClockMode = "auto",
        lateness: timedelta = timedelta(seconds=30),
        live_window: timedelta = timedelta(minutes=2),
        idle_after: timedelta = timedelta(seconds=5),
        startup_grace: timedelta = timedelta(seconds=30),
        wall: Callable[[], datetime] = wall_clock,
        monotonic: Callable[[], float] = time.monotonic,
        behind: Callable[[int], bool] = lambda partition: False,
        still: Callable[[int], float] = lambda partition: 0.0,
        ahead: timedelta = MAX_CLOCK_AHEAD,
        jump: timedelta = ODD_TIME_JUMP,
    ):
        self.mode = mode
        self.lateness = lateness
        self.ahead = ahead  # an event stamped further past the wall clock does not move the clock
        self.jump = jump  # nor does one this far past the partition's mark, until a second confirms it
        self.live_window = live_window
        self.idle_after = idle_after
        self.startup_grace = startup_grace
        self._wall = wall
        self._monotonic = monotonic
        self._behind = behind
        self._still = still
        self._marks: dict[int, Watermark] = {}
        self._last_event: dict[int, float] = {}
        self._started = monotonic()
        self._taken: dict[int, float] = {}
        # case-feed partition -> input partition -> (its mark, idle), as landing last reported it
        self._inputs: dict[int, dict[str, tuple[datetime | None, bool]]] = {}

    def future(self) -> datetime:
        """Event times past this are stamped ahead of the wall clock (`ahead`): they never move it."""
        return self._wall() + self.ahead

    def inputs(self, partition: int, marks: Iterable[InputMark]) -> None:
        """Take landing's report of the input partitions feeding `partition` (marks never go back)."""
        known = self._inputs.setdefault(partition, {})
        for source, mark, idle in marks:
            before = known.get(source, (None, False))[0]
            if before is not None and (mark is None or mark < before):
                mark = before
            known[source] = (mark, idle)

    def observe(self, partition: int, ts: datetime) -> None:
        """Note an event time seen on `partition`."""
        mark = self._marks.get(partition)
        if mark is None:  # not setdefault: that would build a Watermark for every event
            mark = self._marks[partition] = Watermark(lateness=self.lateness, jump=self.jump)
        mark.observe(ts)
        self._last_event[partition] = self._monotonic()

    def own(self, partitions: Iterable[int]) -> None:
        """The partitions this worker owns now: forget the others, start the grace of new ones."""
        owned = set(partitions)
        for seen in (self._marks, self._last_event, self._taken, self._inputs):
            for partition in set(seen) - owned:
                del seen[partition]
        now = self._monotonic()
        for partition in owned - set(self._last_event) - set(self._taken):
            self._taken[partition] = now

    def live(self, partition: int) -> bool:
        """Whether deadlines on `partition` follow the wall clock right now."""
        if self.mode != "auto":
            return self.mode == "wall"
        inputs = self._inputs.get(partition)
        if inputs:
            busy, at = aligned(inputs.values())
            if busy and (at is None or self._wall() - at > self.live_window):
                return False  # an input partition still replays: its cases are judged by its time
        last = self._last_event.get(partition)
        if last is None:
            idle, limit = self._monotonic() - self._taken.get(partition, self._started), self.startup_grace
        else:
            idle, limit = max(self._monotonic() - last, self._still(partition)), self.idle_after
        if idle >= limit.total_seconds() and not self._behind(partition):
            return True
        reached = self.mark(partition)
        return reached is not None and self._wall() - reached <= self.live_window

    def mark(self, partition: int) -> datetime | None:
        """The event time `partition`'s cases have reached (see the class), before the lateness."""
        mark = self._marks.get(partition)
        own = mark.mark() if mark else None
        inputs = self._inputs.get(partition)
        if not inputs:
            return own
        busy, at = aligned(inputs.values())
        if busy:
            return at
        # Everything read: as far as any input (or this partition itself) has reached.
        return max((m for m in (own, *(m for m, _ in inputs.values())) if m is not None), default=None)

    def watermark(self, partition: int) -> datetime | None:
        """Event time on `partition` less the lateness, whichever clock judges deadlines."""
        mark = self.mark(partition)
        return None if mark is None else mark - self.lateness

    def now(self, partition: int) -> datetime | None:
        """The clock for cases on `partition` (None: no time yet): live, the wall clock less the lateness."""
        return self._wall() - self.lateness if self.live(partition) else self.watermark(partition)


@dataclass
class Outcome:
    """What one batch or tick produced; nothing is current until `CaseBook.commit`."""

    responses: list[Response] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    changed: dict[str, CaseState] = field(default_factory=dict)  # case_id -> the state its row is of
    states: dict[str, tuple[int, CaseState]] = field(default_factory=dict)
    evicted: dict[str, int] = field(default_factory=dict)  # case_id -> partition: quiet and closed, a marker left
    forgotten: dict[str, int] = field(default_factory=dict)  # case_id -> partition: the marker's time is up
    updates: int = 0
    folds: dict[str, Fold] = field(default_factory=dict)  # case_id -> the reading of its new log
    late: list[LateEvent] = field(default_factory=list)  # events that arrived behind their clock

    @property
    def cases(self) -> dict[str, dict[str, Any]]:
        """The `cx.cases` rows of the cases that changed, one each."""
        return {case_id: case_row(state) for case_id, state in self.changed.items()}

    def take(self, partition: int, step: Step) -> None:
        """Fold one step in."""
        self.responses.extend(step.responses)
        self.alerts.extend(step.alerts)
        case_id = step.state.case_id
        if step.changed is not None:
            self.changed[case_id] = step.changed
        if step.fold is not None:
            self.folds[case_id] = step.fold
        self.states[case_id] = (partition, step.state)
        self.updates += 1


class CaseBook:
    """Case states (loaded through `load`) with a due-deadline index per partition.

    `settle_after`: how far behind its partition's watermark a case's events settle (leave its log,
    folded into its totals); an event arriving later than that is too late to change the case. `evict_after`: how
    long a closed case stays after its last event before it leaves the table. The reading of each
    case's log is kept in memory (`Fold`), so an event in order is read alone; `apply` ignores one
    that does not read the state it is given (a state restored from the changelog, say).
    """

    def __init__(
        self,
        policy: SlaPolicy,
        load: Callable[[str], CaseState | None],
        clock: StreamClock,
        settle_after: timedelta = timedelta(minutes=10),
        evict_after: timedelta = timedelta(days=7),
    ):
        self.policy = policy
        self.load = load
        self.clock = clock
        self.settle_after = settle_after
        self.evict_after = evict_after
        self.due: dict[int, DueIndex] = {}
        self.folds: dict[str, Fold] = {}

    def wake_at(self, state: CaseState) -> datetime | None:
        """When the case next needs the clock: its next deadline, or the end of its quiet period."""
        if state.gone is not None:
            return state.gone + self.evict_after  # when its marker goes
        quiet = state.quiet_since
        times = [t for t in (state.next_due, quiet and quiet + self.evict_after) if t is not None]
        return min(times, default=None)

    def rebuild(self, cases: Iterable[tuple[int, CaseState]]) -> None:
        """Rebuild the due indexes from stored states (after a restart or a rebalance)."""
        self.due = {}
        self.folds = {}
        for partition, state in cases:
            self.due.setdefault(partition, DueIndex()).set(state.case_id, self.wake_at(state))

    def forget(self, partitions: Iterable[int]) -> None:
        """Stop watching the cases of partitions handed to another worker."""
        for partition in partitions:
            self.due.pop(partition, None)
        self.folds = {}  # which partition a reading belongs to is not kept; a rebalance is rare

    def _state(self, outcome: Outcome, case_id: str) -> CaseState | None:
        staged = outcome.states.get(case_id)
        return staged[1] if staged else self.load(case_id)

    def _fold(self, outcome: Outcome, case_id: str) -> Fold | None:
        return outcome.folds.get(case_id) or self.folds.get(case_id)

    def on_events(
        self, batch: Iterable[tuple[int, CaseEvent]], marks: Mapping[int, Iterable[InputMark]] | None = None
    ) -> Outcome:
        """Apply touchpoints in arrival order, then fire what the clock says is due on their partitions.

        `marks`: per partition, landing's report of the input partitions feeding it (taken after
        the events: it covers them). An event behind its partition's clock when it arrives is still
        put in its place in its case (rows recomputed, a breach it disproves retracted) and noted in
        `Outcome.late`; one behind its case's settled horizon is too late to change it, and noted too."""
        outcome = Outcome()
        partitions = set()
        arrival: dict[int, datetime | None] = {}  # each partition's clock as the batch came
        ahead = self.clock.future()
        for partition, event in batch:
            entry = event.entry
            if partition not in arrival:
                arrival[partition] = self.clock.now(partition)
            at = arrival[partition]
            if entry.ts <= ahead:  # a stamp from the future never moves the clock (landing reports it)
                self.clock.observe(partition, entry.ts)
            case_id = event.case_id
            state = self._state(outcome, case_id)
            partitions.add(partition)
            if state is not None and state.gone is not None:
                if entry.ts < state.gone:  # the past of an evicted case: nothing to start again
                    if at is not None:
                        outcome.late.append(late_event(event, at, PAST_HORIZON))
                    continue
                state = None  # news after it left: a case under the same id starts afresh
            if at is not None and entry.ts < at and not (state and state.holds(entry.event_id)):
                too_late = state is not None and state.too_late(entry.ts)
                outcome.late.append(late_event(event, at, PAST_HORIZON if too_late else BEHIND_WATERMARK))
            step = apply(state, event, self.policy, fold=self._fold(outcome, case_id), arrived=at, clocked=True)
            outcome.take(partition, step)
        for partition, reported in (marks or {}).items():
            self.clock.inputs(partition, reported)
            partitions.add(partition)
        for partition in partitions:
            self._fire(outcome, partition)
        self._settle(outcome)
        return outcome

    def on_tick(self) -> Outcome:
        """Fire every deadline the clock has passed, on every partition."""
        outcome = Outcome()
        for partition in list(self.due):
            self._fire(outcome, partition)
        return outcome

    def _fire(self, outcome: Outcome, partition: int) -> None:
        now = self.clock.now(partition)
        if now is None:
            return
        index = self.due.get(partition)
        due = index.pop_due(now) if index else []
        # Cases touched in this batch may have deadlines the index does not know yet.
        touched = [c for c, (p, s) in outcome.states.items() if p == partition and s.next_due and s.next_due <= now]
        for case_id in dict.fromkeys([*due, *touched]):
            state = self._state(outcome, case_id)
            if state is None:
                continue
            if state.gone is not None:
                outcome.forgotten[case_id] = partition
                outcome.states.pop(case_id, None)
                continue
            quiet = state.quiet_since
            if quiet is not None and quiet + self.evict_after <= now:
                # Its state leaves; a marker stays for another `evict_after`, so that a redelivered batch
                # holding its events (a restart before the offsets were committed) does not start it again.
                outcome.evicted[case_id] = partition
                outcome.states[case_id] = (partition, CaseState(case_id=case_id, gone=max(quiet, now - self.settle_after)))
                outcome.folds.pop(case_id, None)
            else:
                outcome.take(partition, advance(state, now))

    def _settle(self, outcome: Outcome) -> None:
        # Only cases this batch touched: a case nobody writes to has nothing new to settle. By event
        # time, even live: an event is late relative to the events before it on its partition.
        marks: dict[int, datetime | None] = {}  # the clock aligns its inputs: once per partition
        for case_id, (partition, state) in list(outcome.states.items()):
            if state.gone is not None:
                continue
            if partition not in marks:
                marks[partition] = self.clock.watermark(partition)
            mark = marks[partition]
            if mark is not None:
                state, fold = settle(state, mark - self.settle_after, self.policy, self._fold(outcome, case_id))
                outcome.states[case_id] = (partition, state)
                if fold is not None:
                    outcome.folds[case_id] = fold

    def commit(self, outcome: Outcome) -> None:
        """Make an outcome's states current in the due indexes (its rows are written by now)."""
        for case_id, (partition, state) in outcome.states.items():
            self.due.setdefault(partition, DueIndex()).set(case_id, self.wake_at(state))
        self.folds.update(outcome.folds)
        for case_id in outcome.evicted:
            self.folds.pop(case_id, None)
        for case_id, partition in outcome.forgotten.items():
            self.due.setdefault(partition, DueIndex()).set(case_id, None)
