"""Write rows to ClickHouse, waiting out outages until they land; rows ClickHouse refuses go to the DLQ table."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pipeline.identity import FirstUse, fingerprint, first_uses
from pipeline.store import RowRejected, Store, StoreError, StoreUnavailable
from pipeline.store.tables import DLQ

log = logging.getLogger("cx.sink")
T = TypeVar("T")


class ClickHouseSink:
    """The one place the stream touches ClickHouse."""

    def __init__(self, store: Store, max_backoff: float = 30.0):
        self.store = store
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
