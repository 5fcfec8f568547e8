"""Clocks that drive deadlines: the event-time watermark (replay) or the wall clock (live)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from pipeline.sla.policy import Duration


def wall_clock() -> datetime:
    """Now, in UTC: the live clock."""
    return datetime.now(UTC)


class Watermark(BaseModel):
    """Event time that is safe to act on: newest event time seen minus the allowed lateness.

    JSON-serialisable so a worker can keep it next to the case table and resume after a restart.
    """

    model_config = ConfigDict(extra="forbid")

    lateness: Duration = timedelta(seconds=30)
    max_seen: AwareDatetime | None = None

    def observe(self, ts: datetime) -> datetime | None:
        """Note an event time; returns the (never decreasing) watermark."""
        if self.max_seen is None or ts > self.max_seen:
            self.max_seen = ts.astimezone(UTC)
        return self.now()

    def now(self) -> datetime | None:
        """The watermark, or None before the first event."""
        return None if self.max_seen is None else self.max_seen - self.lateness


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
