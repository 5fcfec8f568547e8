"""Event -> queryable at a steady rate, and whether the stream keeps up with that rate.

Run: .venv/bin/python -m bench.freshness [--rate 2500] [--seconds 60]

Generated events are produced at `--rate` events/s by a producer process of their own (what
`cx produce` runs; on this machine it shares the cores with the stream, as a co-located producer
would). For every touchpoint and review, the delay is from the moment it was handed to the producer
to its row's `ingested_at` (ClickHouse's clock when the insert ran, so the row is readable from then
on); p50, p99 and max are printed. Goal: p99 <= 2 s at half the stream's maximum.

It also prints what the worker did while the feed ran: events landed per second and touchpoints
applied to their cases per second (the first tenth of the feed left out, so start-up is not counted),
each against the rate they were offered at, and how long after the last line was sent the last event
landed and the last touchpoint was applied. The stream keeps up with a rate (the throughput goal:
>= 5,000 events/s sustained on 2 cores) when both run at >= 97% of what was offered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.common import pct
from pipeline.broker import LocalBroker
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.store import exit_without_teardown, open_store
from streams.worker import group_settled, run_worker
from streams.progress import Progress

PACE = 0.005  # seconds: the producer sleeps only when the next line is due later than this
KEPT_UP = 0.97  # of the offered rate, landing and case state alike: the stream keeps up
LANDED, APPLIED = 1, 2  # columns of `Run.marks`


def paced(lines: list[str], rate: float, sent_at: list[float]) -> Iterator[str]:
    """The lines at `rate` per second, noting when each was handed over (in `sent_at`, in order)."""
    started = time.time()
    for n, line in enumerate(lines):
        wait = started + n / rate - time.time()
        if wait > PACE:  # lines due within PACE go at once: a sleep per line cost more than the line
            time.sleep(wait)
        sent_at.append(time.time())
        yield line


def feed(settings: Settings, lines: list[str], rate: float) -> list[float]:
    """Produce `lines` at `rate` (in a process of its own); when each line was handed over. Nothing
    else happens per line: the producer costs the shared cores what `cx produce` would."""
    from pipeline.produce import produce_lines

    sent_at: list[float] = []
    produce_lines(settings, paced(lines, rate, sent_at))
    return sent_at


@dataclass
class Run:
    """What one run measured."""

    delays: list[float]  # seconds from produce to `ingested_at`, per event, sorted
    first_sent: float  # when the first line was handed to the producer (seconds since the epoch)
    last_sent: float
    marks: list[tuple[float, int, int]]  # (time, landed, applied) every poll
    progress: Progress  # the worker's counters at the end

    @property
    def feed_seconds(self) -> float:
        """From the first line sent to the last."""
        return self.last_sent - self.first_sent

    def rate(self, column: int) -> float:
        """`column` (LANDED or APPLIED) per second over the feed, its first tenth left out (start-up)."""
        first, last = self.first_sent, self.last_sent
        window = [m for m in self.marks if first + (last - first) / 10 <= m[0] <= last]
        if len(window) < 2:
            return 0.0
        return (window[-1][column] - window[0][column]) / (window[-1][0] - window[0][0])

    def done_after(self, column: int, total: int) -> float:
        """Seconds from the last line sent until `column` reached `total` (inf: never)."""
        return next((mark[0] - self.last_sent for mark in self.marks if mark[column] >= total), float("inf"))


def _event_id(line: str) -> str:
    data = json.loads(line)
    return data.get("event_id") or data["review_id"]


def run(settings: Settings, lines: list[str], rate: float) -> Run:
    """Feed `lines` at `rate` to a worker and wait until every event landed and every touchpoint was applied."""
    store = open_store(settings)
    progress = Progress()
    marks: list[tuple[float, int, int]] = []
    producer = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))

    async def work() -> list[float]:
        fed: list[asyncio.Future] = []

        async def until(app) -> bool:
            marks.append((time.time(), progress.landed, progress.case_events))
            if not fed and group_settled(app):
                fed.append(asyncio.wrap_future(producer.submit(feed, settings, lines, rate)))
            return (
                bool(fed) and fed[0].done() and progress.landed >= len(lines) and progress.case_events >= progress.case_feed
            )

        await run_worker(settings, store, until=until, poll=0.05, progress=progress)
        return fed[0].result()

    with producer:
        sent = asyncio.run(work())
    sent_at = {_event_id(line): at for line, at in zip(lines, sent)}
    _, rows = store.query(
        "SELECT event_id, toUnixTimestamp64Milli(min(ingested_at)) FROM cx.touchpoints GROUP BY event_id "
        "UNION ALL SELECT review_id, toUnixTimestamp64Milli(min(ingested_at)) FROM cx.reviews GROUP BY review_id"
    )
    delays = sorted(ms / 1000 - sent_at[event_id] for event_id, ms in rows if event_id in sent_at)
    return Run(delays, sent[0], sent[-1], marks, progress)  # `sent` is in the order the lines went


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2500.0, help="events/s produced (default: about half the maximum)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    lines = generate(int(args.rate * args.seconds), seed=11).lines
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp, LocalBroker() as broker:
        settings = Settings(data_dir=Path(tmp), app_id="bench-freshness").for_local_broker(broker.bootstrap)
        found = run(settings, lines, args.rate)
    d = found.delays
    print(f"event -> queryable at {args.rate:,.0f} events/s for {args.seconds:.0f} s, n={len(d)}/{len(lines)}: "
          f"p50 {pct(d, 0.5):.2f} s, p99 {pct(d, 0.99):.2f} s, max {d[-1]:.2f} s (goal p99 <= 2 s)")  # fmt: skip
    worker = found.progress
    landed_rate, applied_rate = found.rate(LANDED), found.rate(APPLIED)
    landed = landed_rate / (len(lines) / found.feed_seconds)
    applied = applied_rate / (worker.case_feed / found.feed_seconds)
    print(f"  landed   {landed_rate:7,.0f} events/s ({landed:.0%} of the offered rate); "
          f"the last event {found.done_after(LANDED, len(lines)):.1f} s after the last line was sent")  # fmt: skip
    print(f"  applied  {applied_rate:7,.0f} touchpoints/s to their cases ({applied:.0%}); "
          f"the last {found.done_after(APPLIED, worker.case_feed):.1f} s after it")  # fmt: skip
    print(f"  landing batches {worker.landing_batches:,} (largest {worker.largest_landing_batch:,} events); "
          f"case takes {worker.case_takes:,} (largest {worker.largest_case_take:,} touchpoints)")  # fmt: skip
    kept_up = min(landed, applied) >= KEPT_UP
    print(f"  kept up with {args.rate:,.0f} events/s: {'yes' if kept_up else 'no'} (both >= {KEPT_UP:.0%}; "
          f"goal: yes at >= 5,000 events/s on 2 cores)")  # fmt: skip


if __name__ == "__main__":
    main()
    exit_without_teardown()  # the embedded store's shutdown can crash a finished run
