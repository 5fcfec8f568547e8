"""The stream's output producer on the real local broker: batches per partition, Kafka's partitioning."""

import asyncio
import json

from kafka.partitioner.default import murmur2

from pipeline.broker import ensure_topics
from pipeline.broker.topics import CASE_EVENTS
from streams.output import Output
from tests.records import read_topic


def test_messages_land_once_in_their_keys_partition_in_order_and_batched(settings):
    ensure_topics(settings)
    keys = [f"case-{i % 37}".encode() for i in range(600)]
    messages = [(k, json.dumps({"n": i, "pad": "x" * 700}).encode()) for i, k in enumerate(keys)]
    messages.append((None, json.dumps({"n": 600}).encode()))  # no key: any partition

    async def send() -> int:
        output = Output(settings)
        await output.start()
        try:
            sent = await output.send(CASE_EVENTS, messages)
            await asyncio.gather(*sent)
            return len(sent)
        finally:
            await output.stop()

    batches = asyncio.run(send())
    # ~430 KB in 16 KiB batches: many messages per send, more than one send per partition.
    assert settings.partitions < batches < len(messages) // 10

    got = read_topic(settings, settings.topic(CASE_EVENTS), len(messages))
    assert sorted(json.loads(r.value)["n"] for r in got) == list(range(len(messages)))
    for record in got:  # kafka-python's own murmur2: the Java client's partitioning
        if record.key is not None:
            assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % settings.partitions
    for partition in range(settings.partitions):
        order = [json.loads(r.value)["n"] for r in sorted(got, key=lambda r: r.offset) if r.partition == partition]
        assert order == sorted(order)


def test_packed_messages_go_where_their_keys_would_each_pack_holding_only_that_partitions_values(settings):
    ensure_topics(settings)
    keys = [f"case-{i % 37}".encode() for i in range(600)]
    messages = [(k, json.dumps({"n": i, "key": k.decode()}).encode()) for i, k in enumerate(keys)]

    def pack(values: list[bytes]) -> list[bytes]:
        return [b"\n".join(values[i : i + 50]) for i in range(0, len(values), 50)]

    async def send() -> None:
        output = Output(settings)
        await output.start()
        try:
            await asyncio.gather(*await output.send_packed(CASE_EVENTS, messages, pack))
        finally:
            await output.stop()

    asyncio.run(send())
    per_partition = {p: sum(1 for k in keys if (murmur2(k) & 0x7FFFFFFF) % settings.partitions == p) for p in range(settings.partitions)}
    got = read_topic(settings, settings.topic(CASE_EVENTS), sum(-(-n // 50) for n in per_partition.values()))
    assert len(got) == sum(-(-n // 50) for n in per_partition.values())  # 50 values a message, no more messages
    lines = []
    for record in sorted(got, key=lambda r: (r.partition, r.offset)):
        for value in record.value.split(b"\n"):
            line = json.loads(value)
            assert (murmur2(line["key"].encode()) & 0x7FFFFFFF) % settings.partitions == record.partition
            lines.append((record.partition, line["n"]))
    assert sorted(n for _, n in lines) == list(range(len(messages)))
    for partition in range(settings.partitions):
        order = [n for p, n in lines if p == partition]
        assert order == sorted(order)
