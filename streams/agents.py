"""Landing agents: take the input topics' messages in batches (`streams.bulk`), land them through
`pipeline.landing`, then ack.

Offsets are committed only for acked events, and a batch is acked only after its rows are written.
A batch is one take: once `CX_BATCH_SIZE` messages are there (or the flush window passed), with
whatever else already waits, up to `CX_CATCH_UP_BATCH_SIZE` (what piled up while the batch before was
written); while a backlog waits on its partitions, several takes are joined, up to the same size. So
a busy stream and a backlog land in fewer inserts, and no message waits longer for it.
Two batches are in hand at once: while one is written, the next is landed in a worker process
(`pipeline.landing_pool`); writes and acks keep the batches' order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, MutableMapping, Sequence

import faust
from faust.types import TP
from faust.types import Message as FetchedMessage

from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.cases.clock import InputMarks
from pipeline.cases.process import CaseProcess
from pipeline.config import Settings
from pipeline.identity import FirstUse
from pipeline.landing import Landing, Message, wants_more
from pipeline.landing_pool import LandingPool, first_uses_in
from pipeline.store import Store
from pipeline.store import tables
from streams.bulk import Bulk
from streams.cases import register_cases
from streams.marks import InputReport
from streams.output import Output
from streams.sink import Progress, Sink
from streams.topics import raw_topic, stop_worker_on_failure, subscribe_in_bulk, unread_after

log = logging.getLogger("cx.landing")
IN_HAND = 2  # batches landed or being written at once, per agent


def register_agents(
    app: faust.App,
    settings: Settings,
    store: Store,
    pool: LandingPool,
    keeper: CaseProcess,
    output: Output,
    progress: Progress,
    bulks: MutableMapping[str, Bulk],
) -> None:
    """Declare topics and the landing agents on `app`; `bulks` (which `app`'s consumer reads) gets
    a `Bulk` per input topic (and the case feed's, from `register_cases`)."""
    sink = Sink(store, output)
    register_cases(app, settings, sink, keeper, progress, bulks)

    # A batch that failed holds back every offset after it: stop the worker rather than wait for the
    # next batch to notice.
    crash_on_failure = stop_worker_on_failure(app, log, "writing a batch")

    def landing_loop(table: str, bulk: Bulk, report: InputReport | None):
        async def land(messages: Sequence[Message], earlier: asyncio.Task | None) -> Landing:
            # Ids first used in the batch before this one count as used, though it is not written yet.
            before: Mapping[str, FirstUse] = first_uses_in(await earlier, table) if earlier else {}
            return await pool.land(table, messages, sink.first_uses, before)

        async def write(batch: list[FetchedMessage], landing: asyncio.Task, previous: asyncio.Task | None) -> None:
            done = await landing
            if previous is not None:
                await previous  # in order: a failed batch stops the ones after it (all redelivered)
            await sink.write(done, report.written(batch, done) if report is not None else None)
            for message in batch:
                app.consumer.ack(message)
            progress.landed += len(batch)
            progress.case_feed += len(done.case_feed)

        async def run() -> None:
            hand: deque[tuple[asyncio.Task, asyncio.Task]] = deque()  # (landing, write) per batch
            held: list[FetchedMessage] = []  # taken, waiting to join a larger batch
            taken_to: dict[TP, int] = {}  # the batch's last offset per partition: what follows is still to read
            try:
                while True:
                    # Holding a batch, wait no longer than the flush window: an idle stream lands it.
                    room = settings.catch_up_batch_size - len(held)
                    taken = await bulk.take(settings.batch_size, settings.flush_seconds, wait=not held, most=room)
                    for message in taken:
                        taken_to[message.tp] = message.offset
                    held += taken
                    if not held:
                        continue
                    unread = sum(unread_after(app, tp, offset) for tp, offset in taken_to.items())
                    if taken and wants_more(len(held), unread, settings.batch_size, settings.catch_up_batch_size):
                        continue
                    batch, held = held, []
                    taken_to.clear()
                    if report is not None:
                        report.taken(batch)
                    progress.landing_batches += 1
                    progress.largest_landing_batch = max(progress.largest_landing_batch, len(batch))
                    messages = [Message(m.value or b"", m.topic, m.partition, m.offset) for m in batch]
                    last_landing, last_write = hand[-1] if hand else (None, None)
                    landing = asyncio.ensure_future(land(messages, last_landing))
                    written = asyncio.ensure_future(write(batch, landing, last_write))
                    written.add_done_callback(crash_on_failure)
                    hand.append((landing, written))
                    while hand and (len(hand) >= IN_HAND or hand[0][1].done()):
                        await hand.popleft()[1]  # a failure ends the loop; its batches stay unacked
            except Exception as exc:
                await app.crash(exc)  # a failed write has crashed the worker already: no-op then
            finally:
                for landing, written in hand:
                    landing.cancel()
                    written.cancel()

        return run

    for name, table in ((TOUCHPOINTS, tables.TOUCHPOINTS), (REVIEWS, tables.REVIEWS)):
        topic = raw_topic(app, settings, name)
        bulk = subscribe_in_bulk(app, topic, bulks, capacity=2 * settings.catch_up_batch_size)
        # Touchpoints feed the case clock: landing reports how far each input partition was read.
        report = None
        if name == TOUCHPOINTS:
            report = InputReport(app, topic.get_topic_name(), InputMarks(settings.max_clock_ahead, settings.odd_time_jump))
        app.task(landing_loop(table, bulk, report))
