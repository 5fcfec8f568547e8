"""Agents: consume input topics in batches, land them through `pipeline.landing`, then ack.

Offsets are committed only for acked events, and a batch is acked only after its rows are written.
A batch is one take of `CX_BATCH_SIZE` messages, or, while a backlog waits on its partitions,
several joined (up to `CX_CATCH_UP_BATCH_SIZE`): a backlog lands in fewer inserts.
Two batches are in hand at once: while one is written, the next is landed in a worker process
(`pipeline.landing_pool`); writes and acks keep the batches' order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence

import faust
from faust.types import TP

from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.cases.process import CaseProcess
from pipeline.config import Settings
from pipeline.identity import FirstUse
from pipeline.landing import Landing, Message, wants_more
from pipeline.landing_pool import LandingPool, first_uses_in
from pipeline.store import Store
from pipeline.store import tables
from streams.cases import register_cases
from streams.output import Output
from streams.sink import Progress, Sink
from streams.topics import raw_topic, unread_after

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
) -> None:
    """Declare topics and the landing agents on `app`."""
    touchpoints = raw_topic(app, settings, TOUCHPOINTS)
    reviews = raw_topic(app, settings, REVIEWS)
    sink = Sink(store, output)
    register_cases(app, settings, sink, keeper, progress)

    def crash_on_failure(task: asyncio.Task) -> None:
        # A batch that failed holds back every offset after it: stop the worker (its supervisor
        # restarts it and the batch is redelivered) rather than wait for the next batch to notice.
        if not task.cancelled() and task.exception() is not None:
            log.error("writing a batch failed: the worker stops", exc_info=task.exception())
            asyncio.ensure_future(app.crash(task.exception()))

    def batch_agent(table: str):
        async def land(messages: Sequence[Message], earlier: asyncio.Task | None) -> Landing:
            # Ids first used in the batch before this one count as used, though it is not written yet.
            before: Mapping[str, FirstUse] = first_uses_in(await earlier, table) if earlier else {}
            return await pool.land(table, messages, sink.first_uses, before)

        async def write(events: list[faust.EventT], landing: asyncio.Task, previous: asyncio.Task | None) -> None:
            done = await landing
            if previous is not None:
                await previous  # in order: a failed batch stops the ones after it (all redelivered)
            await sink.write(done)
            for event in events:
                event.ack()
            progress.landed += len(events)
            progress.case_feed += len(done.case_feed)

        async def agent(stream: faust.StreamT) -> None:
            hand: deque[tuple[asyncio.Task, asyncio.Task]] = deque()  # (landing, write) per batch
            events: list[faust.EventT] = []
            taken_to: dict[TP, int] = {}  # the batch's last offset per partition: what follows is still to read
            try:
                async for taken in stream.take_events(settings.batch_size, within=settings.flush_seconds):
                    for event in taken:
                        event.message.incref()  # held until written (take_events acks on the way out)
                        taken_to[event.message.tp] = event.message.offset
                    events += taken
                    unread = sum(unread_after(app, tp, offset) for tp, offset in taken_to.items())
                    if wants_more(len(events), unread, settings.batch_size, settings.catch_up_batch_size):
                        continue
                    batch, events = events, []
                    taken_to.clear()
                    progress.landing_batches += 1
                    progress.largest_landing_batch = max(progress.largest_landing_batch, len(batch))
                    messages = [
                        Message(e.message.value or b"", e.message.topic, e.message.partition, e.message.offset)
                        for e in batch
                    ]
                    last_landing, last_write = hand[-1] if hand else (None, None)
                    landing = asyncio.ensure_future(land(messages, last_landing))
                    written = asyncio.ensure_future(write(batch, landing, last_write))
                    written.add_done_callback(crash_on_failure)
                    hand.append((landing, written))
                    while hand and (len(hand) >= IN_HAND or hand[0][1].done()):
                        await hand.popleft()[1]  # a failure ends the agent; its batches stay unacked
            finally:
                for landing, written in hand:
                    landing.cancel()
                    written.cancel()

        return agent

    app.agent(touchpoints, name="land_touchpoints")(batch_agent(tables.TOUCHPOINTS))
    app.agent(reviews, name="land_reviews")(batch_agent(tables.REVIEWS))
