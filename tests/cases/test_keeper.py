"""The case keeper writes what the case book decides, is decided alike after a restart from what it wrote,
takes a restored table back, and gives the same in a process of its own as in a thread."""

from __future__ import annotations

import asyncio
import json
import zlib

import pytest

from pipeline.cases.book import CaseBook, StreamClock
from pipeline.cases.keeper import CaseKeeper, CaseWrites
from streams.pools.cases import CaseProcess
from pipeline.cases.state import CaseEvent, CaseRecord
from pipeline.events import Touchpoint, parse_touchpoint
from pipeline.generate import generate
from pipeline.cases.feed import pack_case_events
from pipeline.sla import load_policy
from pipeline.store.tables import ALERTS, CASES, RESPONSES

POLICY = load_policy()
PARTITIONS = 3


def _batches(events: int = 1500, per_batch: int = 60) -> list[list[tuple[int, bytes]]]:
    """Generated touchpoints as case-feed packs (partition, message), a landing batch at a time."""
    lines = generate(events, seed=11).lines
    touchpoints = [e for e in map(parse_touchpoint, lines) if isinstance(e, Touchpoint)]
    batches = []
    for start in range(0, len(touchpoints), per_batch):
        by_partition: dict[int, list[bytes]] = {}
        for tp in touchpoints[start : start + per_batch]:
            partition = zlib.crc32(tp.case_id.encode()) % PARTITIONS
            by_partition.setdefault(partition, []).append(CaseEvent.of(tp, 0.5).dump())
        batches.append([(p, pack) for p, values in sorted(by_partition.items()) for pack in pack_case_events(values)])
    return batches


BATCHES = _batches()


def _run(keeper: CaseKeeper, batches) -> list[CaseWrites]:
    out = []
    for packs in batches:
        out.append(keeper.on_events(packs))
    return out


def test_keeper_writes_what_the_book_decides():
    keeper = CaseKeeper(POLICY, clock="event")
    states: dict = {}
    book = CaseBook(POLICY, states.get, StreamClock("event", lateness=POLICY.lateness))
    alerts = 0
    for packs in BATCHES:
        done = keeper.on_events(packs)
        outcome = book.on_events([(p, CaseEvent.model_validate_json(line)) for p, m in packs for line in m.split(b"\n")])
        assert done.events == sum(m.count(b"\n") + 1 for _, m in packs)
        assert done.updates == outcome.updates
        assert done.rows.get(RESPONSES, []) == [r.row() for r in outcome.responses]
        assert done.rows.get(ALERTS, []) == [a.row() for a in outcome.alerts]
        assert done.rows.get(CASES, []) == list(outcome.cases.values())
        assert done.breaches == [(a.case_id.encode(), a.model_dump_json().encode()) for a in outcome.alerts]
        assert done.alert_keys == [(a.alert_id, a.status) for a in outcome.alerts]
        assert done.changes == [(c.encode(), CaseRecord(partition=p, state=s).dump()) for c, (p, s) in outcome.states.items()] + [
            (c.encode(), None) for c in outcome.forgotten
        ]
        for case_id, (_, state) in outcome.states.items():
            states[case_id] = state
        for case_id in outcome.forgotten:
            states.pop(case_id, None)
        book.commit(outcome)
        alerts += len(outcome.alerts)
    assert alerts > 0  # the generated mix breaches: the comparison covered alerts
    assert keeper.states == states


def test_a_batch_whose_writes_failed_is_decided_alike_by_the_restarted_worker():
    # An outcome is current at once (the next batch is applied while it is written); a write that
    # fails stops the worker, and its successor rebuilds from what the changelog holds.
    keeper = CaseKeeper(POLICY, clock="event")
    table: dict[bytes, bytes] = {}
    for done in _run(keeper, BATCHES[:5]):
        table.update(done.changes)
    before = dict(keeper.states)
    first = keeper.on_events(BATCHES[5])  # its writes fail
    assert first.updates and keeper.states != before
    restarted = CaseKeeper(POLICY, clock="event")
    restarted.rebuild([v for v in table.values() if v is not None], owned=range(PARTITIONS))
    assert restarted.states == before
    again = restarted.on_events(BATCHES[5])  # the unacked batch, given to the successor
    assert (again.rows, again.breaches, again.changes) == (first.rows, first.breaches, first.changes)
    assert restarted.states == keeper.states


def test_rebuild_takes_the_table_back_as_written_or_restored():
    straight = CaseKeeper(POLICY, clock="event")
    expected = {key for done in _run(straight, BATCHES) for key in done.alert_keys}

    first = CaseKeeper(POLICY, clock="event")
    table: dict[bytes, bytes | dict | None] = {}
    cut = len(BATCHES) // 2
    keys = set()
    for done in _run(first, BATCHES[:cut]):
        keys.update(done.alert_keys)
        table.update(done.changes)
    # Some values as this worker wrote them (JSON), some as Faust restores them (decoded).
    stored = [value if i % 2 else json.loads(value) for i, value in enumerate(v for v in table.values() if v)]
    second = CaseKeeper(POLICY, clock="event")
    assert second.rebuild(stored, owned=range(PARTITIONS)) == len(stored)
    assert second.states == first.states
    for done in _run(second, BATCHES[cut:]):
        assert not keys & set(done.alert_keys)  # nothing raised twice
        keys.update(done.alert_keys)
    assert keys == expected
    assert second.states == straight.states


def test_rebuild_watches_only_the_owned_partitions():
    keeper = CaseKeeper(POLICY, clock="event")
    table = {key: value for done in _run(keeper, BATCHES) for key, value in done.changes}
    records = [CaseRecord.model_validate_json(v) for v in table.values() if v]
    other = CaseKeeper(POLICY, clock="event")
    assert other.rebuild(table.values(), owned={1}) == sum(r.partition == 1 for r in records)
    assert len(other.states) == len(records)  # every state is readable, only partition 1's are watched
    assert set(other.book.due) <= {1}


@pytest.mark.parametrize("own_process", [True, False])
def test_case_process_gives_what_the_keeper_gives(own_process):
    here = CaseKeeper(POLICY, clock="event")
    expected = [*_run(here, BATCHES[:8]), here.on_tick()]

    async def run() -> list[CaseWrites]:
        keeper = CaseProcess(clock="event", own_process=own_process)
        try:
            out = []
            for packs in BATCHES[:8]:
                out.append(await keeper.on_events(packs, behind=()))
            return [*out, await keeper.on_tick(behind=())]
        finally:
            keeper.close()

    got = asyncio.run(run())
    assert any(done.alert_keys for done in got)
    assert got == expected
