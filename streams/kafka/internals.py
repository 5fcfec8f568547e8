"""The one door to Faust's and aiokafka's internals: every member the engine uses that is not their
public API, listed with the signature it has in the pinned releases and checked when a worker starts.

Faust has no public hooks for what the worker needs here: handing a fetch's messages over whole
(the consumer's read offsets and offset gaps), the log end and fetch time of a partition (the
aiokafka consumer inside Faust's consumer thread), writing the case table's store without a second
changelog send, and table recovery that reads each changelog's end from its records (Tansu reports
a multi-record batch as one offset). An upgrade that renames or reshapes one of these fails at
start-up with `EngineMismatch` naming the member, never silently mid-stream.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections import Counter
from collections.abc import MutableMapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import aiokafka
import faust
from faust import stores
from faust.stores.memory import Store as MemoryStore
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustAIOKafkaConsumer
from faust.types import TP
from faust.types.transports import ConsumerT

from pipeline.broker.offsets import end_offsets
from pipeline.errors import CxError

log = logging.getLogger(__name__)

# The releases the members below were read from (pinned in pyproject.toml).
BUILT_AGAINST = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


class EngineMismatch(CxError, RuntimeError):
    """The installed Faust or aiokafka lacks a member the engine uses, or has it in another shape:
    install the versions pinned in pyproject.toml (or adapt `streams/kafka/internals.py` to the new one)."""


@dataclass(frozen=True)
class Member:
    """A member of a Faust or aiokafka class the engine uses, and the shape it must have."""

    owner: type
    name: str
    params: tuple[str, ...] | None  # a method's parameter names; None: an attribute (declared, or set when built)
    why: str

    @property
    def qualified(self) -> str:
        """`module.Class.member`, as an error names it."""
        return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"

    def problem(self) -> str | None:
        """What is wrong with the member in the installed release, or None."""
        if self.params is None:
            mro = self.owner.__mro__
            declared = any(self.name in vars(c) or self.name in vars(c).get("__annotations__", {}) for c in mro)
            inits = [inspect.getsource(vars(c)[f]) for c in mro for f in ("__init__", "__post_init__") if inspect.isfunction(vars(c).get(f))]
            assigned = any(f"self.{self.name} " in s or f"self.{self.name}:" in s for s in inits)
            return None if declared or assigned else "is neither declared nor set by __init__ or __post_init__"
        found = getattr(self.owner, self.name, None)
        if found is None:
            return "is gone"
        params = tuple(inspect.signature(found).parameters)
        return None if params == self.params else f"takes {params}, not {self.params}"


MEMBERS: tuple[Member, ...] = (
    Member(FaustConsumer, "_read_offset", None, "the offset read last per partition: messages read before a seek are dropped"),
    Member(FaustConsumer, "_add_gap", ("self", "tp", "offset_from", "offset_to"), "offsets with no message, so commits can pass them"),
    Member(FaustAIOKafkaConsumer, "_thread", None, "the thread that owns the aiokafka consumer"),
    Member(AIOKafkaConsumerThread, "_ensure_consumer", ("self",), "the aiokafka consumer: a partition's log end and fetch time"),
    Member(Recovery, "_build_highwaters", ("self", "consumer", "tps", "destination", "title"), "the changelog ends recovery reads to"),
    Member(Recovery, "_highwater_logtable", ("self", "highwaters", "title"), "the recovery log's table of ends"),
    Member(TableManager, "_update_channels", ("self",), "registers the changelog channels before recovery"),
    Member(TableManager, "_recovery", None, "the recovery service the manager creates on first use"),
    Member(MemoryStore, "_key_partition", None, "the changelog partition of each key the store restored"),
)


def check(members: Sequence[Member] = MEMBERS) -> None:
    """Raise `EngineMismatch` naming every member that changed; warn when the versions differ but all fit."""
    installed = {"faust-streaming": faust.__version__, "aiokafka": aiokafka.__version__}
    problems = _problems(tuple(members))
    if problems:
        raise EngineMismatch(
            f"installed {_versions(installed)}, built against {_versions(BUILT_AGAINST)}: " + "; ".join(problems)
        )
    if installed != BUILT_AGAINST:
        log.warning("installed %s, built against %s; every internal member used still fits", _versions(installed), _versions(BUILT_AGAINST))


@functools.cache
def _problems(members: tuple[Member, ...]) -> list[str]:
    # Once per process: `cx worker` checks before anything starts, and `run_worker` for every other caller.
    return [f"{m.qualified} {p} (used for: {m.why})" for m in members if (p := m.problem())]


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def read_offsets(consumer: FaustConsumer) -> MutableMapping[TP, int | None]:
    """The consumer's read offset per partition (Faust's own record, updated in place)."""
    return consumer._read_offset


async def add_gap(consumer: FaustConsumer, tp: TP, start: int, end: int) -> None:
    """Note offsets `start`..`end` of `tp` as holding no message, so the commit can pass them."""
    await consumer._add_gap(tp, start, end)


def kafka_consumer(consumer: FaustAIOKafkaConsumer) -> aiokafka.AIOKafkaConsumer:
    """The aiokafka consumer inside Faust's consumer thread."""
    return consumer._thread._ensure_consumer()


