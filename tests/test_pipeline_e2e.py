"""End to end on real parts: Tansu broker -> Faust agents -> embedded ClickHouse."""

import asyncio
import json

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.broker.offsets import end_offsets
from pipeline.broker.topics import REVIEWS, TOUCHPOINTS
from pipeline.generate import generate
from pipeline.store.base import scalar
from streams.agents.cases import CATCH_UP_LANDINGS
from streams.demo import feed_and_wait
from streams.worker import run_worker


def test_5000_events_with_50_malformed_land_exactly_once(settings, clean_store):
    store = clean_store
    workload = generate(4950, seed=21, malformed=50)
    assert len(workload.lines) == 5000
    result = asyncio.run(feed_and_wait(settings, store, workload.lines, stall_timeout=90))

    assert result.fed.invalid == 50
    # The feed outruns the worker: takes join into larger batches while a backlog waits, never past the cap.
    assert settings.batch_size < result.progress.largest_landing_batch <= settings.catch_up_batch_size
    assert result.progress.landing_batches < 5000 / settings.batch_size
    # The case state takes whole landing batches, several at once while it is behind, never more than
    # its cap. How far behind it falls depends on the machine's load (the suite runs in parallel):
    # take sizes at a given rate are bench.freshness's figures, not this test's.
    assert 0 < result.progress.largest_case_take <= CATCH_UP_LANDINGS * settings.catch_up_batch_size
    assert result.progress.case_takes <= result.progress.landing_batches
    assert result.fed.touchpoints == workload.touchpoints and result.fed.reviews == workload.reviews
    # Exact counts, without FINAL: nothing was written twice.
    assert scalar(store, "SELECT count() FROM cx.touchpoints") == workload.touchpoints
    assert scalar(store, "SELECT uniqExact(event_id) FROM cx.touchpoints") == workload.touchpoints
    assert scalar(store, "SELECT count() FROM cx.reviews") == workload.reviews
    assert scalar(store, "SELECT uniqExact(review_id) FROM cx.reviews") == workload.reviews
    assert scalar(store, "SELECT count() FROM cx.dlq") == 50
    # Every rejected row says why and keeps its payload.
    assert scalar(store, "SELECT countIf(reason = '' OR payload = '') FROM cx.dlq") == 0
    # Reviews carry text analytics.
    _, (row,) = store.query("SELECT min(sentiment), max(sentiment), countIf(length(tokens) = 0), countIf(label NOT IN ('positive', 'negative')) FROM cx.reviews")
    assert 0.0 <= row[0] <= row[1] <= 1.0 and row[2] == 0 and row[3] == 0
    # Customer messages are scored, agent replies are not.
    assert scalar(store, "SELECT countIf(sentiment IS NULL) FROM cx.touchpoints WHERE kind = 'customer_message' AND text != ''") == 0
    assert scalar(store, "SELECT countIf(sentiment IS NOT NULL) FROM cx.touchpoints WHERE kind = 'agent_reply'") == 0
    # The ids that landed are exactly the valid ids fed.
    fed_ids = {json.loads(ln)["event_id"] for ln in workload.lines if '"event_id": "C' in ln}
    _, rows = store.query("SELECT event_id FROM cx.touchpoints")
    assert {r[0] for r in rows} == fed_ids


def test_a_replay_on_the_event_clock_ends_once_every_case_has_its_events(settings, clean_store):
    # CX_CLOCK=event never follows the wall clock, so the demo must not wait for it to (it did: forever).
    workload = generate(300, seed=41)
    result = asyncio.run(feed_and_wait(settings.model_copy(update={"clock": "event"}), clean_store, workload.lines, stall_timeout=60))
    assert result.fed.touchpoints == workload.touchpoints
    cases = {json.loads(ln)["case_id"] for ln in workload.lines if '"event_id"' in ln}
    assert scalar(clean_store, "SELECT count() FROM cx.cases FINAL") == len(cases)


def test_restart_resumes_from_committed_offsets(settings, clean_store):
    """A second worker in the same group lands only what is new: offsets were committed after writing."""
    store = clean_store
    first = generate(600, seed=31)
    asyncio.run(feed_and_wait(settings, store, first.lines, stall_timeout=60))
    assert scalar(store, "SELECT count() FROM cx.touchpoints") == first.touchpoints
    # Every input message was acked and its offset committed: the group stands at each log's end.
    inputs = [(settings.topic(name), p) for name in (TOUCHPOINTS, REVIEWS) for p in range(settings.partitions)]
    ends = asyncio.run(end_offsets(settings.kafka_bootstrap, inputs))
    assert sum(ends.values()) == first.touchpoints + first.reviews
    assert asyncio.run(_committed(settings, list(ends))) == {tp: end or None for tp, end in ends.items()}

    more = [ln for ln in generate(700, seed=32).lines if '"event_id"' in ln][:40]
    more = [ln.replace('"C0', '"X0') for ln in more]  # new case and event ids
    asyncio.run(feed_and_wait(settings, store, more, stall_timeout=60))
    total = first.touchpoints + len(more)
    # Nothing committed before the restart came back (at-least-once may repeat only uncommitted work).
    assert scalar(store, "SELECT count() FROM cx.touchpoints WHERE case_id NOT LIKE 'X%'") == first.touchpoints
    assert scalar(store, "SELECT count() FROM cx.touchpoints FINAL") == total
    assert scalar(store, "SELECT uniqExact(event_id) FROM cx.touchpoints") == total


async def _committed(settings, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    # The group's committed offsets, read without joining it.
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


def test_worker_stops_cleanly_when_told(settings, store):
    calls = {"n": 0}

    async def after_three_polls(app) -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    asyncio.run(run_worker(settings, store, until=after_three_polls, poll=0.1))
    assert calls["n"] == 3
