"""Rebalance storm: three `cx worker` processes joining and leaving a group while generated events
flow and a CPU burner competes for the cores; every event once, every breach once and told, and the
longest time any partition had unread events without progress.

    python -m bench.storm [--events 50000] [--changes 10] [--runs 1] [--seed 11] [--no-burner]

The harness is `harness.storm`; the CI test (tests/test_storm.py) runs a smaller storm.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from bench.common import work_dir
from harness.storm import run_storm
from pipeline.broker import LocalBroker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--feed-seconds", type=float, default=90.0, help="spread the feed over this long")
    parser.add_argument("--runs", type=int, default=1, help="storms in a row, seeds SEED, SEED + 1, ...")
    parser.add_argument("--seed", type=int, default=11, help="the first run's seed (it picks the joins and leaves)")
    parser.add_argument("--no-burner", action="store_true", help="without the CPU burner beside the workers")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (worker and broker logs)")
    args = parser.parse_args()
    for run in range(args.runs):
        keep = args.keep / f"run{run + 1}" if args.keep else None
        with work_dir(keep) as workdir, LocalBroker(log=workdir / "broker.log") as broker:
            result = run_storm(broker.bootstrap, workdir, args.events, args.changes, seed=args.seed + run,
                               feed_seconds=args.feed_seconds, burner=not args.no_burner)  # fmt: skip
        beside = "no CPU burner" if args.no_burner else "a CPU burner beside them"
        print(f"rebalance storm {run + 1}/{args.runs} (seed {args.seed + run}): three workers joining and leaving, {beside}")
        for name, value in asdict(result).items():
            print(f"  {name:22} {value}")


if __name__ == "__main__":
    main()
