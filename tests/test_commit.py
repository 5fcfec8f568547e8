"""The commit protocol (`streams.commit`) against the real broker and the embedded store: its steps
in their documented order, commits in the order queued, and a failed commit holding back the ones
after it."""

import asyncio

from harness.faults import Outage
from pipeline.broker import ensure_topics
from pipeline.broker.topics import BREACHES, SCORED
from pipeline.cases.keeper import CaseWrites
from pipeline.store.tables import DLQ
from streams.agents.cases import CaseAgent
from streams.commit import Commit, CommitQueue, Forward, State
from streams.kafka.output import Output
from streams.progress import Progress
from streams.sinks.clickhouse import ClickHouseSink
from tests.records import read_topic


def _row(n: int) -> dict:
    return {"source_topic": "test", "kafka_partition": 0, "kafka_offset": n, "reason": "a test row", "payload": "{}"}


def _queue(settings, store, acks: list, failures: list, table: dict, progress: Progress, output: Output, held=None) -> CommitQueue:
    async def failed(exc: BaseException) -> None:
        failures.append(exc)

    changelog = settings.topic(SCORED)  # any topic stands in for a table's changelog
    holds = (lambda p, o: held.append((p, o))) if held is not None else (lambda p, o: None)
    state = State(changelog, lambda: table, holds)
    return CommitQueue(ClickHouseSink(store, max_backoff=0.2), output, acks.append, progress, failed, state)


def test_a_commit_publishes_breaches_then_writes_rows_then_forwards_then_records_state_then_acks(settings, clean_store):
    ensure_topics(settings)
    acks, failures, table, progress, held = [], [], {}, Progress(), []
    read = lambda topic, n, timeout: read_topic(settings, settings.topic(topic), n, timeout)  # noqa: E731

    async def scenario() -> dict:
        output = Output(settings)
        await output.start()
        loop = asyncio.get_running_loop()
        try:
            down = Outage(clean_store, seconds=4.0)  # step 2 waits out a ClickHouse outage
            queue = _queue(settings, down, acks, failures, table, progress, output, held)
            first = queue.queue(
                Commit(
                    breaches=[(b"C1", b'{"alert": 1}')],
                    rows={DLQ: [_row(1)]},
                    forwards=[Forward(SCORED, [(b"C1", b'{"forwarded": 1}')])],
                    changes=[(b"C1", b'{"state": 1}')],
                    acks=["m1"],
                    counts={"landed": 1, "alerts_published": 1},
                )
            )
            second = queue.queue(Commit(acks=["m2"], counts={"landed": 1}))  # nothing to write: waits all the same
            await asyncio.sleep(1.0)
            seen = {
                "breaches": len(await loop.run_in_executor(None, read, BREACHES, 1, 3.0)),
                "scored": len(await loop.run_in_executor(None, read, SCORED, 1, 1.0)),
                "acks": list(acks),
                "table": dict(table),
                "landed": progress.landed,
            }
            await asyncio.wait_for(asyncio.gather(first, second), 30)
            return seen | {"refused": down.refused}
        finally:
            await output.stop()

    mid = asyncio.run(scenario())
    # Mid-outage: the breach is on the broker; nothing after step 2 has happened, for either commit.
    assert mid.pop("refused") > 0
    assert mid == {"breaches": 1, "scored": 0, "acks": [], "table": {}, "landed": 0}
    # Then every step, in order, and the second commit after the first.
    assert acks == ["m1", "m2"] and table == {b"C1": b'{"state": 1}'} and not failures
    assert (progress.landed, progress.alerts_published) == (2, 1)
    assert clean_store.query(f"SELECT count() FROM {DLQ} WHERE source_topic = 'test'")[1] == [(1,)]
    values = [r.value for r in sorted(read_topic(settings, settings.topic(SCORED), 2, 5.0), key=lambda r: r.offset)]
    assert values == [b'{"forwarded": 1}', b'{"state": 1}']  # the forward, then the state's changelog record (one key: one partition)
    (record,) = [r for r in read_topic(settings, settings.topic(SCORED), 2, 5.0) if r.value == b'{"state": 1}']
    assert held == [(record.partition, record.offset)]  # the table is told it holds its changelog up to there


def test_a_failed_commit_stops_the_worker_and_the_commits_after_it_acknowledge_nothing(settings, clean_store):
    ensure_topics(settings)
    acks, failures, table, progress = [], [], {}, Progress()

    async def scenario() -> None:
        output = Output(settings)  # never started: every send fails
        queue = _queue(settings, clean_store, acks, failures, table, progress, output)
        queue.queue(Commit(breaches=[(b"C1", b"{}")], acks=["m1"], counts={"landed": 1}))
        queue.queue(Commit(acks=["m2"], counts={"landed": 1}))
        await queue.drained()
        await asyncio.sleep(0.1)  # the failure callbacks

    asyncio.run(scenario())
    assert acks == [] and table == {} and progress.landed == 0
    assert failures and all("not started" in str(f) for f in failures)


def test_the_case_agents_commit_carries_what_the_case_process_decided():
    writes = CaseWrites(
        rows={"alerts": [{"alert_id": "a"}]}, changes=[(b"C1", b"{}")], breaches=[(b"C1", b"{}")], events=3, updates=1, evicted=0
    )
    commit = CaseAgent.commit_of(writes, ["m1"])
    assert (commit.breaches, commit.rows, commit.changes, commit.acks) == (writes.breaches, writes.rows, writes.changes, ["m1"])
    assert commit.counts == {"case_events": 3, "cases_evicted": 0, "case_updates": 1, "alerts_published": 1}
    nothing = CaseAgent.commit_of(CaseWrites(events=2), ["m2"])
    assert (nothing.breaches, nothing.rows, nothing.changes, nothing.counts) == ((), {}, (), {"case_events": 2})
