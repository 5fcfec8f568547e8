"""The same events, produced three ways, through the real stream: how many alerts each gives.

Run: .venv/bin/python -m bench.order [--events 6000] [--seed 7]

(a) keyed by case, as `cx produce` sends them; (b) without a key, each line to a partition picked at
random (a bridge that does not key by case), the backlog complete before the worker starts; (c) as
(b), but the worker reads one input partition's backlog before the others have anything (the skew of
a catch-up). Results are a function of the events: the three must give the same alerts. Prints the
alerts per status of each run and how many differ from (a).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

import faust

from harness.workloads import unkeyed
from pipeline.broker import LocalBroker, ensure_topics
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import produce_lines
from pipeline.store import empty_data_tables, exit_without_teardown, open_store
from streams.worker import run_worker
from streams.progress import Progress

ALERTS = "SELECT case_id, rule, status, toString(deadline) FROM cx.v_alerts"


def run(settings: Settings, store, total: int) -> set[tuple]:
    """A worker until every message landed and the clock went live after the last touchpoint; the alerts."""
    progress = Progress()

    async def done(app: faust.App) -> bool:
        return progress.caught_up(total)

    asyncio.run(run_worker(settings, store, until=done, poll=0.5, progress=progress))
    return {tuple(map(str, r)) for r in store.query(ALERTS)[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    lines = generate(args.events, seed=args.seed).lines
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(log=Path(tmp) / "broker.log") as broker:
        store = open_store(Settings(data_dir=Path(tmp) / "cx"))
        results = {}
        for name in ("keyed", "unkeyed", "skewed"):
            settings = Settings(topic_prefix=f"{name}.", app_id=f"order-{name}", flush_seconds=0.3).for_local_broker(broker.bootstrap)
            ensure_topics(settings)
            if name == "keyed":
                produce_lines(settings, lines)
            else:
                unkeyed(settings, lines, args.seed, first=0 if name == "skewed" else None)
            empty_data_tables(store)
            results[name] = run(settings, store, len(lines))
        store.close()
    base = results["keyed"]
    print(f"{args.events} generated events (seed {args.seed}), alerts by status per way of producing them:")
    for name, alerts in results.items():
        counts = Counter(a[2] for a in alerts)
        diff = len(alerts ^ base)
        print(f"  {name:8} {len(alerts):6} alerts {dict(sorted(counts.items()))}; differ from keyed: {diff}")
    exit_without_teardown()


if __name__ == "__main__":
    main()
