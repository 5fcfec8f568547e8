"""The case agent: case state in a Faust table keyed by case_id, SLA deadlines fired by a timer on the
stream clock.

Validated touchpoints arrive on the internal `cx.case-events` topic on their case's partition,
packed (one message per partition per landing batch; `pipeline.cases.feed`), with their sentiment,
so text is scored once; the consumer hands them over in lists (`streams.kafka.bulk`). Each take is
applied in the case process (`streams.pools.cases`) and committed (`streams.commit`: breaches, rows,
changelog and table, ack); the next take is applied while one is committed, in order. A timer fires
deadlines that pass while no events arrive (live: the wall clock; replay: the watermark) and
removes closed cases once they have been quiet for CX_CASE_EVICT_AFTER.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import faust
from faust.types import TP, Message

from pipeline.broker.topics import CASE_EVENTS
from pipeline.cases.clock import LogEnds
from pipeline.cases.keeper import CaseWrites
from pipeline.sla.policy import load_policy
from streams.agents import stop_loop
from streams.commit import Commit, State
from streams.kafka import internals
from streams.kafka.bulk import Bulk
from streams.kafka.topics import fetched_end, raw_topic, subscribe_in_bulk, unread_after

if TYPE_CHECKING:
    from streams.worker import Worker

log = logging.getLogger("cx.cases")
IN_FLIGHT = 2  # case-feed takes applied but not yet committed
CATCH_UP_LANDINGS = 4  # a case-feed take brings along at most this many landing batches' messages


class CaseAgent:
    """Applies the case feed to case states, fires deadlines on the clock, and hands cases over on a
    rebalance. The states live in the case process; the table holds their changelog JSON (what this
    worker wrote) or it decoded (what it restored), for a restart or rebalance to hand back."""

    def __init__(self, worker: Worker, app: faust.App, bulks: MutableMapping[str, Bulk]):
        self.worker, self.app, self.settings = worker, app, worker.settings
        self.keeper = worker.keeper
        self.topic = raw_topic(app, self.settings, CASE_EVENTS)
        self.name = self.topic.get_topic_name()
        # The changelog is written by the commit (through the batching output producer: Faust sends
        # one record per table write) on the partition the raw key hashes to: the case id's hash,
        # which also places the case feed's packs, so a case's state and its events share a
        # partition number (and a worker) when several workers split the load.
        self.table = app.Table(
            "cases",
            default=None,
            partitions=self.settings.partitions,
            use_partitioner=True,
            key_type=bytes,
            store=internals.RESUMING_STORE,  # a recovery resumes where the last one stopped
        )
        self.bulk = subscribe_in_bulk(app, self.topic, bulks, capacity=2 * self.settings.partitions * CATCH_UP_LANDINGS)
        state = State(
            self.table.changelog_topic.get_topic_name(),
            lambda: internals.table_store(self.table),
            lambda partition, offset: internals.table_holds(self.table, partition, offset),
        )
        self.commits = worker.commit_queue(app, log, "committing case updates", state)
        self.applied: dict[int, int] = {}  # case-events partition -> offset of the last event applied
        self.ends = LogEnds()
        self.handed = 0  # touchpoints handed to the case process by this worker
        self.lock = asyncio.Lock()  # one case-process call at a time, and none while partitions change hands
        self.running: asyncio.Task | None = None  # the take loop
        self.finished = False  # stopping: no more takes or ticks

    def register(self) -> None:
        """Wire the agent's steps to the app: the feed loop, the recovery hook, the timers (the worker
        calls `on_revoked` and `finish`)."""
        self._warn_of_missing_holidays()
        self.table.on_recover(self.on_recovered)
        self.app.task(self.run)
        self.app.timer(interval=self.settings.tick_seconds)(self.tick)

    def _warn_of_missing_holidays(self) -> None:
        hours = load_policy(self.settings.sla_policy).business_hours
        this_year = datetime.now(UTC).year
        if hours.holidays and not hours.holidays_cover(this_year):
            log.warning("the SLA policy lists no public holidays for %d: business-hour waits count them as workdays", this_year)

    async def run(self) -> None:
        """Take the case feed and apply it until the worker stops.

        A case-feed message holds one landing batch's touchpoints for one partition. A take goes once
        a landing batch's worth is here (one message per partition) or the flush window passed, with
        whatever else already waits, up to CATCH_UP_LANDINGS landing batches: a case state that fell
        behind catches up in fewer, larger takes (a changed case is dumped and written once per take,
        and each write has a fixed cost). At most IN_FLIGHT takes are uncommitted, and the next take
        waits for room first, so it brings along what arrived meanwhile."""
        self.running = asyncio.current_task()
        p = self.settings.partitions
        try:
            while True:
                await self.commits.room(IN_FLIGHT)
                taken = await self.bulk.take(p, self.settings.flush_seconds, most=p * CATCH_UP_LANDINGS)
                if taken:  # nothing: a rebalance cleared the buffer
                    await self.apply(taken)
        except Exception as exc:
            await self.app.crash(exc)  # a failed commit has crashed the worker already: no-op then

    async def finish(self) -> None:
        """Stop taking and ticking, and let what was applied commit (a graceful stop or a crash)."""
        async with self.lock:  # not while a take is applied or a tick decides
            self.finished = True
            await stop_loop(self.running)
        await self.commits.drained()

    async def apply(self, taken: list[Message]) -> None:
        """Apply a take in the case process and queue its commit."""
        async with self.lock:
            for message in taken:
                self.applied[message.partition] = message.offset
            packs = [(message.partition, message.value or b"") for message in taken]
            done = await self.keeper.on_events(packs, self.behind(), self.still())
            self.handed += done.events
            self.commits.queue(self.commit_of(done, taken))
        progress = self.worker.progress
        progress.case_takes += 1
        progress.largest_case_take = max(progress.largest_case_take, done.events)

    async def tick(self) -> None:
        """Fire the deadlines the clock has passed and evict quiet closed cases."""
        if self.app.rebalancing:
            return  # which partitions are this worker's is being decided
        async with self.lock:
            if self.finished:
                return
            done = await self.keeper.on_tick(self.behind(), self.still())
            through = self.handed  # every touchpoint handed over so far was applied before this tick
            committed = self.commits.queue(self.commit_of(done))
        await committed
        progress = self.worker.progress
        progress.ticks += 1
        if done.live:
            if progress.live_through < 0:
                log.info("case clock live: the backlog is judged; deadlines now fall on the wall clock")
            progress.live_through = max(progress.live_through, through)

    async def on_recovered(self) -> None:
        """After a restart or rebalance the table is restored from its changelog; the case process's
        states and due index are rebuilt from it, for the partitions this worker now owns only
        (another worker fires the deadlines of the rest)."""
        async with self.lock:
            await self.commits.drained()
            owned = self.case_partitions(self.app.consumer.assignment())
            cases = await self.keeper.rebuild(self.table.values(), owned)
        log.info("due index rebuilt from %d stored cases on partitions %s", cases, sorted(owned))

    async def on_revoked(self, revoked: set) -> None:
        """Partitions leave: let the commits in flight land (their state changes are then in the
        changelog for the partitions' next owner, this worker too, to read back), then leave the
        revoked cases alone: their new owner fires their deadlines."""
        async with self.lock:
            await self.commits.drained()
            gone = self.case_partitions(revoked)
            await self.keeper.forget(gone)
            for partition in gone:
                self.applied.pop(partition, None)
            self.ends.forget(gone)

    def case_partitions(self, tps: set) -> set[int]:
        """The case-feed partitions among `tps`."""
        return {tp.partition for tp in tps if tp.topic == self.name}

    def behind(self) -> set[int]:
        """Partitions with events not applied yet (the high watermark, from the last fetch, is past the
        last one applied): stalled or catching up, so the clock must not call them idle. Nothing
        applied yet since the partition came: the clock's start-up grace decides."""
        return {p for p, offset in self.applied.items() if unread_after(self.app, TP(self.name, p), offset) > 0}

    def still(self) -> dict[int, float]:
        """How long each partition's log end has stood still by the fetches: a backlog complete for
        longer than the clock's idle time is idle as soon as it is applied, not idle_after later."""
        out = {}
        for p in self.applied:
            seen = fetched_end(self.app, TP(self.name, p))
            if seen is not None:
                out[p] = self.ends.still(p, *seen)
        return out

    @staticmethod
    def commit_of(done: CaseWrites, taken: list[Message] = ()) -> Commit:
        """What the case process decided, as a commit acknowledging `taken`."""
        if done.empty:
            return Commit(acks=taken, counts={"case_events": done.events})
        return Commit(
            breaches=done.breaches,
            rows=done.rows,
            changes=done.changes,
            acks=taken,
            counts={
                "case_events": done.events,
                "cases_evicted": done.evicted,
                "case_updates": done.updates,
                "alerts_published": len(done.breaches),
            },
        )
