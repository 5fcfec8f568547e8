"""Run the Faust app inside the current asyncio loop until told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import faust

from pipeline.broker import ensure_topics
from pipeline.cases.process import CaseProcess
from pipeline.config import Settings
from pipeline.delivery import NoticeRunner
from pipeline.gc_tuning import collecting_less
from pipeline.landing_pool import LandingPool
from pipeline.store import Store
from streams import internals
from streams.app import create_app, create_notifier_app
from streams.output import Output
from streams.sink import Progress

log = logging.getLogger("cx.worker")


def group_settled(app: faust.App) -> bool:
    """Whether the worker holds partitions, is not rebalancing and has restored its tables."""
    return bool(app.consumer.assignment()) and not app.rebalancing and app.tables.recovery.completed.is_set()


async def run_worker(
    settings: Settings,
    store: Store,
    until: Callable[[faust.App], Awaitable[bool]] | None = None,
    poll: float = 0.25,
    handle_signals: bool = True,
    notices: NoticeRunner | None = None,
    progress: Progress | None = None,
) -> None:
    """Start the app (and the notifier, given `notices`), run until `until(app)` is true (or
    SIGINT/SIGTERM), then stop cleanly. The worker counts what it did in `progress`."""
    internals.check()  # before anything starts: an upgraded Faust that changed a member is named now
    await asyncio.get_running_loop().run_in_executor(None, ensure_topics, settings)
    async with AsyncExitStack() as resources:
        resources.enter_context(collecting_less())
        pool = LandingPool(settings.landing_processes)
        resources.callback(pool.close)
        pool.start()
        keeper = CaseProcess(
            settings.sla_policy,
            settings.clock,
            settings.case_settle_after,
            settings.case_evict_after,
            settings.case_process,
            settings.max_clock_ahead,
            settings.odd_time_jump,
        )
        resources.callback(keeper.close)
        keeper.start()
        output = Output(settings)
        await output.start()
        resources.push_async_callback(output.stop)  # after the app stopped: its last batches send here
        await _run(settings, store, pool, keeper, output, progress or Progress(), until, poll, handle_signals, notices)


async def _run(
    settings: Settings,
    store: Store,
    pool: LandingPool,
    keeper: CaseProcess,
    output: Output,
    progress: Progress,
    until: Callable[[faust.App], Awaitable[bool]] | None,
    poll: float,
    handle_signals: bool,
    notices: NoticeRunner | None,
) -> None:
    app = create_app(settings, store, pool, keeper, output, progress)
    notifier = create_notifier_app(settings, notices) if notices is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    if notifier is not None:
        await notifier.start()
    log.info("worker %s consuming from %s", settings.app_id, settings.kafka_bootstrap)
    try:
        while not stop.is_set():
            for running in (app, notifier):
                if running is not None and (running.should_stop or running.crashed):
                    raise RuntimeError(f"worker crashed: {running.crash_reason!r}")
            if until is not None and await until(app):
                break
            try:
                await asyncio.wait_for(stop.wait(), poll)
            except TimeoutError:
                pass
    finally:
        if notifier is not None:
            await notifier.stop()
            await notices.close()
        await app.stop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
