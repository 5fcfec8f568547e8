"""The demo: a local broker, an in-process worker, a feed of events, and a wait until all landed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.produce import Fed, produce_lines
from pipeline.store import Store
from pipeline.summary import Landed, landed
from streams.runner import run_worker


class NotLanded(RuntimeError):
    """Events stopped arriving in ClickHouse before all of them landed."""


@dataclass
class FeedResult:
    """What was fed, what landed, and how long it took."""

    fed: Fed
    landed: Landed
    seconds: float


async def feed_and_wait(
    settings: Settings,
    store: Store,
    lines: Sequence[str],
    on_sent: Callable[[int], None] | None = None,
    on_landed: Callable[[Landed], None] | None = None,
    stall_timeout: float = 120.0,
) -> FeedResult:
    """Run a worker, produce `lines`, and return once every line is in its table or the DLQ.

    Counts are distinct ids landed since the call began, so the store may already hold data."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    before = await loop.run_in_executor(None, landed, store)
    fed_future = loop.run_in_executor(None, produce_lines, settings, lines, on_sent)
    progress = {"seen": -1, "at": time.monotonic()}
    state: dict[str, Landed] = {}

    async def all_landed() -> bool:
        now = await loop.run_in_executor(None, landed, store)
        state["landed"] = now
        if on_landed is not None:
            on_landed(Landed(now.touchpoints - before.touchpoints, now.reviews - before.reviews, now.dlq - before.dlq))
        total = now.touchpoints + now.reviews + now.dlq
        if total != progress["seen"]:
            progress.update(seen=total, at=time.monotonic())
        elif time.monotonic() - progress["at"] > stall_timeout:
            raise NotLanded(f"nothing new landed for {stall_timeout:.0f}s: {now}")
        if not fed_future.done():
            return False
        fed = fed_future.result()
        # Count what landed (a broker's end offsets are not trusted for this).
        return (
            now.touchpoints - before.touchpoints >= fed.touchpoints
            and now.reviews - before.reviews >= fed.reviews
            and now.dlq - before.dlq >= fed.invalid
        )

    await run_worker(settings, store, until=all_landed, poll=0.5, handle_signals=False)
    return FeedResult(fed=fed_future.result(), landed=state["landed"], seconds=time.monotonic() - started)
