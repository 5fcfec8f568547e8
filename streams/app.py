"""Build the Faust app for given settings (a factory, so tests and the demo can run several)."""

from __future__ import annotations

import faust

from pipeline.config import Settings
from pipeline.store import Store


def create_app(settings: Settings, store: Store) -> faust.App:
    """A Faust app with every agent registered, writing to `store`."""
    session = settings.session_timeout_s
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{hostport}" for hostport in settings.kafka_bootstrap.split(",")],
        store="memory://",
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
        stream_wait_empty=False,
        producer_max_batch_size=settings.producer_max_batch,
    )
    from streams.agents import register_agents

    register_agents(app, settings, store)
    return app
