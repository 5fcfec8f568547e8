"""The commit protocol: the order in which what one batch produced becomes durable, ending with the
batch's acknowledgement. Both agents (landing and cases) commit through it.

A commit's steps, each finished (the broker or ClickHouse holds it) before the next begins:

1. **Breaches** published to `cx.breaches`. Before the rows and before the state that says they were
   raised: a kill after this step leaves breaches the restarted worker raises again (same alert id;
   the notifier's ledger drops the repeat); a kill before it leaves nothing raised and nothing
   recorded, so the case is decided again from the same state.
2. **Rows** inserted into ClickHouse, an outage waited out; rows ClickHouse refuses as data go to the
   DLQ table. Every table is keyed by identity (ReplacingMergeTree): rows written again after a crash
   replace themselves.
3. **Forwards** published: landing's dead letters, scores and case feed (with landing's report on its
   input partitions). After the rows, so the next stage never acts on an event whose row is missing.
4. **State** recorded: the case table's changelog records held by the broker, then the table itself.
   A failed send leaves both as they were; the batch is taken again and decided from them.
5. **Acknowledged**: the batch's messages are acked; Faust commits acked offsets every second and
   before a handover. Nothing unacknowledged is lost: the partition's next owner reads it again.

Commits run in the order their batches were taken (`CommitQueue`): a commit starts once the one
before it has finished, so acknowledgements follow the log. A failed commit stops the worker: the
commits after it must not run past it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import Message as FetchedMessage

from pipeline.broker.topics import BREACHES
from streams.kafka.output import Output
from streams.progress import Progress
from streams.sinks.clickhouse import ClickHouseSink

Record = tuple[bytes | None, bytes | None]  # (key, value); a value None is a tombstone


@dataclass(frozen=True)
class Forward:
    """Messages for a contract topic (step 3). With `pack`, the values are packed per partition
    (`Output.send_packed`) and `trailer` goes to every partition after them."""

    topic: str
    records: Sequence[Record]
    pack: Callable[[list[bytes]], list[bytes]] | None = None
    trailer: bytes | None = None


@dataclass(frozen=True)
class Commit:
    """What one batch makes durable, by step, and what it adds to the worker's counts once acknowledged."""

    breaches: Sequence[Record] = ()  # step 1
    rows: Mapping[str, Sequence[dict]] = field(default_factory=dict)  # step 2: table -> rows
    forwards: Sequence[Forward] = ()  # step 3
    changes: Sequence[Record] = ()  # step 4: (case key, state JSON or None to remove)
    acks: Sequence[FetchedMessage] = ()  # step 5
    counts: Mapping[str, int] = field(default_factory=dict)  # Progress field -> amount


@dataclass
class State:
    """A table whose state a commit records (step 4): its changelog topic, its local store, and what
    to tell when the store holds the changelog up to an offset (so a recovery need not read it again)."""

    changelog: str
    store: Callable[[], MutableMapping[bytes, Any]]  # asked each time: recovery may replace it
    holds: Callable[[int, int], None] = lambda partition, offset: None


class CommitQueue:
    """Runs commits one after another, in the order they were queued, by the protocol's steps."""

    def __init__(
        self,
        sink: ClickHouseSink,
        output: Output,
        ack: Callable[[FetchedMessage], None],
        progress: Progress,
        on_failure: Callable[[BaseException], Awaitable[None]],
        state: State | None = None,
        log: logging.Logger | None = None,
        what: str = "a commit",
        acked: Callable[[], object] = lambda: None,
    ):
        self.sink, self.output, self.ack, self.progress, self.state = sink, output, ack, progress, state
        self.acked = acked  # told after each commit's acknowledgement (the worker commits the offsets soon)
        self.on_failure, self.log, self.what = on_failure, log or logging.getLogger("cx.commit"), what
        self.running: deque[asyncio.Task] = deque()  # queued or running, oldest first

    def __len__(self) -> int:
        return len(self.running)

    def queue(self, commit: Commit | Awaitable[Commit]) -> asyncio.Task:
        """Queue a commit (or what will produce it: awaited once the commit before it has finished)."""
        previous = self.running[-1] if self.running else None
        task = asyncio.ensure_future(self._after(previous, commit))
        task.add_done_callback(self._finished)
        self.running.append(task)
        return task

    async def drained(self) -> None:
        """Wait until every commit queued so far has finished (or failed)."""
        if self.running:
            await asyncio.wait([self.running[-1]])

    async def room(self, most: int) -> None:
        """Wait until fewer than `most` commits are unfinished."""
        while len(self.running) >= most:
            await asyncio.wait([self.running[0]])

    def cancel(self) -> None:
        """Cancel every commit not finished (the agent stops; their batches stay unacknowledged)."""
        for task in self.running:
            task.cancel()

    async def _after(self, previous: asyncio.Task | None, commit: Commit | Awaitable[Commit]) -> None:
        try:
            if previous is not None:
                await previous  # a failed commit fails the ones after it (their batches are redelivered)
        except BaseException:
            if inspect.iscoroutine(commit):
                commit.close()  # never to run: its batch is redelivered
            raise
        await self.run(commit if isinstance(commit, Commit) else await commit)

    async def run(self, commit: Commit) -> None:
        """The protocol's five steps for one commit."""
        if commit.breaches:
            await asyncio.gather(*await self.output.send(BREACHES, commit.breaches))
        await self.sink.insert_rows(commit.rows)
        sent: list[asyncio.Future] = []
        for forward in commit.forwards:
            if forward.pack is not None:
                sent += await self.output.send_packed(forward.topic, forward.records, forward.pack, forward.trailer)
            elif forward.records:
                sent += await self.output.send(forward.topic, forward.records)
        await asyncio.gather(*sent)
        if commit.changes:
            assert self.state is not None, "a commit with state changes needs the table"
            sent = await asyncio.gather(*await self.output.send_to(self.state.changelog, commit.changes))
            store = self.state.store()
            for key, value in commit.changes:
                if value is None:
                    store.pop(key, None)
                else:
                    store[key] = value
            for partition, last_offset in sent:
                self.state.holds(partition, last_offset)
        for message in commit.acks:
            self.ack(message)
        self.progress.add(commit.counts)
        if commit.acks:
            self.acked()

    def _finished(self, task: asyncio.Task) -> None:
        self.running.remove(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s failed: the worker stops", self.what, exc_info=task.exception())
            asyncio.ensure_future(self.on_failure(task.exception()))
