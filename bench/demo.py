"""The demo on a generated replay, as a user runs it: events per second including start-up, CPU and memory.

    python -m bench.demo [--events 200000] [--seed 7] [--keep DIR]

Runs `cx generate --events N --seed S`, then `cx demo --input` on that file in a fresh data directory,
and prints the demo's own wall time (start to every event landed, every touchpoint in its case and
the clock caught up: the report's "wall time"), the whole process's, the CPU all its processes used
and the largest one's peak resident memory. Goal (throughput issue): >= 4,000 events/s on 200,000
events, start-up included. This machine's speed drifts by about 10% within minutes: compare builds
in alternating runs, not one run against a figure.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import time
from pathlib import Path

from bench.common import work_dir
from harness.processes import CX
from pipeline.report import WALL_TIME

GOAL = 4_000  # events/s, start-up included
WALL = re.compile(rf"^\| {re.escape(WALL_TIME)} \| ([0-9.]+) s", re.MULTILINE)  # the report's row


def run_demo(events: int, seed: int, workdir: Path) -> dict[str, float]:
    """Generate the replay, run the demo on it; its figures (seconds, events/s, cpu-s, peak MiB)."""
    replay = workdir / "replay.jsonl"
    generate = [CX, "generate", "--events", str(events), "--seed", str(seed), "--out", str(replay)]
    subprocess.run(generate, check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_DATA_DIR": str(workdir / "cx"), "CX_REPORT_PORT": "off",
    }  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(workdir / "demo.log", "w") as log:
        subprocess.run([CX, "demo", "--input", str(replay)], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    whole = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the demo and every process it waited for
    found = WALL.search((workdir / "cx" / "report.md").read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f"no wall time in {workdir / 'cx' / 'report.md'}")
    seconds = float(found.group(1))
    return {
        "seconds": seconds,
        "rate": events / seconds,
        "whole": whole,
        "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak_mib": after.ru_maxrss / 1024,  # kilobytes on Linux: the largest single process
    }


def main() -> None:
    """Run the demo once and print its figures against the goal."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="keep the replay, the demo's log and its data here")
    args = ap.parse_args()
    with work_dir(args.keep) as workdir:
        r = run_demo(args.events, args.seed, workdir)
    verdict = "met" if r["rate"] >= GOAL else "not met"
    print(f"cx demo --input, {args.events:,} generated events (seed {args.seed}), {os.cpu_count()} cores")
    print(f"  demo's wall time   {r['seconds']:7.1f} s  -> {r['rate']:,.0f} events/s (goal >= {GOAL:,}: {verdict})")
    print(f"  whole process      {r['whole']:7.1f} s  (the report and page after the run included)")
    print(f"  CPU, all processes {r['cpu']:7.1f} s  = {r['cpu'] / r['whole']:.2f} cores on average")
    print(f"  peak RSS           {r['peak_mib']:7.0f} MiB (the largest process)")


if __name__ == "__main__":
    main()
