"""Case state in a Faust table keyed by case_id, SLA deadlines fired by a timer on the stream clock.

Validated touchpoints arrive on the internal `cx.case-events` topic on their case's partition,
packed (one message per partition per landing batch), with their sentiment, so text is scored once.
Each batch: apply -> publish breaches -> write responses, alerts and case rows -> store the states
-> ack. A timer fires deadlines that pass while no events arrive (live: the wall clock; replay:
the watermark) and removes closed cases once they have been quiet for CX_CASE_EVICT_AFTER.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import faust
from faust.types import TP

from pipeline.broker.topics import BREACHES, CASE_EVENTS
from pipeline.cases.book import CaseBook, Outcome, StreamClock
from pipeline.cases.state import CaseRecord, CaseState
from pipeline.config import Settings
from pipeline.landing import read_case_events
from pipeline.sla.policy import load_policy
from pipeline.store.tables import ALERTS, CASES, RESPONSES
from streams.sink import Progress, Sink
from streams.topics import keep_unacked, raw_topic, unread_after

log = logging.getLogger("cx.cases")
STATUS_SECONDS = 30.0  # how often the worker logs the size of its case table


def register_cases(app: faust.App, settings: Settings, sink: Sink, progress: Progress) -> None:
    """Declare the case table, agent and timer (the landing agents forward touchpoints to `cx.case-events`)."""
    policy = load_policy(settings.sla_policy)
    hours = policy.business_hours
    this_year = datetime.now(UTC).year
    if hours.holidays and not hours.holidays_cover(this_year):
        log.warning("the SLA policy lists no public holidays for %d: business-hour waits count them as workdays", this_year)
    topic = raw_topic(app, settings, CASE_EVENTS)
    # The table holds CaseRecord objects in memory; `settle` writes their JSON to the changelog
    # itself, through the batching output producer (Faust's send per table write was ~12% of the
    # worker thread, py-spy), on the partition the raw key hashes to: the case id's hash, which
    # also places the case feed's packs, so a case's state and its events share a partition number
    # (and a worker) when several workers split the load.
    table = app.Table("cases", default=None, partitions=settings.partitions, use_partitioner=True, key_type=bytes)

    def record(stored: CaseRecord | dict) -> CaseRecord:
        # What this worker wrote is a CaseRecord; what it restored from the changelog Faust decodes
        # with the changelog topic's own codec (JSON), as a dict, until the case is written again.
        return stored if isinstance(stored, CaseRecord) else CaseRecord.model_validate(stored)

    def load(case_id: str) -> CaseState | None:
        stored = table.get(case_id.encode())
        return record(stored).state if stored else None

    def case_partitions(tps: set) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == topic.get_topic_name()}

    applied: dict[int, int] = {}  # case-events partition -> offset of the last event applied

    def behind(partition: int) -> bool:
        # Events on the partition not applied yet (its high watermark, from the last fetch, is past
        # the last one applied): the stream is stalled or catching up, so the partition is not idle.
        # Nothing applied yet since the partition came: the clock's start-up grace decides.
        return partition in applied and unread_after(app, TP(topic.get_topic_name(), partition), applied[partition]) > 0

    clock = StreamClock(settings.clock, lateness=policy.lateness, behind=behind)
    book = CaseBook(policy, load, clock, settings.case_settle_after, settings.case_evict_after)
    lock = asyncio.Lock()

    async def rebuild() -> None:
        # After a restart or rebalance the table is restored from its changelog; the index is not.
        # Only partitions this worker now owns: another worker fires the deadlines of the rest.
        owned = case_partitions(app.consumer.assignment())
        records = [record(v) for v in table.values() if v]
        cases = [(r.partition, r.state) for r in records if r.partition in owned]
        book.rebuild(cases)
        clock.own(owned)
        log.info("due index rebuilt from %d stored cases on partitions %s", len(cases), sorted(owned))

    table.on_recover(rebuild)

    @app.on_partitions_revoked.connect
    async def hand_over(sender: faust.App, revoked: set, **kwargs) -> None:
        # Faust has waited for the batches in flight; let a timer run in flight finish too: its
        # state changes are in the changelog once it releases the lock, for the partitions' next
        # owner (this worker too: it restores what it keeps) to read back. From then on this worker
        # leaves the revoked cases alone: their new owner fires their deadlines.
        async with lock:
            gone = case_partitions(revoked)
            book.forget(gone)
            for partition in gone:
                applied.pop(partition, None)

    async def settle(outcome: Outcome) -> None:
        if not outcome.updates and not outcome.evicted:
            return
        # Publish first, then write rows, then record the state. The broker must hold each breach
        # before the state says it was raised (a kill in between would leave a breach nobody hears
        # of: the restarted worker sees it as raised), and before its row: a stop that closes the
        # producer under a running tick then leaves neither notice nor row, and the restart
        # re-decides the case from the same state (rows written first were left without a notice).
        assert sink.output is not None
        breaches = [(a.case_id.encode(), a.model_dump_json().encode()) for a in outcome.alerts]
        await asyncio.gather(*await sink.output.send(BREACHES, breaches))
        rows: dict[str, list[dict]] = {}
        if outcome.responses:
            rows[RESPONSES] = [r.row() for r in outcome.responses]
        if outcome.alerts:
            rows[ALERTS] = [a.row() for a in outcome.alerts]
        if outcome.cases:
            rows[CASES] = list(outcome.cases.values())
        await sink.insert_rows(rows)
        # The changelog holds the states before the table does (and before the events are acked):
        # a failed send leaves both as they were, and the batch is taken again.
        stored = {c.encode(): CaseRecord(partition=p, state=state) for c, (p, state) in outcome.states.items()}
        changes = [(key, r.dump()) for key, r in stored.items()]
        changes += [(c.encode(), None) for c in outcome.evicted]  # tombstones: compaction drops the case
        await asyncio.gather(*await sink.output.send_to(table.changelog_topic.get_topic_name(), changes))
        table.data.update(stored)  # the store itself: the table's own `__setitem__` sends the record too
        for case_id in outcome.evicted:
            table.data.pop(case_id.encode(), None)
        book.commit(outcome)
        progress.cases_evicted += len(outcome.evicted)
        progress.case_updates += outcome.updates
        progress.alert_keys.update((a.alert_id, a.status) for a in outcome.alerts)

    @app.agent(topic, name="track_cases")
    async def track_cases(stream: faust.StreamT) -> None:
        # A message holds a landing batch's events for one partition: a take of one per partition
        # is about one landing batch (CX_BATCH_SIZE touchpoints) while the stream runs at full speed.
        async for events in stream.take_events(settings.partitions, within=settings.flush_seconds):
            batch = [(e.message.partition, c) for e in events for c in read_case_events(e.message.value)]
            try:
                async with lock:
                    for event in events:
                        applied[event.message.partition] = event.message.offset
                    await settle(book.on_events(batch))
                    progress.case_events += len(batch)
            except BaseException:
                keep_unacked(events)
                raise

    @app.timer(interval=settings.tick_seconds)
    async def fire_deadlines() -> None:
        if app.rebalancing:
            return  # which partitions are this worker's is being decided
        async with lock:
            live = all(clock.live(p) for p in book.due)
            await settle(book.on_tick())
            progress.ticks += 1
            progress.live_ticks += live

    @app.timer(interval=STATUS_SECONDS)
    async def report_size() -> None:
        log.info(
            "case table: %d cases held, %d evicted, %d touchpoints applied",
            len(table),
            progress.cases_evicted,
            progress.case_events,
        )
