"""Agents: consume input topics in batches, land them through `pipeline.landing`, then ack.

Offsets are committed only for acked events, and a batch is acked only after its rows are written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import faust

from pipeline.broker.topics import DLQ, REVIEWS, SCORED, TOUCHPOINTS
from pipeline.config import Settings
from pipeline.identity import FirstUse, FirstUses
from pipeline.landing import Landing, Message, land_reviews, land_touchpoints
from pipeline.store import Store
from streams.cases import register_cases
from streams.sink import Progress, Sink
from streams.topics import keep_unacked, raw_topic


def register_agents(app: faust.App, settings: Settings, store: Store) -> None:
    """Declare topics and the landing agents on `app`."""
    touchpoints = raw_topic(app, settings, TOUCHPOINTS)
    reviews = raw_topic(app, settings, REVIEWS)
    sink = Sink(store, dlq=raw_topic(app, settings, DLQ), scored=raw_topic(app, settings, SCORED))
    progress = app.cx_progress = Progress()  # type: ignore[attr-defined]
    sink.cases = register_cases(app, settings, sink)

    def batch_agent(land: Callable[[Sequence[Message], FirstUses], Landing]):
        async def agent(stream: faust.StreamT) -> None:
            loop = asyncio.get_running_loop()

            def first_uses(table: str, ids: Sequence[str]) -> Mapping[str, FirstUse]:
                # Called by `land` in its thread: the lookup retries on the loop, like every write.
                return asyncio.run_coroutine_threadsafe(sink.first_uses(table, ids), loop).result()

            async for events in stream.take_events(settings.batch_size, within=settings.flush_seconds):
                messages = [
                    Message(e.message.value or b"", e.message.topic, e.message.partition, e.message.offset)
                    for e in events
                ]
                try:
                    landing = await loop.run_in_executor(None, land, messages, first_uses)
                    await sink.write(landing)
                    progress.landed += len(messages)
                    progress.case_feed += len(landing.case_feed)
                except BaseException:
                    keep_unacked(events)
                    raise

        return agent

    app.agent(touchpoints, name="land_touchpoints")(batch_agent(land_touchpoints))
    app.agent(reviews, name="land_reviews")(batch_agent(land_reviews))
