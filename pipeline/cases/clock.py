"""Clocks that drive deadlines: the event-time watermark (replay) or the wall clock (live)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from pipeline.cases.rows import AHEAD_OF_WALL_CLOCK, FAR_AHEAD
from pipeline.sla.policy import Duration


# Defaults of CX_MAX_CLOCK_AHEAD and CX_ODD_TIME_JUMP: how far past the wall clock an event may be
# stamped and still move the clock, and how far past its partition's mark one event may jump alone.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
ODD_TIME_JUMP = timedelta(hours=1)


def wall_clock() -> datetime:
    """Now, in UTC: the live clock."""
    return datetime.now(UTC)


class Watermark(BaseModel):
    """Event time that is safe to act on: the partition's event-time mark minus the allowed lateness.

    The mark is the newest event time seen, except that an event more than `jump` past it moves it
    only once a second such event confirms the jump (to the earlier of the two): one event stamped
    far ahead (a local time labelled UTC, a device with a wrong clock) cannot move it on its own.
    JSON-serialisable so a worker can keep it next to the case table and resume after a restart.
    """

    model_config = ConfigDict(extra="forbid")

    lateness: Duration = timedelta(seconds=30)
    jump: Duration = ODD_TIME_JUMP
    max_seen: AwareDatetime | None = None
    suspect: AwareDatetime | None = None  # an event far ahead of the mark, waiting for a second one

    def observe(self, ts: datetime) -> datetime | None:
        """Note an event time; returns the (never decreasing) watermark."""
        self.note(ts)
        return self.now()

    def note(self, ts: datetime) -> Literal["in_order", "held", "confirmed", "refuted"]:
        """Note an event time. held: far ahead of the mark, waiting for a second such event;
        confirmed: this one confirmed the jump held before (a real gap in traffic); refuted: this one
        is in order while a jump is held, so the held event was an odd time (it is forgotten)."""
        mark = self.max_seen
        if mark is None or ts <= mark + self.jump:
            if mark is None or ts > mark:
                self.max_seen = ts.astimezone(UTC)
            if self.suspect is not None:
                self.suspect = None
                return "refuted"
            return "in_order"
        if self.suspect is None:
            self.suspect = ts.astimezone(UTC)
            return "held"
        self.max_seen, self.suspect = min(self.suspect, ts.astimezone(UTC)), None
        return "confirmed"

    def mark(self) -> datetime | None:
        """The event time this partition has reached (None before the first event)."""
        return self.max_seen

    def now(self) -> datetime | None:
        """The watermark, or None before the first event."""
        mark = self.max_seen
        return None if mark is None else mark - self.lateness


class InputMark(NamedTuple):
    """How far one input partition has been read, as landing reports it on the case feed.

    `source`: the input topic and partition ("cx.touchpoints:3"); `mark`: its event-time mark (None:
    nothing read from it yet by this landing agent); `idle`: nothing is left to read on it (it then
    holds no one back: its next event will be new)."""

    source: str
    mark: datetime | None
    idle: bool


T = TypeVar("T")


@dataclass
class Observed(Generic[T]):
    """What `InputMarks.observe` saw: per event, how far it arrived behind its partition's mark; and
    the odd ones (event, reason, the time judged against)."""

    behind: list[timedelta] = field(default_factory=list)
    odd: list[tuple[T, str, datetime]] = field(default_factory=list)


class InputMarks:
    """Landing's view of its input partitions' event time: a robust mark per partition (`Watermark`).

    An event stamped more than `ahead` past the wall clock is not counted: no real event comes from
    the future, and one such event must not move the time every case is judged by. One stamped more
    than `jump` past its partition's mark is counted (the mark needs two such events to move) but
    reported once the next event shows it was not a real jump: both are odd times, kept in
    `cx.late_events` per source."""

    def __init__(
        self,
        ahead: timedelta = MAX_CLOCK_AHEAD,
        jump: timedelta = ODD_TIME_JUMP,
        wall: Callable[[], datetime] | None = None,
    ):
        self.ahead = ahead
        self.jump = jump
        self._wall = wall or wall_clock
        self._marks: dict[str, Watermark] = {}
        self._held: dict[str, tuple[Any, datetime]] = {}  # source -> an event far ahead, and the mark it jumped

    def observe(self, events: Iterable[tuple[str, datetime, T]]) -> Observed[T]:
        """Note (source, event time, the event) of the touchpoints read, in order. Returns how far each
        arrived behind its partition's mark (out of order by that much: a lagging source), and the odd
        ones as (the event, reason, the time it was judged against: the wall clock or its partition's
        mark). An event far ahead of its partition is odd once the next event on the partition shows
        the jump was not real (a gap in traffic is confirmed by the next event instead)."""
        wall = self._wall()
        limit = wall + self.ahead
        seen: Observed[T] = Observed()
        for source, ts, event in events:
            mark = self._marks.get(source)
            if mark is None:
                mark = self._marks[source] = Watermark(lateness=timedelta(0), jump=self.jump)
            before = mark.mark()
            seen.behind.append(max(timedelta(0), before - ts) if before is not None else timedelta(0))
            if ts > limit:
                seen.odd.append((event, AHEAD_OF_WALL_CLOCK, wall))
                continue
            verdict = mark.note(ts)
            if verdict == "held":
                assert before is not None
                self._held[source] = (event, before)
            elif verdict == "refuted":
                held, against = self._held.pop(source)
                seen.odd.append((held, FAR_AHEAD, against))
            elif verdict == "confirmed":
                self._held.pop(source, None)
        return seen

    def report(self, sources: Iterable[str], idle: Callable[[str], bool]) -> list[InputMark]:
        """The marks of `sources` (the input partitions this agent reads now), each with whether it is idle."""
        out = []
        for source in sorted(sources):
            mark = self._marks.get(source)
            out.append(InputMark(source, mark.mark() if mark else None, idle(source)))
        return out

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the partitions no longer read here (handed to another worker)."""
        kept = set(keep)
        for source in set(self._marks) - kept:
            del self._marks[source]
            self._held.pop(source, None)


