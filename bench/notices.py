"""Breach notices: live delay from deadline to notice accepted, and notices/s through one subscriber.

Run: .venv/bin/python -m bench.notices [--live-cases 100] [--notices 2000]

1. Live: chat cases whose first-response deadline (60 s) falls in the next seconds and is never
   met, through the whole stream (Tansu -> landing -> case agent + timer -> cx.breaches ->
   notifier in its own group -> loopback webhook). Delay = endpoint accepted - deadline; goal p99 <= 2 s.
2. Throughput: the notice runner (dispatcher + HTTP sender + ClickHouse ledger) sending N breaches
   to one webhook subscriber, against a bare httpx loop posting the same number of bodies to the
   same endpoint (the ceiling: HTTP alone), measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiohttp import web

from pipeline.alerts import parse_subscribers
from pipeline.alerts.render import Renderer
from bench.common import pct
from harness.workloads import waiting_chat_case
from pipeline.broker import LocalBroker, free_port
from pipeline.cases.book import StreamClock
from pipeline.cases.rows import Alert, alert_id
from pipeline.config import Settings
from pipeline.delivery import Ledger, NoticeRunner, Sender
from pipeline.produce import produce_lines
from pipeline.store import exit_without_teardown, open_store
from streams.worker import group_settled, run_worker


class Endpoint:
    """A loopback webhook noting when each notice arrived."""

    def __init__(self):
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.arrived.setdefault(f"{body.get('case_id')}|{body.get('status')}", time.time())
        return web.Response(text="ok")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()


def _subscribers(url: str):
    return parse_subscribers(f"subscribers:\n  - {{name: hook, channel: webhook, url: '{url}', rate_limit_per_minute: 1000000}}\n", env={})


def live_delays(settings: Settings, store, endpoint: Endpoint, cases: int) -> list[float]:
    """Seconds from each deadline to its notice being accepted by the endpoint."""
    now = datetime.now(UTC)
    asked = [now - timedelta(seconds=50) + timedelta(seconds=20 * i / cases) for i in range(cases)]
    deadlines = {f"NLIVE-{i}|breach": a.timestamp() + 60 for i, a in enumerate(asked)}
    live = settings.model_copy(update={"clock": "wall", "topic_prefix": "nlive.", "app_id": "bench-notices"})
    sender = Sender(Renderer(None))
    notices = NoticeRunner(_subscribers(endpoint.url), sender, Ledger(store), StreamClock("wall"))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        fed: dict[str, object] = {}

        async def until(app) -> bool:
            if "f" not in fed and group_settled(app):
                fed["f"] = loop.run_in_executor(None, produce_lines, live, [waiting_chat_case("NLIVE", i, a) for i, a in enumerate(asked)])
            got = sum(1 for k in deadlines if k in endpoint.arrived)
            return got >= cases or time.time() > now.timestamp() + 100

        await run_worker(live, store, until=until, poll=0.05, notices=notices)

    asyncio.run(run())
    return sorted(endpoint.arrived[k] - d for k, d in deadlines.items() if k in endpoint.arrived)


def _alert(n: int) -> Alert:
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC) + timedelta(seconds=n)
    return Alert(
        alert_id=alert_id(f"B{n}", "first_response", at), case_id=f"B{n}", rule="first_response", status="breach",
        channel="chat", priority="normal", customer_id=f"U{n}", agent_id="A1", department="客服部",
        started_at=at - timedelta(seconds=60), deadline=at, detected_at=at, ended_at=None, waited_ms=60_000,
        limit_ms=60_000, event_id=None, detail="",
    )  # fmt: skip


def throughput(store, endpoint: Endpoint, n: int) -> tuple[float, float]:
    """(notices/s through the runner, bare HTTP posts/s) to the same endpoint."""
    alerts = [_alert(i) for i in range(n)]

    async def ours() -> float:
        runner = NoticeRunner(_subscribers(endpoint.url), Sender(Renderer(None)), Ledger(store), StreamClock("wall"))
        start = time.perf_counter()
        keys = []
        for i in range(0, n, 500):  # batches as the agent takes them
            keys += await runner.offer([(0, a) for a in alerts[i : i + 500]])
        while not all(runner.is_settled(k) for k in keys):
            runner.pump()
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
        await runner.close()
        return n / elapsed

    async def bare() -> float:
        body = json.dumps({"case_id": "x", "status": "bare"}).encode()
        async with httpx.AsyncClient() as client:
            start = time.perf_counter()
            for _ in range(n):
                (await client.post(endpoint.url, content=body)).raise_for_status()
            return n / (time.perf_counter() - start)

    return asyncio.run(ours()), asyncio.run(bare())


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--live-cases", type=int, default=100)
    parser.add_argument("--notices", type=int, default=2000)
    args = parser.parse_args()
    endpoint = Endpoint()
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        settings = Settings(data_dir=Path(tmp), flush_seconds=0.5).for_local_broker(broker.bootstrap)
        store = open_store(settings)
        ours, bare = throughput(store, endpoint, args.notices)
        delays = live_delays(settings, store, endpoint, args.live_cases)
    print(f"notices/s through one webhook subscriber (runner + ledger): {ours:8,.0f} /s  ({args.notices} notices)")
    print(f"bare HTTP posts/s to the same endpoint (ceiling):           {bare:8,.0f} /s")
    print(f"runner / bare:                                              {ours / bare:8.3f}")
    if delays:
        print(f"live: deadline -> notice accepted, n={len(delays)}/{args.live_cases}: "
              f"p50 {pct(delays, 0.5):.2f} s, p99 {pct(delays, 0.99):.2f} s, max {delays[-1]:.2f} s (goal p99 <= 2 s)")  # fmt: skip
    else:
        print("live: no notice arrived")


if __name__ == "__main__":
    main()
    exit_without_teardown()  # the embedded store's shutdown can crash a finished run
