"""The input topics' fetched messages go to their `Bulk` a fetch at a time, tracked as Faust tracks
its deliveries, and a rebalance cuts a hand-over short; the fetched log ends are the broker's."""

from __future__ import annotations

import asyncio
import time

import pytest
from faust.types import TP
from kafka import KafkaProducer

from pipeline.config import Settings
from streams.kafka.app import faust_app
from streams.kafka.bulk import Bulk
from streams.kafka.consumer import Consumer
from streams.kafka.topics import fetched_end
from tests.records import fetched


@pytest.fixture
def new_consumer(tmp_path):
    def build() -> Consumer:
        # Built inside the running loop (a service keeps the loop it was made in), never started:
        # no broker is contacted.
        app = faust_app(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"), "cx-consumer-test")
        assert isinstance(app.consumer, Consumer)
        return app.consumer

    return build


def test_a_bulk_topics_fetch_is_handed_over_whole_and_tracked_as_faust_tracks_deliveries(new_consumer):
    async def run():
        consumer = new_consumer()
        consumer.app.flow_control.resume()  # as after recovery
        bulk = Bulk(capacity=100)
        tp = TP("cx.touchpoints", 0)
        consumer._read_offset[tp] = 10  # what a seek to the committed offset 10 leaves
        messages = fetched(tp.topic, 0, [8, 9, 10, 11, 15])  # 8, 9: read before the seek
        await consumer.wait_first(consumer._hand_over(bulk, messages), consumer.suspend_flow.wait())
        taken = await bulk.take(10, within=0.0)
        return consumer, tp, taken

    consumer, tp, taken = asyncio.run(run())
    assert [m.offset for m in taken] == [10, 11, 15]
    # A rebalance or a stop waits for these to be acked (the e2e tests: and they are committed).
    assert {m.offset for m in consumer.unacked} == {10, 11, 15}
    assert consumer._read_offset[tp] == 15
    assert consumer._gap[tp].overlap(12, 15)  # 12-14 never came: commits may pass them
    assert not consumer._gap[tp].overlap(10, 12)


def test_a_rebalance_cuts_a_bulk_hand_over_short_before_anything_is_tracked(new_consumer):
    async def run():
        consumer = new_consumer()  # the app's flow is suspended: the hand-over waits
        bulk = Bulk(capacity=100)
        waiting = asyncio.ensure_future(
            consumer.wait_first(consumer._hand_over(bulk, fetched("cx.touchpoints", 0, [0, 1])), consumer.suspend_flow.wait())
        )
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()
        await waiting
        return consumer, bulk

    consumer, bulk = asyncio.run(run())
    assert len(bulk) == 0 and not consumer.unacked  # read again after the rebalance's seek


def test_the_fetched_log_end_and_when_it_was_fetched_come_from_the_broker(settings):
    # The case clock's `still` figures are read from these (streams.agents.cases): a wrong end or time would
    # make a replay look idle too soon, or never sooner than idle_after.
    name = settings.topic("ends")
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for i in range(5):
        producer.send(name, f"{i}".encode(), partition=0).get(timeout=30)  # a batch each
    producer.close()

    async def run() -> tuple[int, float] | None:
        app = faust_app(settings, settings.app_id)
        topic = app.topic(name, partitions=1, value_serializer="raw")
        seen: list[bytes] = []

        @app.agent(topic)
        async def read(stream):
            async for value in stream:
                seen.append(value)

        await app.start()
        try:
            for _ in range(300):
                if len(seen) == 5:
                    break
                await asyncio.sleep(0.1)
            return fetched_end(app, TP(name, 0))
        finally:
            await app.stop()

    before = time.time()
    ends = asyncio.run(run())
    assert ends is not None
    end, fetched_at = ends
    assert end == 5  # the log end after five single-record batches
    assert before - 1 <= fetched_at <= time.time()
