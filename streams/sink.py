"""Write rows to ClickHouse and messages to output topics, retrying until they land."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pipeline.broker.topics import CASE_EVENTS, SCORED
from pipeline.broker.topics import DLQ as DLQ_TOPIC
from pipeline.identity import FirstUse, fingerprint, first_uses
from pipeline.landing import Landing, pack_case_events
from pipeline.store import RowRejected, Store, StoreError, StoreUnavailable
from pipeline.store.tables import DLQ
from streams.output import Output

log = logging.getLogger("cx.sink")
T = TypeVar("T")


@dataclass
class Progress:
    """Counters the worker exposes to whoever runs it in-process (the demo, tests, benches)."""

    landed: int = 0  # input messages through landing: written or dead-lettered
    landing_batches: int = 0
    largest_landing_batch: int = 0  # messages (CX_BATCH_SIZE live, up to CX_CATCH_UP_BATCH_SIZE behind)
    case_feed: int = 0  # touchpoints forwarded to the case stream
    case_events: int = 0  # touchpoints applied to case state
    case_takes: int = 0  # case-feed takes applied (one landing batch each live; several while behind)
    largest_case_take: int = 0  # touchpoints
    case_updates: int = 0  # case states changed (events and fired deadlines)
    cases_evicted: int = 0  # closed cases removed from the case table after their quiet period
    alerts_published: int = 0  # breach, recovery and retraction messages the broker took
    ticks: int = 0
    # Touchpoints handed to the case process when the latest tick that found every watched partition
    # on the wall clock went through (-1: none yet); its writes had landed when this was set.
    live_through: int = -1

    def caught_up(self, total: int) -> bool:
        """Whether `total` input messages landed, every touchpoint forwarded was applied to its case,
        and a tick on the wall clock went through after the last of them (what is overdue has fired)."""
        return self.landed >= total and self.case_events >= self.case_feed and self.live_through >= self.case_feed > 0


class Sink:
    """The one place the stream touches ClickHouse and the output topics."""

    def __init__(self, store: Store, output: Output | None, max_backoff: float = 30.0):
        self.store = store
        self.output = output
        self.max_backoff = max_backoff
        self.outage_retries = 0  # inserts retried because ClickHouse was away

    async def insert_rows(self, rows: Mapping[str, Sequence[dict]]) -> None:
        """Insert rows per table; returns only when each row is written or dead-lettered with a reason.
        An outage is waited out (the offsets behind the batch stay uncommitted, and the agent, blocked
        here, stops taking messages); only rows ClickHouse refuses as data go to the DLQ."""
        for table, batch in rows.items():
            try:
                await self._retrying(table, batch)
                continue
            except RowRejected as exc:
                log.warning("ClickHouse refused a row of %s (%d in the batch), trying one by one: %s", table, len(batch), exc)
            rejected = []
            for row in batch:
                try:
                    await self._retrying(table, [row])
                except RowRejected as exc:
                    rejected.append(rejected_row(table, row, str(exc)))
            if rejected:
                log.error("%d rows for %s dead-lettered: %s", len(rejected), table, rejected[0]["reason"])
                await self._retrying(DLQ, rejected)

    async def _retrying(self, table: str, batch: Sequence[dict]) -> None:
        """Insert, waiting out anything but a refused row (raised as RowRejected)."""
        await self._outlasting(table, self.store.insert, table, batch)

    async def first_uses(self, table: str, ids: Sequence[str]) -> Mapping[str, FirstUse]:
        """The first landed content of each id (see `pipeline.identity`), waiting out an outage."""
        return await self._outlasting(table, first_uses, self.store, table, ids)

    async def _outlasting(self, table: str, call: Callable[..., T], *args) -> T:
        """Run a store call in a thread until it succeeds; only RowRejected gives up."""
        backoff = 0.5
        while True:
            try:
                return await asyncio.get_running_loop().run_in_executor(None, call, *args)
            except RowRejected:
                raise
            except StoreError as exc:
                # An outage, or a failure we cannot place: never a reason to dead-letter good data.
                kind = "unavailable" if isinstance(exc, StoreUnavailable) else "failed"
                log.error("ClickHouse %s for %s, retrying in %.1fs: %s", kind, table, backoff, exc)
                self.outage_retries += 1
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff, backoff * 2)

    async def write(self, landing: Landing, marks: bytes | None = None) -> None:
        """Land every row, then publish dead letters, scores and the case feed (with `marks`, landing's
        report of its input partitions, on every partition), and wait until the broker holds them
        all: only then may the batch be acked (a send is only buffered, and an acked batch whose case
        feed is lost would never reach its cases)."""
        await self.insert_rows(landing.rows)
        assert self.output is not None, "a sink without output topics only inserts rows"
        sent = await self.output.send(DLQ_TOPIC, [(None, _encode(m)) for m in landing.dead_letters])
        sent += await self.output.send(SCORED, [((m.get("case_id") or m["id"]).encode(), _encode(m)) for m in landing.scored])
        sent += await self.output.send_packed(CASE_EVENTS, landing.case_feed, pack_case_events, marks)
        await asyncio.gather(*sent)


def rejected_row(table: str, row: dict, reason: str) -> dict:
    """A `cx.dlq` row for a row ClickHouse refused; rows without a Kafka position get a content hash."""
    payload = json.dumps(row, ensure_ascii=False, default=str, sort_keys=True)
    offset = row.get("kafka_offset")
    if offset is None:
        offset = fingerprint(payload.encode())
    return {
        "source_topic": f"clickhouse:{table}",
        "kafka_partition": row.get("kafka_partition", 0),
        "kafka_offset": offset,
        "reason": f"ClickHouse refused the row: {reason}"[:2000],
        "payload": payload,
    }


def _encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=False, default=str).encode("utf-8")
