"""End offsets read from the last records: right where the local broker misreports batches."""

import asyncio
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.broker.offsets import end_offsets


async def _produce(bootstrap: str, topic: str, batches: dict[int, list[int]]) -> None:
    """Send, per partition, batches of the given sizes (each one produce batch)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, sizes in batches.items():
            for size in sizes:
                batch = producer.create_batch()
                for i in range(size):
                    assert batch.append(key=b"k", value=str(i).encode(), timestamp=None) is not None
                batch.close()
                await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


def test_end_offsets_count_every_record_of_multi_record_batches(broker):
    topic = f"offsets-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    # Partition 0: three batches of ten; 1: ten batches of one; 2: nothing.
    asyncio.run(_produce(broker.bootstrap, topic, {0: [10, 10, 10], 1: [1] * 10}))
    ends = asyncio.run(end_offsets(broker.bootstrap, [(topic, 0), (topic, 1), (topic, 2)]))
    assert ends == {TopicPartition(topic, 0): 30, TopicPartition(topic, 1): 10, TopicPartition(topic, 2): 0}


def test_end_offsets_of_nothing_asks_no_broker():
    assert asyncio.run(end_offsets("127.0.0.1:1", [])) == {}
