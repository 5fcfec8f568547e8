"""Build the Faust apps for given settings (factories, so tests and the demo can run several)."""

from __future__ import annotations

from collections.abc import Mapping

import faust

from pipeline.cases.process import CaseProcess
from pipeline.config import Settings
from pipeline.delivery import NoticeRunner
from pipeline.landing_pool import LandingPool
from pipeline.store import Store
from streams.bulk import Bulk
from streams.consumer import Transport
from streams.output import PRODUCER_REQUEST_TIMEOUT, Output
from streams.internals import CaseTableManager
from streams.sink import Progress


def faust_app(
    settings: Settings, app_id: str, finish_in_flight: bool = True, bulks: Mapping[str, Bulk] | None = None
) -> faust.App:
    """A bare Faust app with the project's consumer and producer settings; `app_id` is its group.

    `finish_in_flight`: a rebalance or a stop waits until the events being processed are acked.
    `bulks`: topic name -> `Bulk`, for topics whose fetched messages are handed over in lists."""
    session = settings.kafka_session_timeout
    datadir = settings.data_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=[f"kafka://{hostport}" for hostport in settings.kafka_bootstrap.split(",")],
        store="memory://",
        # Faust's own files (table changelog bookkeeping) beside the data, not in the working directory.
        datadir=str(datadir),
        web_enabled=False,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        # at_least_once: Tansu (and many managed brokers) cannot run the transactional producer;
        # ClickHouse tables are ReplacingMergeTree keyed by event identity, so redelivery is harmless.
        processing_guarantee="at_least_once",
        broker_session_timeout=session,
        broker_heartbeat_interval=max(0.5, session / 10),
        broker_rebalance_timeout=session,
        broker_commit_interval=1.0,
        # A rebalance waits until the batches in flight are written and acked, then commits: the
        # next owner of a partition starts after them, from case states that include them.
        stream_wait_empty=finish_in_flight,
        # Faust waits 20 minutes for a produce response by default: a response the broker never
        # sends would stall its producer that long (our topics and the changelog go through
        # `Output`, which uses the same limit). Kafka's own request.timeout.ms: retried after 30 s.
        producer_request_timeout=PRODUCER_REQUEST_TIMEOUT,
        # Restores tables to their changelogs' true ends, which Tansu misreports for batches.
        TableManager=CaseTableManager,
    )
    # Faust takes its transport from the broker URL; ours differs only in how the consumer delivers
    # fetched messages (streams.consumer). Set before anything asks for the consumer.
    app.transport = Transport(app.conf.broker_consumer, app, bulks=bulks if bulks is not None else {})

    @app.on_partitions_revoked.connect
    async def commit_before_handover(sender: faust.App, revoked: set, **kwargs) -> None:
        # Faust waits for the events in flight, but commits offsets only on its timer: commit now,
        # or the next owner of these partitions starts before events already written here.
        await app.consumer.commit()

    return app


def create_app(
    settings: Settings, store: Store, pool: LandingPool, keeper: CaseProcess, output: Output, progress: Progress
) -> faust.App:
    """The main app (group = CX_APP_ID): landing and case agents, writing to `store` and `output`,
    landing in `pool`, updating cases in `keeper`, counting in `progress`."""
    bulks: dict[str, Bulk] = {}
    app = faust_app(settings, settings.app_id, bulks=bulks)
    from streams.agents import register_agents

    register_agents(app, settings, store, pool, keeper, output, progress, bulks)
    return app


def create_notifier_app(settings: Settings, runner: NoticeRunner) -> faust.App:
    """The notifier (group = CX_APP_ID + '-notify'), so a slow endpoint never holds up case tracking."""
    # Its messages stay unacked until their notices are delivered, which can take minutes when many
    # are queued: a stop or a handover does not wait for that; the next owner re-reads them and the
    # ledger skips what was delivered.
    app = faust_app(settings, f"{settings.app_id}-notify", finish_in_flight=False)
    from streams.notify import register_notifier

    register_notifier(app, settings, runner)
    return app