def table_store(table: faust.Table) -> MutableMapping[bytes, Any]:
    """The table's local store: written directly once the changelog holds the records (a table's
    own `__setitem__` would send each record to the changelog a second time)."""
    return table.data


def table_holds(table: faust.Table, partition: int, offset: int) -> None:
    """The table's store holds its changelog partition up to `offset` (written by this worker): the
    next recovery goes on after it instead of reading this worker's own records back."""
    store = table.data
    if isinstance(store, ResumingStore):
        store.holds(TP(table.changelog_topic.get_topic_name(), partition), offset)


class ChangelogRecovery(Recovery):
    """Faust's recovery, with the changelogs' end offsets read from their last records."""

    async def _build_highwaters(self, consumer: ConsumerT, tps: Set[TP], destination: Counter[TP], title: str) -> None:
        bootstrap = ",".join(f"{url.host}:{url.port}" for url in self.app.conf.broker_consumer)
        ends = await end_offsets(bootstrap, tps)
        # Faust's highwater is the last offset (its recovery reads until it has applied it).
        highwaters = {TP(tp.topic, tp.partition): end - 1 for tp, end in ends.items()}
        self.log.info("Highwater for %s changelog partitions:\n%s", title, self._highwater_logtable(highwaters, title=title))
        destination.clear()
        destination.update(highwaters)


class ResumingStore(MemoryStore):
    """Faust's memory store, remembering how far it has read each changelog partition, so that the
    recovery after a rebalance resumes there. Faust's own forgets: every partition that comes back,
    or that turns from standby to active, is read again from the start of its changelog (seconds per
    thousand records on a loaded machine, while the whole group waits), and it drops the standby
    partitions' state after each recovery. Partitions neither active nor standby are dropped, with
    how far they were read."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._read_to: dict[TP, int] = {}

    def apply_changelog_batch(self, batch, to_key, to_value) -> None:
        """Apply restored records and note the last offset applied per partition."""
        events = list(batch)
        super().apply_changelog_batch(events, to_key, to_value)
        for event in events:
            self.holds(event.message.tp, event.message.offset)

    def holds(self, tp: TP, offset: int) -> None:
        """The store holds `tp`'s changelog up to `offset`: the owner wrote it there and here."""
        if offset > self._read_to.get(tp, -1):
            self._read_to[tp] = offset

    def persisted_offset(self, tp: TP) -> int | None:
        """The last offset applied from `tp` (recovery goes on after it), None if not read."""
        return self._read_to.get(tp)

    async def on_recovery_completed(self, active_tps: Set[TP], standby_tps: Set[TP]) -> None:
        """Keep the active and standby partitions' state; drop the rest."""
        kept = {tp.partition for tp in (*active_tps, *standby_tps)}
        gone = [key for key, partition in self._key_partition.items() if partition not in kept]
        for key in gone:
            self.data.pop(key, None)
            self._key_partition.pop(key, None)
        for tp in [tp for tp in self._read_to if tp.partition not in kept]:
            del self._read_to[tp]


# The table's store URL scheme: `app.Table(..., store=RESUMING_STORE)`.
RESUMING_STORE = "cx-resuming://cases"  # a host: a URL with none is falsy, and Faust would take its default store
stores.STORES.aliases["cx-resuming"] = f"{__name__}:ResumingStore"


class CaseTableManager(TableManager):
    """Faust's table manager with `ChangelogRecovery`, started without Faust's 1 s wait."""

    async def on_start(self) -> None:
        """Register the changelog channels and start recovery."""
        # Faust sleeps 1 s first so that agents starting late can still declare tables; the case
        # table is declared with the app, and the worker's start-up (the group join waits on this)
        # is 1 s shorter.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    @property
    def recovery(self) -> Recovery:
        """The recovery service (created on first use, as Faust's own)."""
        if self._recovery is None:
            self._recovery = ChangelogRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
