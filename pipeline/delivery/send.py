"""Send one notice over HTTP (httpx) or SMTP (aiosmtplib), retrying with exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
import httpx

from pipeline.alerts.notice import Notice
from pipeline.alerts.payloads import email_message, http_request, read_answer
from pipeline.alerts.render import Renderer
from pipeline.alerts.subscribers import SmtpServer
from pipeline.delivery.exceptions import GiveUp, RetryLater


@dataclass(frozen=True)
class Delivery:
    """How sending one notice ended."""

    status: Literal["delivered", "failed"]
    attempts: int
    first_try_at: float
    delivered_at: float | None
    error: str


class Sender:
    """Delivers notices; one instance per worker, sharing one HTTP connection pool."""

    def __init__(
        self,
        renderer: Renderer,
        client: httpx.AsyncClient | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ):
        self.renderer = renderer
        self.client = client or httpx.AsyncClient()
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._wall = wall

    async def deliver(self, notice: Notice) -> Delivery:
        """Try until accepted, a permanent error, or the subscriber's attempts are used up."""
        first = self._wall()
        error = ""
        limit = notice.subscriber.max_attempts
        for attempt in range(1, limit + 1):
            try:
                await self.attempt(notice)
                return Delivery("delivered", attempt, first, self._wall(), error)
            except GiveUp as exc:
                return Delivery("failed", attempt, first, None, str(exc))
            except RetryLater as exc:
                error = str(exc)
                if attempt == limit:
                    break
                # Exponential backoff with "equal jitter": half fixed, half random, so a fleet of
                # workers hitting one recovering endpoint does not retry in lock-step.
                pause = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                pause = pause / 2 + random.uniform(0, pause / 2)
                await self._sleep(max(pause, min(exc.retry_after or 0.0, self.max_backoff)))
        return Delivery("failed", limit, first, None, f"gave up after {limit} attempts: {error}")

    async def attempt(self, notice: Notice) -> None:
        """One try; raises RetryLater or GiveUp."""
        if notice.subscriber.channel == "email":
            await self._mail(notice)
        else:
            await self._post(notice)

    async def _post(self, notice: Notice) -> None:
        sub = notice.subscriber
        request = http_request(notice, self.renderer, self._wall())
        try:
            answer = await self.client.post(request.url, content=request.body, headers=request.headers, timeout=sub.timeout_s)
        except httpx.TimeoutException:
            raise RetryLater(f"no answer from {sub.where} within {sub.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise RetryLater(f"cannot reach {sub.where}: {type(exc).__name__}") from None
        verdict = read_answer(sub.channel, answer.status_code, answer.content, answer.headers.get("retry-after"))
        if verdict.ok:
            return
        if verdict.retry:
            raise RetryLater(verdict.error or "retry", verdict.retry_after)
        raise GiveUp(verdict.error or "refused")

    async def _mail(self, notice: Notice) -> None:
        sub = notice.subscriber
        server = SmtpServer.parse(sub.smtp or "")
        message = email_message(notice, self.renderer)
        try:
            await aiosmtplib.send(
                message,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=sub.password.get_secret_value() if sub.password and server.username else None,
                use_tls=server.tls,
                start_tls=server.starttls if server.starttls else False,
                timeout=sub.timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx: the server asks us to come back later; 5xx: it will not take this mail.
            text = f"SMTP {exc.code}: {exc.message}"
            raise (RetryLater(text) if 400 <= exc.code < 500 else GiveUp(text)) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise GiveUp(f"recipients refused: {', '.join(r.recipient for r in exc.recipients)}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryLater(f"cannot reach {server.host}:{server.port}: {type(exc).__name__}") from None

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()
