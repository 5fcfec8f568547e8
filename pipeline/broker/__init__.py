"""Kafka-side plumbing that is not stream logic: the local broker and topic administration."""

from pipeline.broker.local import LocalBroker, free_port
from pipeline.broker.topics import INPUT_TOPICS, OUTPUT_TOPICS, ensure_topics

__all__ = ["INPUT_TOPICS", "OUTPUT_TOPICS", "LocalBroker", "ensure_topics", "free_port"]
