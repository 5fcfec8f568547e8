"""The landing agent: one input topic's messages taken in batches (`streams.kafka.bulk`), landed
through `pipeline.landing` in a landing process, committed (`streams.commit`) in the order taken.

A batch is one take: once `CX_BATCH_SIZE` messages are there (or the flush window passed), with
whatever else already waits, up to `CX_CATCH_UP_BATCH_SIZE` (what piled up while the batch before was
written); while a backlog waits on its partitions, several takes are joined, up to the same size. So
a busy stream and a backlog land in fewer inserts, and no message waits longer for it.
Two batches are in hand at once: while one is committed, the next is landed in a landing process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import faust
from faust.types import TP
from faust.types import Message as FetchedMessage

from pipeline.broker.topics import CASE_EVENTS, DLQ, SCORED
from pipeline.cases.feed import pack_case_events
from pipeline.identity import FirstUse
from pipeline.landing import Landing, Message, wants_more
from streams.agents.marks import InputReport
from streams.agents import stop_loop
from streams.commit import Commit, Forward
from streams.kafka.bulk import Bulk
from streams.kafka.topics import unread_after
from streams.pools.landing import first_uses_in

if TYPE_CHECKING:
    from streams.worker import Worker

log = logging.getLogger("cx.landing")
IN_HAND = 2  # batches landed or being committed at once, per agent


class LandingAgent:
    """Lands one input topic into `table`; `report` (touchpoints only) tells the case clock how far
    each input partition was read."""

    def __init__(self, worker: Worker, app: faust.App, table: str, bulk: Bulk, report: InputReport | None = None):
        self.worker, self.app, self.table, self.bulk, self.report = worker, app, table, bulk, report
        self.settings = worker.settings
        self.commits = worker.commit_queue(app, log, f"committing a batch of {table}")
        self.held: list[FetchedMessage] = []  # taken, waiting to join a larger batch
        self.taken_to: dict[TP, int] = {}  # the held messages' last offset per partition
        self.last_landing: asyncio.Task | None = None
        self.running: asyncio.Task | None = None  # the take loop
        self.first_after_handover = True  # the next batch is the first since partitions changed hands

    async def run(self) -> None:
        """Take, land and commit batches until the worker stops."""
        self.running = asyncio.current_task()
        try:
            while True:
                batch = await self.take()
                if batch:
                    self.start(batch)
                    await self.commits.room(IN_HAND)
        except Exception as exc:
            await self.app.crash(exc)  # a failed commit has crashed the worker already: no-op then

    async def on_revoked(self, revoked: set) -> None:
        """Partitions leave: let the batches in flight commit before they move (no offset commit
        here: Faust has dropped the leaving partitions' acks; the next owner redoes what was acked
        since the last one). What is held back for a larger batch is landed as usual."""
        self.first_after_handover = True
        await self.commits.drained()

    async def finish(self) -> None:
        """Stop taking and let the batches taken so far commit (a graceful stop or a crash)."""
        await stop_loop(self.running)
        await self.commits.drained()

    async def take(self) -> list[FetchedMessage]:
        """The next batch, or nothing yet (what was taken is held to join a larger one)."""
        s = self.settings
        # After a handover the first batch is an ordinary one, not a catch-up one: the partitions' new
        # split shows progress (a commit) within seconds, before the next rebalance may come.
        most = s.batch_size if self.first_after_handover else s.catch_up_batch_size
        # Holding a batch, wait no longer than the flush window: an idle stream lands it.
        taken = await self.bulk.take(s.batch_size, s.flush_seconds, wait=not self.held, most=most - len(self.held))
        for message in taken:
            self.taken_to[message.tp] = message.offset
        self.held += taken
        if not self.held:
            return []
        unread = sum(unread_after(self.app, tp, offset) for tp, offset in self.taken_to.items())
        if taken and wants_more(len(self.held), unread, s.batch_size, most):
            return []
        batch, self.held = self.held, []
        self.taken_to.clear()
        self.first_after_handover = False
        return batch

    def start(self, batch: list[FetchedMessage]) -> None:
        """Land `batch` in a landing process now; queue its commit after the batches before it."""
        if self.report is not None:
            self.report.taken(batch)
        progress = self.worker.progress
        progress.landing_batches += 1
        progress.largest_landing_batch = max(progress.largest_landing_batch, len(batch))
        messages = [Message(m.value or b"", m.topic, m.partition, m.offset) for m in batch]
        landing = asyncio.ensure_future(self.land(messages, self.last_landing))
        self.last_landing = landing
        self.commits.queue(self.commit_of(batch, landing))

    async def land(self, messages: Sequence[Message], earlier: asyncio.Task | None) -> Landing:
        """Validate, score and shape a batch in a landing process."""
        # Ids first used in the batch before this one count as used, though it is not written yet.
        before: Mapping[str, FirstUse] = first_uses_in(await earlier, self.table) if earlier else {}
        return await self.worker.pool.land(self.table, messages, self.worker.sink.first_uses, before)

    async def commit_of(self, batch: list[FetchedMessage], landing: asyncio.Task) -> Commit:
        """The batch's commit, once it is landed and the batches before it are committed."""
        done: Landing = await landing
        # The marks line reports the input partitions as of this batch: made in commit order.
        marks = self.report.written(batch, done) if self.report is not None else None
        return Commit(
            rows=done.rows,
            forwards=(
                Forward(DLQ, [(None, _encode(m)) for m in done.dead_letters]),
                Forward(SCORED, [((m.get("case_id") or m["id"]).encode(), _encode(m)) for m in done.scored]),
                Forward(CASE_EVENTS, done.case_feed, pack=pack_case_events, trailer=marks),
            ),
            acks=batch,
            counts={"landed": len(batch), "case_feed": len(done.case_feed)},
        )


def _encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=False, default=str).encode("utf-8")
