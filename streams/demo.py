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
    until_live: bool = True,
) -> FeedResult:
    """Run a worker, produce `lines`, and return once every line is in its table or the DLQ,
    every touchpoint is in its case and (with `until_live`) the clock has caught up with today.

    Counts are distinct ids landed since the call began, so the store may already hold data."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    before = await loop.run_in_executor(None, landed, store)
    fed: dict[str, asyncio.Future] = {}
    ready_since: dict[str, float] = {}
    progress = {"seen": -1, "at": time.monotonic()}
    state: dict[str, Landed] = {}
    live_mark: dict[str, int] = {}

    async def all_landed(app) -> bool:
        now = await loop.run_in_executor(None, landed, store)
        state["landed"] = now
        if on_landed is not None:
            on_landed(Landed(now.touchpoints - before.touchpoints, now.reviews - before.reviews, now.dlq - before.dlq))
        total = now.touchpoints + now.reviews + now.dlq
        if total != progress["seen"]:
            progress.update(seen=total, at=time.monotonic())
        elif time.monotonic() - progress["at"] > stall_timeout:
            raise NotLanded(f"nothing new landed for {stall_timeout:.0f}s: {now}")
        if "future" not in fed:
            # Feed once the group has settled: events consumed during the start-up rebalance would
            # be delivered twice (harmless downstream, but the demo's counts should be clean).
            if app.rebalancing or not app.consumer.assignment() or not app.tables.recovery.completed.is_set():
                ready_since.clear()
                return False
            if time.monotonic() - ready_since.setdefault("t", time.monotonic()) < settings.session_timeout_s / 2:
                return False
            fed["future"] = loop.run_in_executor(None, produce_lines, settings, lines, on_sent)
        if not fed["future"].done():
            return False
        fed_counts = fed["future"].result()
        # Count what landed (a broker's end offsets are not trusted for this).
        worker = app.cx_progress
        if not (
            now.touchpoints - before.touchpoints >= fed_counts.touchpoints
            and now.reviews - before.reviews >= fed_counts.reviews
            and now.dlq - before.dlq >= fed_counts.invalid
            and worker.case_events >= fed_counts.touchpoints
        ):
            return False
        if not until_live:
            return True
        # Then the clock: once the replay is over it follows the wall clock; two settled live ticks
        # after everything landed mean what is overdue today has fired.
        live_from = live_mark.setdefault("ticks", worker.live_ticks)
        return worker.live_ticks >= live_from + 2

    await run_worker(settings, store, until=all_landed, poll=0.5, handle_signals=False)
    return FeedResult(fed=fed["future"].result(), landed=state["landed"], seconds=time.monotonic() - started)
