"""Table recovery that reads each changelog to its true end, whatever the broker reports as the end.

Faust restores a table by reading its changelog up to the end offsets the broker reports. Tansu
reports a multi-record batch as one record (see `pipeline.broker.offsets`), so a restarted worker
stopped early and lost the case states of the last batches; the ends are read from the records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP
from faust.types.transports import ConsumerT

from pipeline.broker.offsets import end_offsets


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
