"""`cx produce` / the demo's feed on the real local broker: every line in its topic, on its key's
partition by the Java client's hash, counted only once the broker acknowledged it."""

import json
import time

import pytest
from kafka.partitioner.default import murmur2

from pipeline.broker import LocalBroker, ensure_topics, free_port
from pipeline.broker.exceptions import BrokerUnavailable
from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.produce import MAX_MESSAGE_BYTES, produce_lines
from tests.records import read_topic


def _touchpoint(i: int) -> str:
    return json.dumps({"event_id": f"E{i}", "case_id": f"C{i % 23}", "customer_id": "U1", "channel": "chat",
                       "kind": "contact_opened", "actor": "customer", "ts": "2026-11-02T08:00:00Z"})  # fmt: skip


def _review(i: int) -> str:
    return json.dumps({"review_id": f"R{i}", "customer_id": f"U{i % 7}", "channel": "app", "text": "好", "ts": "2026-11-02T08:00:00Z"})


def test_lines_land_in_their_topic_on_their_keys_partition_and_are_counted(settings):
    ensure_topics(settings)
    lines = [_touchpoint(i) for i in range(300)] + [_review(i) for i in range(50)]
    lines += ["not json", "", '{"event_id": "E-bad"}', "x" * (MAX_MESSAGE_BYTES + 1)]
    ticks = []
    fed = produce_lines(settings, lines, on_sent=ticks.append)

    assert (fed.touchpoints, fed.reviews, fed.invalid) == (300, 50, 2)
    assert fed.too_large == [len(lines)] and not fed.unsent and sum(ticks) == fed.total == 352
    touchpoints = read_topic(settings, settings.topic(TOUCHPOINTS), 302)
    reviews = read_topic(settings, settings.topic(REVIEWS), 50)
    assert sorted(r.value for r in touchpoints) == sorted(ln.encode() for ln in lines[:300] + lines[350:351] + lines[352:353])
    assert sorted(r.value for r in reviews) == sorted(ln.encode() for ln in lines[300:350])
    keyed = [r for r in touchpoints + reviews if r.key is not None]
    assert len(keyed) == 350 and {r.key for r in reviews} == {f"U{i}".encode() for i in range(7)}
    for record in keyed:  # kafka-python's own murmur2: the Java client's partitioning
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % settings.partitions
    assert len({r.partition for r in keyed}) == settings.partitions


def test_no_broker_at_the_address_is_a_clear_error_before_anything_is_read(settings):
    nobody = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    read = []

    def lines():
        read.append(1)
        yield _touchpoint(1)

    with pytest.raises(BrokerUnavailable, match="no Kafka broker answered at 127.0.0.1:"):
        produce_lines(nobody, lines())
    assert not read


def test_lines_the_broker_never_acknowledges_are_reported_unsent_not_counted(settings, tmp_path):
    with LocalBroker(log=tmp_path / "broker.log") as broker:
        own = settings.for_local_broker(broker.bootstrap)
        ensure_topics(own)

        def lines():
            yield from (_touchpoint(i) for i in range(3))
            time.sleep(1.0)  # delivered by now: librdkafka sends on its own threads
            broker.stop()
            yield from ["", *(_touchpoint(i) for i in range(3, 6))]

        fed = produce_lines(own, lines(), delivery_timeout=1.0)
    assert fed.unsent == [5, 6, 7] and fed.touchpoints == fed.total == 3