def aligned(inputs: Iterable[tuple[datetime | None, bool]]) -> tuple[bool, datetime | None]:
    """The event time a consumer of several input partitions has reached: the minimum over the
    partitions with events left to read (idle ones excluded); a busy partition with no mark yet holds
    everything (None). Returns (whether any partition is busy, that time)."""
    busy = [mark for mark, idle in inputs if not idle]
    if not busy:
        return False, None
    if any(mark is None for mark in busy):
        return True, None
    return True, min(busy)  # type: ignore[type-var]


class LogEnds:
    """How long each partition's log end has stood still, by the fetches that reported it.

    Two fetches that report the same end mean nothing arrived between them, however many other
    fetches there were (ends only grow); the time is counted from the first fetch seen to report the
    current end, so it is never more than the truth.
    """

    def __init__(self) -> None:
        self._first: dict[int, tuple[int, float]] = {}  # partition -> (end, when first reported)

    def still(self, partition: int, end: int, fetched_at: float) -> float:
        """Seconds the end of `partition` has stood still, given a fetch at `fetched_at` that reported `end`."""
        first = self._first.get(partition)
        if first is None or first[0] != end:
            self._first[partition] = (end, fetched_at)
            return 0.0
        return max(0.0, fetched_at - first[1])

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop partitions handed to another worker (their ends are seen afresh if they return)."""
        for partition in partitions:
            self._first.pop(partition, None)


class DueIndex:
    """Which cases have a deadline due by a given time: a min-heap with lazy removal.

    In memory only: rebuild it from the case table (each state's `next_due`) after a restart.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._due: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._due)

    def set(self, case_id: str, due: datetime | None) -> None:
        """Record a case's next deadline (None: nothing pending)."""
        if due is None:
            self._due.pop(case_id, None)
            return
        if self._due.get(case_id) != due:
            self._due[case_id] = due
            heapq.heappush(self._heap, (due, case_id))

    def pop_due(self, now: datetime) -> list[str]:
        """Case ids whose next deadline is at or before `now`; they leave the index until `set` again."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            due, case_id = heapq.heappop(self._heap)
            if self._due.get(case_id) == due:  # otherwise a stale entry from an earlier `set`
                del self._due[case_id]
                out.append(case_id)
        return out
