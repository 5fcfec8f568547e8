"""What a running worker counts, for whoever runs it in-process (the demo, tests, benches)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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

    def add(self, counts: Mapping[str, int]) -> None:
        """Add a committed batch's counts (field name -> amount)."""
        for name, amount in counts.items():
            setattr(self, name, getattr(self, name) + amount)
