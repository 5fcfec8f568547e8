"""`cx demo`'s feed: run a worker, produce the lines, and wait until everything landed and was judged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import faust

from pipeline.config import Settings
from pipeline.delivery import NoticeRunner
from pipeline.errors import CxError
from pipeline.produce import Fed, produce_lines
from pipeline.store import Store
from pipeline.summary import Landed, landed, store_now
from streams.worker import run_worker
from streams.progress import Progress

COUNT_SECONDS = 2.0  # how often the demo asks ClickHouse what landed while the feed runs


class NotLanded(CxError, RuntimeError):
    """Events stopped arriving in ClickHouse before all of them landed."""


@dataclass
class FeedResult:
    """What was fed, what landed, and how long it took."""

    fed: Fed
    landed: Landed
    seconds: float
    progress: Progress  # the worker's own counts


class _Watch:
    """Polled by the worker loop: starts the feed, then tells when all has landed."""

    def __init__(self, settings, store, lines, since: datetime, on_sent, on_landed, stall_timeout, until_live, notices):
        self.settings, self.store, self.lines, self.since = settings, store, lines, since
        self.notices: NoticeRunner | None = notices
        self.on_sent, self.on_landed = on_sent, on_landed
        # The event clock never turns to today (CX_CLOCK=event): nothing to wait for once all landed.
        self.stall_timeout, self.until_live = stall_timeout, until_live and settings.clock != "event"
        self.feed: asyncio.Future | None = None
        self.seen, self.seen_at = -1, time.monotonic()
        self.now = Landed(0, 0, 0)
        self.progress = Progress()  # the worker's own counts
        self.counted_at = -COUNT_SECONDS

    def _check_stall(self) -> None:
        total = self.now.touchpoints + self.now.reviews + self.now.dlq
        if total != self.seen:
            self.seen, self.seen_at = total, time.monotonic()
        elif time.monotonic() - self.seen_at > self.stall_timeout:
            raise NotLanded(f"nothing new landed for {self.stall_timeout:.0f}s: {self.now}")

    def _start_feed(self) -> None:
        # At once, while the group still forms: the broker keeps the lines, and nothing is consumed
        # before the worker holds its partitions (a rebalance later hands over only what is acked).
        loop = asyncio.get_running_loop()
        self.feed = loop.run_in_executor(None, produce_lines, self.settings, self.lines, self.on_sent)

    async def _count(self, fresh: bool = False) -> None:
        # What landed by ClickHouse's count (distinct ids), every COUNT_SECONDS or when asked: each
        # count scans three tables, competing with the worker's own writes for the store.
        if not fresh and time.monotonic() - self.counted_at < COUNT_SECONDS:
            return
        self.now = await asyncio.get_running_loop().run_in_executor(None, landed, self.store, self.since)
        self.counted_at = time.monotonic()
        if self.on_landed is not None:
            self.on_landed(self.now)

    async def done(self, app: faust.App) -> bool:
        """One poll: True once every fed line landed (and, with until_live, the clock caught up)."""
        await self._count()
        if self.feed is None:
            self._start_feed()
            return False
        if not self.feed.done():
            self._check_stall()
            return False
        fed, worker = self.feed.result(), self.progress
        # Count what went through (a broker's end offsets are not trusted for this): every message
        # landed or dead-lettered (a line repeating an id is either; distinct ids cannot tell), the
        # invalid ones in the DLQ, every touchpoint forwarded also applied to its case.
        if worker.landed < fed.total or worker.case_events < worker.case_feed:
            self._check_stall()
            return False
        await self._count(fresh=True)
        if self.now.dlq < fed.invalid:
            self._check_stall()
            return False
        if self.until_live and worker.live_through < worker.case_feed:
            # Once the replay is over the clock follows the wall clock: a tick on it, settled, after
            # every touchpoint was applied means that what is overdue today has fired.
            return False
        return self._notices_done(worker.alerts_published)

    def _notices_done(self, published: int) -> bool:
        # Every alert published reached the notifier (counts, not sets of ids: a long-running worker
        # keeps nothing per alert), and every notice due is delivered or recorded as failed
        # (escalations not yet due are not due).
        if self.notices is None:
            return True
        return self.notices.alerts_taken >= published and not self.notices.busy()


async def feed_and_wait(
    settings: Settings,
    store: Store,
    lines: Sequence[str] | Sequence[bytes],
    on_sent: Callable[[int], None] | None = None,
    on_landed: Callable[[Landed], None] | None = None,
    stall_timeout: float = 120.0,
    until_live: bool = True,
    notices: NoticeRunner | None = None,
) -> FeedResult:
    """Run a worker, produce `lines`, and return once every line is in its table or the DLQ, every
    touchpoint is in its case and (with `until_live`) the clock has caught up with today.

    Counts are distinct ids written since the call began, so the store may already hold data, even
    the same events."""
    started = time.monotonic()
    since = await asyncio.get_running_loop().run_in_executor(None, store_now, store)
    watch = _Watch(settings, store, lines, since, on_sent, on_landed, stall_timeout, until_live, notices)
    await run_worker(settings, store, until=watch.done, poll=0.5, notices=notices, progress=watch.progress)
    assert watch.feed is not None
    return FeedResult(fed=watch.feed.result(), landed=watch.now, seconds=time.monotonic() - started, progress=watch.progress)
