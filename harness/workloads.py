"""Workloads of a given shape that the generator does not make: unanswered cases, unkeyed producers."""

from __future__ import annotations

import json
import random
from datetime import datetime

from kafka import KafkaProducer

from pipeline.config import Settings


def waiting_chat_case(prefix: str, n: int, asked: datetime) -> str:
    """A chat case whose customer asked at `asked` and is never answered (its first response will breach)."""
    return json.dumps({
        "event_id": f"{prefix}-{n}-1", "case_id": f"{prefix}-{n}", "customer_id": f"U{n}", "channel": "chat",
        "kind": "customer_message", "actor": "customer", "ts": asked.isoformat(), "text": "在吗？等了好久了",
    }, ensure_ascii=False)  # fmt: skip


def unkeyed(settings: Settings, lines: list[str], seed: int, first: int | None = None) -> None:
    """Each line without a key to a random partition; with `first`, that partition's lines go first."""
    rng = random.Random(seed)
    routed = []
    for line in lines:
        topic = settings.topic("cx.touchpoints" if '"event_id"' in line else "cx.reviews")
        routed.append((topic, rng.randrange(settings.partitions), line))
    if first is not None:
        routed.sort(key=lambda r: r[1] != first)  # stable: each partition keeps its own order
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    for topic, partition, line in routed:
        producer.send(topic, value=line.encode(), partition=partition)
    producer.flush()
    producer.close()
