"""Chaos run: `cx worker` killed with SIGKILL at random points while generated events flow, restarted
each time; then every figure that says whether anything was lost or doubled.

    python -m bench.chaos [--events 100000] [--kills 10]

The harness is `harness.chaos`; the CI test (tests/test_chaos.py) runs it with 12,000 events and 6 kills.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from bench.common import work_dir
from harness.chaos import run_chaos
from pipeline.broker import LocalBroker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (worker and broker logs)")
    args = parser.parse_args()
    with work_dir(args.keep) as workdir, LocalBroker(log=workdir / "broker.log") as broker:
        result = run_chaos(broker.bootstrap, workdir, args.events, args.kills, args.seed)
    print("chaos run: `cx worker` killed with SIGKILL at random points, restarted each time")
    for name, value in asdict(result).items():
        print(f"  {name:24} {value}")


if __name__ == "__main__":
    main()
