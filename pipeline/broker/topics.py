"""The topics of the contract, created explicitly (a broker's auto-create picks its own partition count)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

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


def ensure_topics(settings: Settings) -> list[str]:
    """Create every contract topic that does not exist yet; return the full names."""
    names = [settings.topic(t) for t in INPUT_TOPICS + OUTPUT_TOPICS + INTERNAL_TOPICS]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="cx-admin")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=settings.partitions, replication_factor=settings.replication)
            for name in names
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process won the race; the topic is what we wanted
    finally:
        admin.close()
    return names
