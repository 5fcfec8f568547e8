"""The pure landing work of a batch (parse, validate, text analysis, rows) on other cores.

The worker process holds the embedded store, the broker connections and the case state; what a
batch needs from them (the first use of each id it names) is looked up there first and handed over,
so the worker processes do pure work only. With `processes=0` the same function runs in a thread of
the worker process.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import orjson

from pipeline.children import start_now, worker_processes
from pipeline.events.models import ID_MAX_LENGTH
from pipeline.identity import FirstUse
from pipeline.landing import Landing, Message, land_reviews, land_touchpoints
from pipeline.store.tables import EVENT_IDS, REVIEWS, TOUCHPOINTS

# Input table -> (landing function, the id field of its events).
SOURCES = {TOUCHPOINTS: (land_touchpoints, "event_id"), REVIEWS: (land_reviews, "review_id")}

Lookup = Callable[[str, Sequence[str]], Awaitable[Mapping[str, FirstUse]]]


class UnlookedIds(Exception):
    """A validated id that was not among the ids looked up before the batch went to a worker process."""

    def __init__(self, ids: list[str]):
        super().__init__(ids)
        self.ids = ids


def default_processes() -> int:
    """One worker process per core beyond the one the stream itself keeps busy."""
    return max(1, (os.cpu_count() or 1) - 1)


def candidate_ids(messages: Sequence[Message], field: str) -> list[str]:
    """The ids the messages name, read without validation (as validation will strip them); only
    forms an id can take (hostile input names others, and a lookup must not choke on them)."""
    ids = set()
    for msg in messages:
        try:
            value = _json_object(msg.value).get(field)
        except (ValueError, AttributeError, RecursionError):
            continue  # not a JSON object: it will be dead-lettered, no id to look up
        if isinstance(value, str):
            ids.update(form for form in (value, value.strip()) if _could_be_id(form))
    return sorted(ids)


def _json_object(value: bytes) -> object:
    # orjson reads strict UTF-8 JSON ~3x faster (this runs in the worker's own thread, on every
    # message); what it refuses (other encodings, NaN, lone surrogates, deep nesting) is read as
    # before, so every id the standard library would find is still found.
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(value)


def _could_be_id(text: str) -> bool:
    if not 1 <= len(text) <= ID_MAX_LENGTH:
        return False
    try:
        text.encode("utf-8")  # a lone surrogate is no character: validation refuses it
    except UnicodeEncodeError:
        return False
    return True


def first_uses_in(landing: Landing, table: str) -> dict[str, FirstUse]:
    """The ids a landed (not yet written) batch records for `table`, as a lookup would return them."""
    return {
        row["id"]: FirstUse(row["content_hash"], row["kafka_topic"], row["kafka_partition"], row["kafka_offset"])
        for row in landing.rows.get(EVENT_IDS, ())
        if row["source"] == table
    }


def land_batch(table: str, messages: Sequence[Message], known: Mapping[str, FirstUse], looked_up: frozenset[str]) -> Landing:
    """Land a batch of `table`'s messages given the first uses of the ids it names."""
    land, _ = SOURCES[table]

    def first_uses(_table: str, ids: Sequence[str]) -> Mapping[str, FirstUse]:
        missing = [i for i in ids if i not in looked_up]
        if missing:
            raise UnlookedIds(missing)
        return known

    return land(messages, first_uses)


def _load_text() -> None:
    # Dictionaries and model, once per landing process.
    from pipeline.text import analyze

    analyze("预热")


class LandingPool:
    """Lands batches in `processes` worker processes (0: in a thread of this process; None: one per
    core but one)."""

    def __init__(self, processes: int | None = None):
        self.processes = processes = default_processes() if processes is None else processes
        self._executor: Executor
        if processes:
            self._executor = worker_processes(processes, _load_text)
        else:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="cx-landing")

    async def land(
        self, table: str, messages: Sequence[Message], lookup: Lookup, earlier: Mapping[str, FirstUse] | None = None
    ) -> Landing:
        """Land `messages` of `table`: their ids' first uses from `lookup` (ClickHouse) and `earlier`
        (batches landed but not written yet), then the pure work in a worker process."""
        loop = asyncio.get_running_loop()
        ids = candidate_ids(messages, SOURCES[table][1])
        while True:
            known = dict(await lookup(table, ids)) if ids else {}
            for event_id, first in (earlier or {}).items():
                known.setdefault(event_id, first)  # what ClickHouse holds came first
            try:
                return await loop.run_in_executor(self._executor, land_batch, table, messages, known, frozenset(ids))
            except UnlookedIds as exc:  # an id validation spelled differently: look it up too
                ids = sorted({*ids, *exc.ids})

    def start(self) -> list[Future]:
        """Start the worker processes now (loading takes a second or two) rather than on the first
        batches; the futures are done once each has loaded."""
        return [start_now(self._executor) for _ in range(max(1, self.processes))]

    def close(self) -> None:
        """Stop the worker processes (a batch still in one is not waited for: it is redelivered)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
