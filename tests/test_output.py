"""The stream's output producer on the real local broker: batches per partition, Kafka's partitioning,
compression, and batches sent again after a broker stall."""

import asyncio
import json
import os
import signal

from kafka.partitioner.default import murmur2

from pipeline.broker import LocalBroker, ensure_topics
from pipeline.broker.topics import CASE_EVENTS
from pipeline.config import Settings
from streams.kafka import output as output_module
from streams.kafka.output import OUTPUT_BATCH_BYTES, Output
from tests.records import batch_codecs, read_topic


def test_messages_land_once_in_their_keys_partition_in_order_and_batched(settings):
    ensure_topics(settings)
    keys = [f"case-{i % 37}".encode() for i in range(600)]
    pad = "x" * (3 * OUTPUT_BATCH_BYTES * settings.partitions // 600)  # ~3 batches' worth per partition
    messages = [(k, json.dumps({"n": i, "pad": pad}).encode()) for i, k in enumerate(keys)]
    messages.append((None, json.dumps({"n": 600}).encode()))  # no key: any partition

    async def send() -> int:
        output = Output(settings)
        await output.start()
        try:
            sent = await output.send(CASE_EVENTS, messages)
            return list(await asyncio.gather(*sent))
        finally:
            await output.stop()

    landed = asyncio.run(send())
    # ~3 MB in batches of OUTPUT_BATCH_BYTES: many messages per send, more than one send per partition.
    assert settings.partitions < len(landed) < len(messages) // 10

    with batch_codecs() as codecs:
        got = read_topic(settings, settings.topic(CASE_EVENTS), len(messages))
    assert settings.output_compression == "zstd" and codecs == {4}  # the default: zstd on the wire
    assert sorted(json.loads(r.value)["n"] for r in got) == list(range(len(messages)))
    for record in got:  # kafka-python's own murmur2: the Java client's partitioning
        if record.key is not None:
            assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % settings.partitions
    for partition in range(settings.partitions):
        order = [json.loads(r.value)["n"] for r in sorted(got, key=lambda r: r.offset) if r.partition == partition]
        assert order == sorted(order)
        # Each batch's future says where its last message landed: the partition's last, for the last batch.
        assert max(s.last_offset for s in landed if s.partition == partition) == max(r.offset for r in got if r.partition == partition)


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


def test_batches_a_stalled_broker_lets_expire_are_sent_again(tmp_path, monkeypatch):
    # A broker that answers nothing for longer than the request timeout (a local Tansu was seen to
    # stall ~30 s under load): the producer gives those batches up; the output sends them again
    # once the broker is back instead of failing the write (an outage is waited out).
    monkeypatch.setattr(output_module, "PRODUCER_REQUEST_TIMEOUT", 2.0)
    with LocalBroker() as broker:
        settings = Settings(topic_prefix="stall.", data_dir=tmp_path).for_local_broker(broker.bootstrap)
        ensure_topics(settings)
        messages = [(f"case-{i % 7}".encode(), json.dumps({"n": i}).encode()) for i in range(200)]

        async def send() -> None:
            out = Output(settings)
            await out.start()
            try:
                os.kill(broker.pid, signal.SIGSTOP)
                sent = await out.send(CASE_EVENTS, messages)
                await asyncio.sleep(6)  # the batches expire meanwhile
                os.kill(broker.pid, signal.SIGCONT)
                await asyncio.wait_for(asyncio.gather(*sent), 90)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
                await out.stop()

        asyncio.run(send())
        got = read_topic(settings, settings.topic(CASE_EVENTS), len(messages))
    assert {json.loads(r.value)["n"] for r in got} == set(range(len(messages)))  # at least once each
