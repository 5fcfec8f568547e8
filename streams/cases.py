"""Case state in a Faust table keyed by case_id, SLA deadlines fired by a timer on the stream clock.

Validated touchpoints arrive on the internal `cx.case-events` topic on their case's partition,
packed (one message per partition per landing batch), with their sentiment, so text is scored once;
the consumer hands them over in lists (`streams.bulk`). Each take: apply (in the case process,
`pipeline.cases.process`) -> publish breaches -> write responses, alerts and case rows -> write the
changelog and the table -> ack; the next take is applied while one is written, and the writes keep
the takes' order. A timer fires deadlines that pass while no events arrive (live: the wall clock;
replay: the watermark) and removes closed cases once they have been quiet for CX_CASE_EVICT_AFTER.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime

import faust
from faust.types import TP, Message

from pipeline.broker.topics import BREACHES, CASE_EVENTS
from pipeline.cases.clock import LogEnds
from pipeline.cases.keeper import CaseWrites
from pipeline.cases.process import CaseProcess
from pipeline.config import Settings
from pipeline.sla.policy import load_policy
from streams import internals
from streams.bulk import Bulk
from streams.sink import Progress, Sink
from streams.topics import fetched_end, raw_topic, stop_worker_on_failure, subscribe_in_bulk, unread_after

log = logging.getLogger("cx.cases")
STATUS_SECONDS = 30.0  # how often the worker logs the size of its case table
IN_FLIGHT = 2  # case-feed takes applied but not yet written
CATCH_UP_LANDINGS = 4  # a case-feed take brings along at most this many landing batches' messages


def register_cases(
    app: faust.App,
    settings: Settings,
    sink: Sink,
    keeper: CaseProcess,
    progress: Progress,
    bulks: MutableMapping[str, Bulk],
) -> None:
    """Declare the case table, the case loop and the timer (the landing agents forward touchpoints to
    `cx.case-events`); `bulks` gets the case feed's `Bulk`."""
    hours = load_policy(settings.sla_policy).business_hours
    this_year = datetime.now(UTC).year
    if hours.holidays and not hours.holidays_cover(this_year):
        log.warning("the SLA policy lists no public holidays for %d: business-hour waits count them as workdays", this_year)
    topic = raw_topic(app, settings, CASE_EVENTS)
    # The states live in the case process; the table holds their changelog JSON (what this worker
    # wrote) or it decoded (what it restored), for a restart or rebalance to hand back. `write`
    # writes the changelog itself, through the batching output producer (Faust sends one record per
    # table write), on the partition the raw key hashes to: the case
    # id's hash, which also places the case feed's packs, so a case's state and its events share a
    # partition number (and a worker) when several workers split the load.
    table = app.Table("cases", default=None, partitions=settings.partitions, use_partitioner=True, key_type=bytes)

    def case_partitions(tps: set) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == topic.get_topic_name()}

    applied: dict[int, int] = {}  # case-events partition -> offset of the last event applied

    def behind() -> set[int]:
        # Partitions with events not applied yet (the high watermark, from the last fetch, is past
        # the last one applied): the stream is stalled or catching up, so the clock must not call
        # them idle. Nothing applied yet since the partition came: the clock's start-up grace decides.
        return {p for p, offset in applied.items() if unread_after(app, TP(topic.get_topic_name(), p), offset) > 0}

    ends = LogEnds()

    def still() -> dict[int, float]:
        # How long each partition's log end has stood still by the fetches: a backlog complete for
        # longer than the clock's idle time is idle as soon as it is applied, not idle_after later.
        out = {}
        for p in applied:
            seen = fetched_end(app, TP(topic.get_topic_name(), p))
            if seen is not None:
                out[p] = ends.still(p, *seen)
        return out

    handed = 0  # touchpoints handed to the keeper by this worker
    lock = asyncio.Lock()  # one keeper call at a time, and none while partitions change hands
    writing: deque[asyncio.Task] = deque()  # writes in flight, each after the one before

    # The keeper went on past a batch whose writes failed: its successor rebuilds the states from the
    # changelog and is given the unacked batches again.
    crash_on_failure = stop_worker_on_failure(app, log, "writing case updates")

    def write_next(done: CaseWrites, messages: Sequence[Message] = ()) -> asyncio.Task:
        # Written in the order the keeper decided; `messages` are acked once theirs landed.
        previous = writing[-1] if writing else None

        async def in_order() -> None:
            if previous is not None:
                await previous
            await write(done)
            for message in messages:
                app.consumer.ack(message)
            progress.case_events += done.events

        task = asyncio.ensure_future(in_order())
        task.add_done_callback(crash_on_failure)
        task.add_done_callback(writing.remove)
        writing.append(task)
        return task

    async def all_written() -> None:
        if writing:
            await asyncio.wait([writing[-1]])

    async def rebuild() -> None:
        # After a restart or rebalance the table is restored from its changelog; the keeper's states
        # and index are not. Only partitions this worker now owns are watched: another worker fires
        # the deadlines of the rest.
        async with lock:
            await all_written()
            owned = case_partitions(app.consumer.assignment())
            cases = await keeper.rebuild(table.values(), owned)
        log.info("due index rebuilt from %d stored cases on partitions %s", cases, sorted(owned))

    table.on_recover(rebuild)

    @app.on_partitions_revoked.connect
    async def hand_over(sender: faust.App, revoked: set, **kwargs) -> None:
        # Faust has waited for the batches in flight; let a tick's writes finish too: its state
        # changes are in the changelog once they land, for the partitions' next owner (this worker
        # too: it restores what it keeps) to read back. From then on this worker leaves the revoked
        # cases alone: their new owner fires their deadlines.
        async with lock:
            await all_written()
            gone = case_partitions(revoked)
            await keeper.forget(gone)
            for partition in gone:
                applied.pop(partition, None)
            ends.forget(gone)

    async def write(done: CaseWrites) -> None:
        if done.empty:
            return
        # Publish first, then write rows, then record the state. The broker must hold each breach
        # before the state says it was raised (a kill in between would leave a breach nobody hears
        # of: the restarted worker sees it as raised), and before its row: a stop that closes the
        # producer under a running tick then leaves neither notice nor row, and the restart
        # re-decides the case from the same state (rows written first were left without a notice).
        assert sink.output is not None
        await asyncio.gather(*await sink.output.send(BREACHES, done.breaches))
        await sink.insert_rows(done.rows)
        # The changelog holds the states before the table does (and before the events are acked):
        # a failed send leaves both as they were, and the batch is taken again.
        await asyncio.gather(*await sink.output.send_to(table.changelog_topic.get_topic_name(), done.changes))
        store = internals.table_store(table)
        for key, value in done.changes:
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
        progress.cases_evicted += done.evicted
        progress.case_updates += done.updates
        progress.alerts_published += len(done.breaches)

    async def track_cases() -> None:
        nonlocal handed
        # A case-feed message holds one landing batch's touchpoints for one partition. A take goes
        # once a landing batch's worth is here (one message per partition) or the flush window
        # passed, with whatever else already waits, up to CATCH_UP_LANDINGS landing batches: a case
        # state that fell behind catches up in fewer, larger takes (a changed case is dumped and
        # written once per take, and each write has a fixed cost). The keeper applies a take while
        # the one before is written; at most IN_FLIGHT takes are unwritten, and the next take waits
        # for room first, so it brings along what arrived meanwhile.
        try:
            while True:
                while len(writing) >= IN_FLIGHT:
                    await asyncio.wait([writing[0]])
                taken = await bulk.take(
                    settings.partitions, settings.flush_seconds, most=settings.partitions * CATCH_UP_LANDINGS
                )
                if not taken:
                    continue  # a rebalance cleared the buffer
                async with lock:
                    for message in taken:
                        applied[message.partition] = message.offset
                    packs = [(message.partition, message.value or b"") for message in taken]
                    done = await keeper.on_events(packs, behind(), still())
                    handed += done.events
                    write_next(done, taken)
                progress.case_takes += 1
                progress.largest_case_take = max(progress.largest_case_take, done.events)
        except Exception as exc:
            await app.crash(exc)  # a failed write has crashed the worker already: no-op then

    bulk = subscribe_in_bulk(app, topic, bulks, capacity=2 * settings.partitions * CATCH_UP_LANDINGS)
    app.task(track_cases)

    @app.timer(interval=settings.tick_seconds)
    async def fire_deadlines() -> None:
        if app.rebalancing:
            return  # which partitions are this worker's is being decided
        async with lock:
            done = await keeper.on_tick(behind(), still())
            through = handed  # every touchpoint handed over so far was applied before this tick
            written = write_next(done)
        await written
        progress.ticks += 1
        if done.live:
            if progress.live_through < 0:
                log.info("case clock live: the backlog is judged; deadlines now fall on the wall clock")
            progress.live_through = max(progress.live_through, through)

    @app.timer(interval=STATUS_SECONDS)
    async def report_size() -> None:
        log.info(
            "case table: %d cases held, %d evicted, %d touchpoints applied",
            len(table),
            progress.cases_evicted,
            progress.case_events,
        )
