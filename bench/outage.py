"""ClickHouse writes failing for 60 s while events flow: the worker backs off and stops taking
messages (its memory stays flat), nothing valid reaches the DLQ, and it catches up afterwards.

    python -m bench.outage [--events 30000] [--outage 60]

The fault switch sits at the store boundary (harness/faults.py): the embedded engine cannot be stopped
on its own, so every insert fails as ClickHouse's "connection refused" for the outage's length.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import threading
import time
from pathlib import Path

from harness.processes import rss_mb
from pipeline.broker import LocalBroker
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.store import open_store
from pipeline.store.base import scalar
from pipeline.store.tables import DLQ
from streams.demo import feed_and_wait

from harness.faults import Outage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--outage", type=float, default=60.0)
    args = parser.parse_args()
    workload = generate(args.events, seed=17, malformed=args.events // 200)
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(log=Path(tmp) / "broker.log") as broker:
        settings = Settings(data_dir=Path(tmp) / "cx", app_id="bench-outage", flush_seconds=0.5).for_local_broker(broker.bootstrap)
        store = open_store(settings)
        down = Outage(store, seconds=args.outage)
        samples: list[tuple[float, float]] = []  # (seconds since start, RSS MB)
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while not stop.wait(0.5):
                samples.append((time.monotonic() - started, rss_mb()))

        threading.Thread(target=sample, daemon=True).start()
        before = rss_mb()
        result = asyncio.run(feed_and_wait(settings, down, workload.lines, stall_timeout=args.outage + 120, until_live=False))
        stop.set()
        total = time.monotonic() - started
        dlq = scalar(store, f"SELECT count() FROM {DLQ}")
        landed = scalar(store, "SELECT count() FROM cx.v_touchpoints") + scalar(store, "SELECT count() FROM cx.v_reviews")
        store.close()
    first = down.first_refusal - started
    end = first + args.outage
    during = [mb for t, mb in samples if first <= t <= end]
    after = [mb for t, mb in samples if t > end]
    print(f"outage: every ClickHouse insert refused for {args.outage:.0f} s while {result.fed.total} events were fed")
    print(f"  inserts refused and retried    {down.refused}")
    print(f"  valid events landed            {landed} of {result.fed.touchpoints + result.fed.reviews}")
    print(f"  DLQ rows                       {dlq} (= the {result.fed.invalid} malformed lines fed; 0 valid events)")
    print(f"  outage began after             {first:.1f} s (first insert)")
    print(f"  caught up after the outage     {total - end:.1f} s (all landed {total:.1f} s after the start)")
    print(f"  RSS before / start of outage / end of outage / peak after:"
          f" {before:.0f} / {during[0] if during else 0:.0f} / {during[-1] if during else 0:.0f} / {max(after, default=0):.0f} MB")
    print(f"  process peak RSS (ru_maxrss)   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
