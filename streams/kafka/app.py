"""A Faust app with the project's consumer, producer and table manager (a factory: tests and the demo run several)."""

from __future__ import annotations

from collections.abc import Mapping

import faust

from pipeline.config import Settings
from streams.kafka.bulk import Bulk
from streams.kafka.consumer import Transport
from streams.kafka.output import PRODUCER_REQUEST_TIMEOUT
from streams.kafka.internals import CaseTableManager


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
        # The session timeout unless set: with 60 s, a local Tansu once kept a group in a join loop for
        # minutes after its leader left mid-rebalance (docs/operations.md).
        broker_rebalance_timeout=settings.kafka_rebalance_timeout or session,
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
    # fetched messages (streams.kafka.consumer). Set before anything asks for the consumer.
    app.transport = Transport(app.conf.broker_consumer, app, bulks=bulks if bulks is not None else {})

    return app
