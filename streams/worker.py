"""The stream worker: what its agents share (settings, store, landing pool, case process, output
producer, progress) and the Faust apps that run them, inside the current asyncio loop until told to stop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import faust

from pipeline.broker import ensure_topics
from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.cases.clock import InputMarks
from pipeline.config import Settings
from pipeline.delivery import NoticeRunner
from pipeline.errors import CxError
from pipeline.gc_tuning import collecting_less
from pipeline.store import Store, tables
from streams.agents.cases import CaseAgent
from streams.agents.landing import LandingAgent
from streams.agents.marks import InputReport
from streams.agents.notify import NotifierAgent
from streams.commit import CommitQueue, State
from streams.kafka import internals
from streams.kafka.app import faust_app
from streams.kafka.bulk import Bulk
from streams.kafka.output import Output, keyed_partitions_cached
from streams.kafka.topics import raw_topic, subscribe_in_bulk
from streams.pools.cases import CaseProcess
from streams.pools.landing import LandingPool
from streams.progress import Progress
from streams.sinks.clickhouse import ClickHouseSink

log = logging.getLogger("cx.worker")
STATUS_SECONDS = 30.0  # how often the worker logs its case table's size and what it tracks
COMMIT_TRIES = 3  # commits tried when the worker stops (see `_commit_acked`)
STOP_SECONDS = 30.0  # how long a Faust app may take to stop
Until = Callable[[faust.App], Awaitable[bool]]


class WorkerCrashed(CxError, RuntimeError):
    """An agent failed and the worker stopped: what it had not acknowledged is redelivered to its
    successor; start the worker again once the cause (in the log above) is dealt with."""


def group_settled(app: faust.App) -> bool:
    """Whether the worker holds partitions, is not rebalancing and has restored its tables."""
    return bool(app.consumer.assignment()) and not app.rebalancing and app.tables.recovery.completed.is_set()


class Worker:
    """One stream worker. `run` starts its processes and producer, builds the main app (landing and
    case agents; group = CX_APP_ID) and, given `notices`, the notifier app (group CX_APP_ID-notify,
    so a slow endpoint never holds up case tracking), and runs them until told to stop."""

    def __init__(self, settings: Settings, store: Store, notices: NoticeRunner | None = None, progress: Progress | None = None):
        self.settings = settings
        self.store = store
        self.notices = notices
        self.progress = progress or Progress()
        self.sink = ClickHouseSink(store)
        self.pool = LandingPool(settings.landing_processes)
        self.keeper = CaseProcess(
            settings.sla_policy,
            settings.clock,
            settings.case_settle_after,
            settings.case_evict_after,
            settings.case_process,
            settings.max_clock_ahead,
            settings.odd_time_jump,
        )
        self.output = Output(settings)
        self.agents: list[LandingAgent | CaseAgent] = []  # of the main app, once built
        self.cases: CaseAgent | None = None
        self._committing: asyncio.Future | None = None  # the offset commit `commit_offsets_soon` started
        self._handing_over = False  # a revocation is being handled

    async def run(self, until: Until | None = None, poll: float = 0.25, stop: threading.Event | None = None) -> None:
        """Run until `until(app)` is true or `stop` is set, then stop cleanly (the batches in flight
        are committed first)."""
        internals.check()  # before anything starts: an upgraded Faust that changed a member is named now
        await asyncio.get_running_loop().run_in_executor(None, ensure_topics, self.settings)
        async with AsyncExitStack() as resources:
            resources.enter_context(collecting_less())
            resources.callback(self.pool.close)
            loading = self.pool.start()
            resources.callback(self.keeper.close)
            loading.append(self.keeper.start())
            # Join the group once the processes have loaded: partitions handed to a worker still
            # loading its text model would wait for it (seconds on a busy machine) while the rest of
            # the group cannot have them.
            await asyncio.gather(*map(asyncio.wrap_future, loading))
            await self.output.start()
            resources.push_async_callback(self.output.stop)  # after the apps stopped: their last commits send here
            await self._serve(until, poll, stop or threading.Event())

    def main_app(self) -> faust.App:
        """The landing and case agents on one app."""
        bulks: dict[str, Bulk] = {}
        app = faust_app(self.settings, self.settings.app_id, bulks=bulks)
        cases = self.cases = CaseAgent(self, app, bulks)
        cases.register()
        self.agents = []
        for name, table in ((TOUCHPOINTS, tables.TOUCHPOINTS), (REVIEWS, tables.REVIEWS)):
            topic = raw_topic(app, self.settings, name)
            bulk = subscribe_in_bulk(app, topic, bulks, capacity=2 * self.settings.catch_up_batch_size)
            report = None
            if name == TOUCHPOINTS:  # touchpoints feed the case clock: landing reports how far each input partition was read
                marks = InputMarks(self.settings.max_clock_ahead, self.settings.odd_time_jump)
                report = InputReport(app, topic.get_topic_name(), marks)
            landing = LandingAgent(self, app, table, bulk, report)
            app.task(landing.run)
            self.agents.append(landing)
        self.agents.append(cases)  # finished last: the landing agents' last commits feed it
        app.on_partitions_revoked.connect(self.handover)
        app.timer(interval=STATUS_SECONDS)(self.report)
        return app

    def tracked(self) -> dict[str, int]:
        """The sizes of what this process keeps between batches: each is bounded by live cases,
        partitions or a fixed cap, never by the number of events or alerts handled."""
        assert self.cases is not None, "the main app is built first"
        sizes = {
            "case_table": len(self.cases.table),
            "case_partitions_applied": len(self.cases.applied),
            "commits_in_flight": sum(len(agent.commits) for agent in self.agents),
            "partition_cache": keyed_partitions_cached(),
        }
        if self.notices is not None:
            sizes |= self.notices.tracked()
        return sizes

    async def report(self) -> None:
        """Log the case table's size and what the worker tracks (`harness.processes` reads both)."""
        progress = self.progress
        assert self.cases is not None
        log.info("case table: %d cases held, %d evicted, %d touchpoints applied", len(self.cases.table), progress.cases_evicted, progress.case_events)
        log.info("tracked: %s", ", ".join(f"{name}={size}" for name, size in self.tracked().items()))

    def notifier_app(self) -> faust.App:
        """The notifier agent on an app of its own."""
        assert self.notices is not None
        # Its messages stay unacked until their notices are delivered, which can take minutes when many
        # are queued: a stop or a handover does not wait for that; the next owner re-reads them and the
        # ledger skips what was delivered.
        app = faust_app(self.settings, f"{self.settings.app_id}-notify", finish_in_flight=False)
        NotifierAgent(app, self.settings, self.notices).register()
        return app

    async def _serve(self, until: Until | None, poll: float, stop: threading.Event) -> None:
        if stop.is_set():
            return  # told to stop while starting: nothing was taken yet
        app = self.main_app()
        notifier = self.notifier_app() if self.notices is not None else None
        await app.start()
        if notifier is not None:
            await notifier.start()
        log.info("worker %s consuming from %s", self.settings.app_id, self.settings.kafka_bootstrap)
        try:
            while not stop.is_set():
                for running in (app, notifier):
                    if running is not None and (running.should_stop or running.crashed):
                        raise WorkerCrashed(f"worker crashed: {running.crash_reason!r}")
                if until is not None and await until(app):
                    break
                await asyncio.sleep(poll)
        finally:
            if notifier is not None:
                await _stopped(notifier, "the notifier")
                await self.notices.close()
            await self.finish(app)
            await _stopped(app, "the worker")

    def commit_queue(self, app: faust.App, log: logging.Logger, what: str, state: State | None = None) -> CommitQueue:
        """A commit queue for an agent of `app`: writes through this worker's sink and output, acks on
        `app`'s consumer, stops `app` on a failure, commits the offsets soon after each acknowledgement."""
        return CommitQueue(
            self.sink, self.output, app.consumer.ack, self.progress, app.crash, state, log, what, acked=lambda: self.commit_offsets_soon(app)
        )

    def commit_offsets_soon(self, app: faust.App) -> None:
        """Commit the acknowledged offsets now rather than on Faust's 1-second timer. A rebalance can
        begin at any moment, and a broker may refuse commits while it lasts (Tansu does; Faust drops
        the refusal silently): the next owner would then redo every batch acknowledged since the last
        commit. Concurrent commits are coalesced by Faust."""
        if self._handing_over:
            return  # Faust has already dropped the leaving partitions' acks: a commit now would count from a partial list
        if self._committing is None or self._committing.done():
            self._committing = asyncio.ensure_future(app.consumer.commit())

    async def handover(self, sender: faust.App, revoked: set, **kwargs) -> None:
        """Partitions leave this worker: every agent lets what it took commit (its rows, case states
        and notices are then complete for the next owner). No offset commit here: Faust has already
        dropped the leaving partitions' ack records when it calls this, and an offset computed from
        the acks made since could pass messages never landed; what was acknowledged after the last
        commit is redone by the next owner (the views show it once)."""
        self._handing_over = True
        try:
            for agent in self.agents:
                await agent.on_revoked(revoked)
        finally:
            self._handing_over = False

    async def finish(self, app: faust.App) -> None:
        """Before leaving the group: stop taking, let every batch taken commit, and commit the offsets,
        so the partitions' next owners start right after what this worker wrote (and redo nothing)."""
        for agent in self.agents:
            await agent.finish()
        try:
            await _commit_acked(app)
        except Exception as exc:  # leaving anyway: the next owner redoes what was not committed
            log.warning("offsets not committed before leaving: %r", exc)
        # No agent acks any more. Faust's stop, and a rebalance that begins while it stops, would
        # wait for the messages fetched but never taken: forever, with the consumer's thread stuck in
        # the revocation so that the process cannot exit. Their next owner reads them again.
        app.conf.stream_wait_empty = False


async def _stopped(app: faust.App, what: str) -> None:
    """Stop a Faust app, giving up after STOP_SECONDS: a broker that keeps the group in a join loop
    (Tansu was seen to, after the group's leader left mid-rebalance) holds Faust's stop, and a stop
    must end. What was not acknowledged is read again by the partitions' next owner."""
    try:
        await asyncio.wait_for(app.stop(), STOP_SECONDS)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s (its group is still rebalancing?): leaving anyway", what, STOP_SECONDS)


async def _commit_acked(app: faust.App) -> None:
    """Commit the acked offsets now (Faust commits them only on its timer)."""
    # Faust's commit, finding its timer's commit running, waits for that one and returns without
    # committing (False): the acks made since would not be committed. Commit again then (False also
    # means "nothing new to commit", hence the bound).
    for _ in range(COMMIT_TRIES):
        if await app.consumer.commit():
            return


async def run_worker(
    settings: Settings,
    store: Store,
    until: Until | None = None,
    poll: float = 0.25,
    notices: NoticeRunner | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run a `Worker` until `until(app)` is true or `stop` is set; it counts what it did in `progress`."""
    await Worker(settings, store, notices, progress).run(until, poll, stop)
