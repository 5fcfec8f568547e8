"""Events a second into Kafka through `cx ingest` (NDJSON batches over HTTP) beside `cx produce`'s way
(librdkafka straight to the broker) on the same events, alternated, on one local broker.

Run: .venv/bin/python -m bench.ingest [--events 100000] [--batch 500] [--connections 1,4] [--runs 3]

Each `cx ingest` run posts the events in batches of `--batch` over `--connections` concurrent
connections and counts a batch once its 200 came (the broker acknowledged every event in it);
`cx produce`'s way is `produce_lines`, the function `cx produce` runs, timed from its first send to
its last acknowledgement. Prints each run's events/s and the ratio to the `cx produce` run beside it.
Goal: >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from harness.processes import ingest_service
from pipeline.broker import LocalBroker, ensure_topics
from pipeline.config import Settings
from pipeline.generate import generate
from pipeline.produce import produce_lines

TOKEN = "bench-token"


async def post_all(url: str, batches: list[bytes], connections: int) -> None:
    """Post every batch, `connections` at a time; each must be answered 200 with all accepted."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120, limits=limits) as client:

        async def sender() -> None:
            while not queue.empty():
                batch = queue.get_nowait()
                answer = await client.post("/v1/touchpoints", content=batch)
                if answer.status_code != 200 or answer.json()["rejected"]:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")

        await asyncio.gather(*(sender() for _ in range(connections)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", default="1,4", help="comma-separated: one ingest run per value, per round")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = [ln for ln in generate(args.events * 2, seed=5).lines if '"event_id"' in ln][: args.events]
    batches = ["\n".join(lines[i : i + args.batch]).encode() for i in range(0, len(lines), args.batch)]
    connections = [int(c) for c in args.connections.split(",")]
    ratios: dict[int, list[float]] = {c: [] for c in connections}
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(log=Path(tmp) / "broker.log") as broker:
        produce_settings = Settings(topic_prefix="produce.").for_local_broker(broker.bootstrap)
        ingest_settings = Settings(topic_prefix="ingest.").for_local_broker(broker.bootstrap)
        ensure_topics(produce_settings)
        ensure_topics(ingest_settings)
        env = {"CX_INGEST_RATE_PER_SECOND": "10000000", "CX_INGEST_ACK_TIMEOUT": "120"}
        with ingest_service(broker.bootstrap, "ingest.", f"bench={TOKEN}", **env) as url:
            asyncio.run(post_all(url, batches[:2], 1))  # warm: connections, the producer's metadata
            print(f"{len(lines):,} touchpoints, NDJSON batches of {args.batch}:")
            for run in range(1, args.runs + 1):
                started = time.perf_counter()
                fed = produce_lines(produce_settings, lines)
                produce_rate = fed.touchpoints / (time.perf_counter() - started)
                print(f"  run {run}: cx produce {produce_rate:9,.0f} events/s")
                for c in connections:
                    started = time.perf_counter()
                    asyncio.run(post_all(url, batches, c))
                    rate = len(lines) / (time.perf_counter() - started)
                    ratios[c].append(rate / produce_rate)
                    print(f"         cx ingest, {c} connection{'s' if c > 1 else ''}: {rate:9,.0f} events/s ({rate / produce_rate:.2f} of cx produce)")
    for c, values in ratios.items():
        print(f"cx ingest / cx produce, {c} connection{'s' if c > 1 else ''}: median {statistics.median(values):.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
