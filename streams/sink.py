"""Write a batch's rows to ClickHouse and its messages to output topics, retrying until it lands."""

from __future__ import annotations

import asyncio
import json
import logging

import faust

from pipeline.landing import Landing
from pipeline.store import Store, StoreError

log = logging.getLogger("cx.sink")


class Sink:
    """The one place the stream touches ClickHouse and the output topics."""

    def __init__(self, store: Store, dlq: faust.TopicT, scored: faust.TopicT, max_backoff: float = 30.0):
        self.store = store
        self.dlq = dlq
        self.scored = scored
        self.max_backoff = max_backoff

    async def write(self, landing: Landing) -> None:
        """Land every row, then publish; returns only when all of it is written."""
        loop = asyncio.get_running_loop()
        for table, rows in landing.rows.items():
            backoff = 0.5
            while True:
                try:
                    await loop.run_in_executor(None, self.store.insert, table, rows)
                    break
                except StoreError as exc:
                    # Never skip a batch: the offsets behind it stay uncommitted while we retry.
                    log.error("insert into %s failed (%d rows), retrying in %.1fs: %s", table, len(rows), backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(self.max_backoff, backoff * 2)
        for message in landing.dead_letters:
            await self.dlq.send(value=_encode(message))
        for message in landing.scored:
            await self.scored.send(key=(message.get("case_id") or message["id"]).encode(), value=_encode(message))


def _encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=False, default=str).encode("utf-8")
