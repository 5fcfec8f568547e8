"""Event -> queryable: how long after it is produced an event can be read in ClickHouse, at a steady rate.

Run: .venv/bin/python -m bench.freshness [--rate 350] [--seconds 60]

Generated events are produced at `--rate` events/s (the issue's goal is judged at half the stream's
maximum: `python -m bench.stages --stream` measures that). For every touchpoint and review, the delay
is from the moment it was handed to the producer to its row's `ingested_at` (ClickHouse's clock when
the insert ran, so the row is readable from then on); p50, p99 and max are printed. Goal: p99 <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import pct
from pipeline.broker import LocalBroker
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.store import exit_without_teardown, open_store
from streams.runner import group_settled, run_worker
from streams.sink import Progress


def paced(lines: list[str], rate: float, sent_at: dict[str, float]) -> Iterator[str]:
    """The lines at `rate` per second, noting when each event's line was handed over."""
    started = time.time()
    for n, line in enumerate(lines):
        wait = started + n / rate - time.time()
        if wait > 0:
            time.sleep(wait)
        data = json.loads(line)
        sent_at[data.get("event_id") or data["review_id"]] = time.time()
        yield line


def delays(settings: Settings, lines: list[str], rate: float) -> list[float]:
    """Seconds from produce to `ingested_at`, per event, sorted."""
    from pipeline.produce import produce_lines

    store = open_store(settings)
    sent_at: dict[str, float] = {}
    progress = Progress()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        feed: list[asyncio.Future] = []

        async def until(app) -> bool:
            if not feed and group_settled(app):
                feed.append(loop.run_in_executor(None, produce_lines, settings, paced(lines, rate, sent_at)))
            return bool(feed) and feed[0].done() and progress.landed >= feed[0].result().total

        await run_worker(settings, store, until=until, poll=0.05, handle_signals=False, progress=progress)

    asyncio.run(run())
    _, rows = store.query(
        "SELECT event_id, toUnixTimestamp64Milli(min(ingested_at)) FROM cx.touchpoints GROUP BY event_id "
        "UNION ALL SELECT review_id, toUnixTimestamp64Milli(min(ingested_at)) FROM cx.reviews GROUP BY review_id"
    )
    return sorted(ms / 1000 - sent_at[event_id] for event_id, ms in rows if event_id in sent_at)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=350.0, help="events/s produced (default: half of ~700/s)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    lines = generate(int(args.rate * args.seconds), seed=11).lines
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        settings = Settings(data_dir=Path(tmp), app_id="bench-freshness").for_local_broker(broker.bootstrap)
        found = delays(settings, lines, args.rate)
    print(f"event -> queryable at {args.rate:,.0f} events/s for {args.seconds:.0f} s, n={len(found)}/{len(lines)}: "
          f"p50 {pct(found, 0.5):.2f} s, p99 {pct(found, 0.99):.2f} s, max {found[-1]:.2f} s (goal p99 <= 2 s)")  # fmt: skip


if __name__ == "__main__":
    main()
    exit_without_teardown()  # the embedded store's shutdown can crash a finished run
