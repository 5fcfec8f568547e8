"""`make bench`: every benchmark, each in its own process (embedded ClickHouse allows one store per process)."""

import subprocess
import sys

# bench.freshness twice: the latency goal at about half the maximum, the sustained-rate goal at 5,000/s.
BENCHES = [
    ["bench.stages", "--kafka", "--stream"],
    ["bench.text"],
    ["bench.cases"],
    ["bench.order"],
    ["bench.ingest"],
    ["bench.notices"],
    ["bench.freshness"],
    ["bench.freshness", "--rate", "5000", "--seconds", "40"],
    ["bench.demo"],
]

if __name__ == "__main__":
    failed = 0
    for args in BENCHES:
        print(f"== {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, "-m", *args]).returncode != 0
    sys.exit(1 if failed else 0)
