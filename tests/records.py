"""Records in tests: topics read back with kafka-python (a client independent of the ones under
test), and fetched messages as Faust's consumer makes them."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from faust.types import Message
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer import fetcher
from kafka.record import MemoryRecords


def read_topic(settings, topic: str, expected: int, timeout: float = 20.0) -> list:
    """Every record of `topic` (all partitions, from the start) once `expected` arrived or at `timeout`."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
    got, deadline = [], time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend(records)
    consumer.close()
    return got


def fetched(topic: str, partition: int, offsets) -> list[Message]:
    """Faust messages as a fetch of `offsets` on one partition gives them (values `{}`)."""
    return [Message(topic, partition, o, 0.0, 0, None, None, b"{}", None) for o in offsets]


@contextmanager
def batch_codecs() -> Iterator[set[int]]:
    """The codecs (Kafka's record batch attribute: 0 none, 4 zstd) of the batches kafka-python reads
    from the broker meanwhile, as the broker holds them: its fetcher is watched, nothing is changed."""
    seen: set[int] = set()

    class Watched(MemoryRecords):
        def next_batch(self, *args, **kwargs):
            batch = super().next_batch(*args, **kwargs)
            if batch is not None:
                seen.add(batch.compression_type)
            return batch

    original, fetcher.MemoryRecords = fetcher.MemoryRecords, Watched
    try:
        yield seen
    finally:
        fetcher.MemoryRecords = original
