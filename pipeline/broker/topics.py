"""The topics of the contract, created explicitly (a broker's auto-create picks its own partition count)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.broker.client import client_config
from pipeline.broker.exceptions import BrokerUnavailable
from pipeline.config import Settings

TOUCHPOINTS = "cx.touchpoints"
REVIEWS = "cx.reviews"
SCORED = "cx.scored"
BREACHES = "cx.breaches"
DLQ = "cx.dlq"
# Internal: validated touchpoints with their sentiment, keyed by case, for the case-state agent.
CASE_EVENTS = "cx.case-events"
INPUT_TOPICS = (TOUCHPOINTS, REVIEWS)
OUTPUT_TOPICS = (SCORED, BREACHES, DLQ)
INTERNAL_TOPICS = (CASE_EVENTS,)
ADMIN_TIMEOUT = 30.0  # seconds for the broker to list and create topics
CONNECT_TIMEOUT = 10.0  # seconds for a broker to answer at all


def ensure_topics(settings: Settings) -> list[str]:
    """Create every contract topic that does not exist yet; return the full names."""
    names = [settings.topic(t) for t in INPUT_TOPICS + OUTPUT_TOPICS + INTERNAL_TOPICS]
    admin = AdminClient(client_config(settings.kafka_bootstrap, **{"client.id": "cx-admin"}))
    try:
        existing = set(admin.list_topics(timeout=CONNECT_TIMEOUT).topics)
    except KafkaException as exc:
        raise BrokerUnavailable(
            f"no Kafka broker answered at {settings.kafka_bootstrap} within {CONNECT_TIMEOUT:.0f}s "
            "(start one with `cx broker`, or set CX_KAFKA_BOOTSTRAP)"
        ) from exc
    missing = [
        NewTopic(name, num_partitions=settings.partitions, replication_factor=settings.replication)
        for name in names
        if name not in existing
    ]
    for future in admin.create_topics(missing, request_timeout=ADMIN_TIMEOUT).values() if missing else ():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise  # another process winning the race is fine: the topic is what we wanted
    return names
