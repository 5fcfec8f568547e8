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
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustAIOKafkaConsumer
from faust.types import TP
from faust.types.transports import ConsumerT

from pipeline.broker.offsets import end_offsets

log = logging.getLogger(__name__)

# The releases the members below were read from (pinned in pyproject.toml).
BUILT_AGAINST = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


class EngineMismatch(RuntimeError):
    """The installed Faust or aiokafka lacks a member the engine uses, or has it in another shape:
    install the versions pinned in pyproject.toml (or adapt `streams/internals.py` to the new one)."""


@dataclass(frozen=True)
class Member:
    """A member of a Faust or aiokafka class the engine uses, and the shape it must have."""

    owner: type
    name: str
    params: tuple[str, ...] | None  # a method's parameter names; None: an attribute (declared, or set by `__init__`)
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
            inits = [inspect.getsource(c.__init__) for c in mro if "__init__" in vars(c) and inspect.isfunction(c.__init__)]
            assigned = any(f"self.{self.name} " in s or f"self.{self.name}:" in s for s in inits)
            return None if declared or assigned else "is neither declared nor set by __init__"
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
