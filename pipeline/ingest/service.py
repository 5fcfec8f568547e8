"""`cx ingest`: an HTTP service that puts events on the input topics and answers only once the broker
holds them.

aiohttp serves it: already installed with Faust (no new dependency), asyncio-native like the rest of
the stream, and it enforces a body limit before reading a body whole.

- `POST /v1/touchpoints`, `POST /v1/reviews`: a JSON object, a JSON array or NDJSON. 200 with one
  entry per event (`accepted`, or `rejected` with the worker's reason) once the broker acknowledged
  every event sent; rejected events are sent too, so the worker dead-letters them into `cx.dlq`.
- `POST /v1/chatwoot`: one Chatwoot webhook payload, mapped to touchpoints (`pipeline.ingest.chatwoot`);
  with `CX_INGEST_CHATWOOT_SECRET` set, Chatwoot's signature is required too.
- Authentication per source: `Authorization: Bearer TOKEN`, or `?token=TOKEN` for senders that only
  take a URL; tokens from `CX_INGEST_TOKENS` (never logged). 401 otherwise.
- 413 over `CX_INGEST_MAX_BODY_BYTES`; 429 with `Retry-After` over a source's
  `CX_INGEST_RATE_PER_SECOND`; 503 with `Retry-After` when the broker does not acknowledge within
  `CX_INGEST_ACK_TIMEOUT` (resend the request: events are identified by their ids, so a resent one
  shows once in the views).
- `GET /healthz` (the process answers), `GET /readyz` (a broker answers), `GET /metrics`
  (Prometheus text: requests by source and status, events accepted, rejected and ignored).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from aiohttp import web

from pipeline.config import Settings
from pipeline.ingest import chatwoot
from pipeline.ingest.body import TOPICS, Event, Kind, judge, judge_body
from pipeline.ingest.producer import AckingProducer, NotAcknowledged

log = logging.getLogger("cx.ingest")
RETRY_AFTER_UNACKNOWLEDGED = 5  # seconds a client waits before resending what the broker did not take


def parse_tokens(spec: str) -> dict[str, str]:
    """`source=token,...` as token -> source; a malformed entry raises ValueError (naming the source, not the token)."""
    tokens: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        source, sep, token = entry.partition("=")
        if not sep or not source.strip() or not token.strip():
            raise ValueError(f"CX_INGEST_TOKENS: an entry is not source=token (source {source.strip()!r})")
        tokens[token.strip()] = source.strip()
    return tokens


@dataclass
class Bucket:
    """A source's allowance: `rate` events a second, up to one second's worth at once."""

    rate: float
    level: float = -1.0
    at: float = field(default_factory=time.monotonic)

    def take(self, events: int, now: float | None = None) -> float:
        """Take `events`; returns 0 if allowed, else the seconds to wait before asking again."""
        now = time.monotonic() if now is None else now
        if self.level < 0:
            self.level = self.rate
        self.level = min(self.rate, self.level + (now - self.at) * self.rate)
        self.at = now
        if events <= self.level:
            self.level -= events
            return 0.0
        # More than a second's worth at once waits for a full bucket, then goes.
        needed = min(events, self.rate) - self.level
        return max(needed / self.rate, 0.001)


class Ingest:
    """The service's state: its tokens, allowances, producer and counters."""

    def __init__(self, settings: Settings, producer: AckingProducer):
        self.settings = settings
        self.producer = producer
        self.tokens = parse_tokens(settings.ingest_tokens.get_secret_value()) if settings.ingest_tokens else {}
        self.buckets: dict[str, Bucket] = {}
        self.requests: Counter[tuple[str, int]] = Counter()  # (source, status)
        self.events: Counter[tuple[str, str, str]] = Counter()  # (source, kind, accepted|rejected)

    def source_of(self, request: web.Request) -> str | None:
        """The source whose token the request carries, if any."""
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else request.query.get("token", "")
        if not given:
            return None
        found = None
        for token, source in self.tokens.items():  # every token compared, in constant time each
            if hmac.compare_digest(token.encode(), given.encode()):
                found = source
        return found

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=self.settings.ingest_max_body_bytes, middlewares=[self._count])
        app.router.add_post("/v1/touchpoints", self._events("touchpoints"))
        app.router.add_post("/v1/reviews", self._events("reviews"))
        app.router.add_post("/v1/chatwoot", self.chatwoot)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.requests[(request.get("source", "-"), exc.status)] += 1
            raise
        self.requests[(request.get("source", "-"), response.status)] += 1
        return response

    def _events(self, kind: Kind):
        async def handle(request: web.Request) -> web.Response:
            return await self.take(kind, request)

        return handle

    async def take(self, kind: Kind, request: web.Request) -> web.Response:
        """One request of events in our contract: authenticate, read, judge, then deliver."""
        source = self.authenticate(request)
        body = await self.read(request)
        return await self.deliver(source, kind, judge_body(kind, body))

    async def chatwoot(self, request: web.Request) -> web.Response:
        """One Chatwoot webhook: authenticate (token, and signature when a secret is set), map, deliver."""
        source = self.authenticate(request)
        body = await self.read(request)
        secret = self.settings.ingest_chatwoot_secret
        if secret is not None and secret.get_secret_value():  # empty: unset (compose's `${VAR:-}`)
            wrong = chatwoot.verify_signature(
                secret.get_secret_value(),
                body,
                request.headers.get("X-Chatwoot-Timestamp"),
                request.headers.get("X-Chatwoot-Signature"),
                time.time(),
            )
            if wrong:
                raise web.HTTPUnauthorized(text=json.dumps({"error": wrong}), content_type="application/json")
        try:
            mapped = chatwoot.map_payload(chatwoot.parse(body), source)
        except chatwoot.NotMapped as exc:
            unmapped = judge("touchpoints", 0, body)
            if unmapped.accepted:  # a touchpoint posted here by mistake: not sent, the sender keeps it
                unmapped = replace(unmapped, sendable=False, reason="a touchpoint, not a Chatwoot payload: POST it to /v1/touchpoints")
            else:  # sent as it came, so the worker dead-letters it (into cx.dlq) and nothing disappears
                unmapped = replace(unmapped, reason=f"Chatwoot payload not mapped: {exc}")
            return await self.deliver(source, "touchpoints", [unmapped])
        if mapped.ignored:
            self.events[(source, "touchpoints", "ignored")] += 1
            return web.json_response({"event": mapped.event, "accepted": 0, "rejected": 0, "ignored": mapped.ignored, "events": []})
        events = [judge("touchpoints", i, json.dumps(tp, ensure_ascii=False).encode()) for i, tp in enumerate(mapped.touchpoints)]
        return await self.deliver(source, "touchpoints", events, {"event": mapped.event})

    def authenticate(self, request: web.Request) -> str:
        """The request's source, or 401."""
        source = self.source_of(request)
        if source is None:
            raise web.HTTPUnauthorized(
                text='{"error": "a valid token is required: Authorization: Bearer TOKEN, or ?token=TOKEN"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="cx-ingest"'},
            )
        request["source"] = source
        return source

    async def read(self, request: web.Request) -> bytes:
        """The whole body, or 413 over the limit."""
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.settings.ingest_max_body_bytes,
                actual_size=request.content_length or 0,
                text=f'{{"error": "the body is over {self.settings.ingest_max_body_bytes} bytes: send fewer events per request"}}',
                content_type="application/json",
            ) from None

    async def deliver(self, source: str, kind: Kind, events: list[Event], answer: dict | None = None) -> web.Response:
        """Pace, send and answer: 200 with a verdict per event once the broker holds every sendable one."""
        bucket = self.buckets.setdefault(source, Bucket(self.settings.ingest_rate_per_second))
        wait = bucket.take(len(events))
        if wait:
            raise web.HTTPTooManyRequests(
                text=f'{{"error": "over {self.settings.ingest_rate_per_second:g} events a second for {source}"}}',
                content_type="application/json",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        sendable = [e for e in events if e.sendable]
        try:
            await self.producer.send([(TOPICS[kind], e.key, e.value) for e in sendable], self.settings.ingest_ack_timeout)
        except NotAcknowledged as exc:
            log.warning("%d %s from %s not acknowledged: %s", len(sendable), kind, source, exc)
            raise web.HTTPServiceUnavailable(
                text=f'{{"error": "the broker did not acknowledge the events ({exc}): send the request again"}}',
                content_type="application/json",
                headers={"Retry-After": str(RETRY_AFTER_UNACKNOWLEDGED)},
            ) from None
        accepted = sum(e.accepted for e in events)
        self.events[(source, kind, "accepted")] += accepted
        self.events[(source, kind, "rejected")] += len(events) - accepted
        results = [
            {"index": e.index, "status": "accepted"} if e.accepted else {"index": e.index, "status": "rejected", "reason": e.reason}
            for e in events
        ]
        return web.json_response({**(answer or {}), "accepted": accepted, "rejected": len(events) - accepted, "events": results})

    async def healthz(self, request: web.Request) -> web.Response:
        """The process answers."""
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        """A broker answers (503 otherwise)."""
        ready = await asyncio.to_thread(self.producer.ready)
        return web.json_response({"status": "ready" if ready else "no broker"}, status=200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Counters in Prometheus' text format."""
        lines = ["# TYPE cx_ingest_requests_total counter"]
        lines += [f'cx_ingest_requests_total{{source="{s}",status="{c}"}} {n}' for (s, c), n in sorted(self.requests.items())]
        lines += ["# TYPE cx_ingest_events_total counter"]
        lines += [f'cx_ingest_events_total{{source="{s}",kind="{k}",verdict="{v}"}} {n}' for (s, k, v), n in sorted(self.events.items())]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def serve(settings: Settings, stop: asyncio.Event, port: int | None = None, host: str | None = None, started=None) -> None:
    """Run the service until `stop` is set; `started(url)` is called once it listens."""
    producer = AckingProducer(settings, settings.ingest_ack_timeout)
    await asyncio.to_thread(producer.start)
    ingest = Ingest(settings, producer)
    runner = web.AppRunner(ingest.app(), access_log=None)  # an access log would carry ?token=
    await runner.setup()
    site = web.TCPSite(runner, host or settings.ingest_host, settings.ingest_port if port is None else port)
    await site.start()
    host_bound, port_bound = runner.addresses[0][:2]  # the port actually bound (0: a free one)
    if started is not None:
        started(f"http://{host_bound}:{port_bound}")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await asyncio.to_thread(producer.close)
