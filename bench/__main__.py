"""`make bench`: every benchmark, each in its own process (embedded ClickHouse allows one store per process)."""

import subprocess
import sys

BENCHES = ["bench.text", "bench.cases", "bench.notices"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHES:
        print(f"== {name}", flush=True)
        failed += subprocess.run([sys.executable, "-m", name]).returncode != 0
    sys.exit(1 if failed else 0)
