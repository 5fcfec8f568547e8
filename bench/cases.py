"""Case tracking speed and live breach detection delay, on the real stream.

Run: .venv/bin/python -m bench.cases [--events 20000] [--live-cases 200] [--keeper-events 100000]

1. The case process's work alone (`CaseKeeper`), with the worker's garbage collection and with the
   case process's own (by hand), alternating in the same run.
2. Case-state updates per second: the same generated touchpoints applied by the pure `CaseBook`
   in-process (baseline) and through the stream (Tansu -> landing agent -> case-events topic ->
   case agent + Faust table -> chdb). The ratio is the stream's cost per update.
3. Breach detection delay, live: chat cases whose first-response deadline (60 s) falls in the next
   seconds and is never met; the delay is from each deadline to the moment its breach row is
   readable in ClickHouse (polled every 50 ms), p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import pct
from harness.workloads import waiting_chat_case
from pipeline.broker import LocalBroker
from pipeline.cases import CaseState
from pipeline.cases.book import CaseBook, StreamClock
from pipeline.cases.keeper import CaseKeeper
from pipeline.cases.state import CaseEvent
from pipeline.config import Settings
from pipeline.events import Touchpoint, parse_touchpoint
from pipeline.gc_tuning import collect_by_hand, collect_if_due, collecting_less
from pipeline.generate import generate
from pipeline.cases.feed import case_event, pack_case_events
from pipeline.sla import load_policy
from pipeline.store import exit_without_teardown, open_store
from streams.worker import group_settled, run_worker
from streams.progress import Progress


def _touchpoint_lines(events: int) -> list[str]:
    return [ln for ln in generate(events, seed=99).lines if '"event_id"' in ln]


def baseline_updates_per_s(lines: list[str]) -> float:
    """The pure case logic alone, in arrival order, batches of 500."""
    events = [parse_touchpoint(ln) for ln in lines]
    states: dict[str, CaseState] = {}
    book = CaseBook(load_policy(), states.get, StreamClock("event"))
    started = time.perf_counter()
    for i in range(0, len(events), 500):
        batch = [(hash(e.case_id) % 4, CaseEvent.of(e)) for e in events[i : i + 500] if isinstance(e, Touchpoint)]
        outcome = book.on_events(batch)
        states.update({c: s for c, (_, s) in outcome.states.items()})
        book.commit(outcome)
    return len(events) / (time.perf_counter() - started)


def keeper_us_per_touchpoint(events: int, rounds: int = 2) -> dict[str, float]:
    """The case process's work alone (`CaseKeeper` on packed case-feed batches of 2,000 over 4
    partitions: decode, case update, rows, changelog JSON), µs per touchpoint, best of `rounds`,
    alternating the worker's garbage collection (`collecting_less`) with the case process's
    (`collect_by_hand`, a collection every 60 s)."""
    touchpoints = [e for e in map(parse_touchpoint, generate(events, seed=7).lines) if isinstance(e, Touchpoint)]
    by_partition: dict[int, list[bytes]] = {}
    takes = []
    for i, tp in enumerate(touchpoints, 1):
        by_partition.setdefault(zlib.crc32(tp.case_id.encode()) % 4, []).append(case_event(tp, 0.7 if tp.text else None))
        if i % 2000 == 0 or i == len(touchpoints):
            takes.append([(p, pack) for p, values in sorted(by_partition.items()) for pack in pack_case_events(values)])
            by_partition = {}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for how in ("automatic", "by hand"):
            gc.collect()
            with collecting_less():
                if how == "by hand":
                    collect_by_hand()
                keeper = CaseKeeper(load_policy(), clock="event")
                started = time.perf_counter()
                for packs in takes:
                    keeper.on_events(packs)
                    if how == "by hand":
                        collect_if_due()
                took = (time.perf_counter() - started) * 1e6 / len(touchpoints)
                gc.enable()
            best[how] = min(best.get(how, took), took)
    return best


def stream_updates_per_s(settings: Settings, store, lines: list[str]) -> tuple[float, float]:
    """Case updates/s through the whole stream, steady state: first to last touchpoint applied."""
    from pipeline.produce import produce_lines

    marks: dict[str, float] = {}
    progress = Progress()

    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def until(app) -> bool:
            done = progress.case_events
            if "fed" not in marks and group_settled(app):
                marks["fed"] = 1
                # Pre-load the topic, then let the worker drain it.
                await loop.run_in_executor(None, produce_lines, settings, lines)
            if done and "first" not in marks:
                marks["first"] = time.perf_counter()
            if done >= len(lines):
                marks["last"] = time.perf_counter()
                return True
            return False

        await run_worker(settings, store, until=until, poll=0.02, progress=progress)

    asyncio.run(run())
    seconds = marks["last"] - marks["first"]
    return len(lines) / seconds, seconds


def live_breach_delays(settings: Settings, store, cases: int) -> list[float]:
    """Seconds from each deadline to its breach row being readable."""
    now = datetime.now(UTC)
    # Deadlines spread over 5..25 s from now (first response on chat: 60 s).
    asked = [now - timedelta(seconds=55) + timedelta(seconds=20 * i / cases) for i in range(cases)]
    deadlines = {f"LIVE-{i}": a + timedelta(seconds=60) for i, a in enumerate(asked)}
    seen: dict[str, float] = {}
    live = settings.model_copy(update={"clock": "wall", "topic_prefix": "live.", "app_id": "bench-live"})

    async def run() -> None:
        from pipeline.produce import produce_lines

        loop = asyncio.get_running_loop()
        produced: dict[str, object] = {}

        async def until(app) -> bool:
            if "f" not in produced and group_settled(app):
                produced["f"] = loop.run_in_executor(None, produce_lines, live, [waiting_chat_case("LIVE", i, a) for i, a in enumerate(asked)])
            _, rows = store.query("SELECT case_id FROM cx.alerts WHERE rule = 'first_response' AND status = 'breach' AND case_id LIKE 'LIVE-%'")
            wall = time.time()
            for (case_id,) in rows:
                seen.setdefault(case_id, wall)
            return len(seen) >= cases or time.time() > now.timestamp() + 90

        await run_worker(live, store, until=until, poll=0.05)

    asyncio.run(run())
    return sorted(seen[c] - deadlines[c].timestamp() for c in seen)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--live-cases", type=int, default=200)
    parser.add_argument("--keeper-events", type=int, default=100_000)
    args = parser.parse_args()
    keeper = keeper_us_per_touchpoint(args.keeper_events)
    print(f"case process's work ({args.keeper_events:,} generated events), us/touchpoint: automatic garbage "
          f"collection {keeper['automatic']:.1f}, by hand {keeper['by hand']:.1f}, "
          f"ratio {keeper['by hand'] / keeper['automatic']:.3f}", flush=True)  # fmt: skip
    lines = _touchpoint_lines(args.events)
    base = baseline_updates_per_s(lines)
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        settings = Settings(data_dir=Path(tmp), app_id="bench-cases", flush_seconds=0.5).for_local_broker(broker.bootstrap)
        store = open_store(settings)
        rate, seconds = stream_updates_per_s(settings, store, lines)
        delays = live_breach_delays(settings, store, args.live_cases)
    print(f"case-state updates, pure CaseBook (baseline): {base:10,.0f} /s  ({len(lines)} touchpoints)")
    print(f"case-state updates, through the stream:       {rate:10,.0f} /s  ({seconds:.1f} s, first to last; landing and scoring included)")
    print(f"stream / baseline:                            {rate / base:10.3f}")
    if delays:
        print(f"live breach detection delay (deadline -> row readable), n={len(delays)}/{args.live_cases}: "
              f"p50 {pct(delays, 0.5):.2f} s, p99 {pct(delays, 0.99):.2f} s, max {delays[-1]:.2f} s")  # fmt: skip
    else:
        print("live breach detection: no breach rows seen")


if __name__ == "__main__":
    main()
    exit_without_teardown()  # the embedded store's shutdown can crash a finished run
