"""Real receivers on loopback that behave like the vendors: they check each documented signature,
enforce rate caps with the vendor's error code, and can be told to fail (500, hang, rate limit).

They run in a thread with their own event loop, so the code under test (in-process or a
subprocess) talks to them over real TCP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiohttp import web
from aiosmtpd.controller import Controller

from pipeline.broker.local import free_port


@dataclass
class Received:
    """One request the receiver accepted or refused."""

    vendor: str
    path: str
    query: dict
    headers: dict
    body: dict
    answer: dict | None
    status: int
    at: float


@dataclass
class Script:
    """What to do with the next requests: a list of 'ok', 'fail500', 'hang', 'ratelimit'."""

    steps: list[str] = field(default_factory=list)

    def next(self) -> str:
        return self.steps.pop(0) if self.steps else "ok"


class Receivers:
    """Generic webhook, WeCom, DingTalk and Feishu robots on one loopback HTTP server."""

    def __init__(self, secrets: dict[str, str] | None = None, per_minute: dict[str, int] | None = None, delay: float = 0.0):
        self.port = free_port()
        self.secrets = secrets or {}
        self.per_minute = per_minute or {"wecom": 20, "dingtalk": 20, "feishu": 100}
        self.delay = delay
        self.hang_seconds = 30.0
        self.scripts: dict[str, Script] = defaultdict(Script)
        self.requests: list[Received] = []
        self._times: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    # -- URLs a subscribers file points at --------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, vendor: str, token: str = "T0KEN") -> str:
        return {
            "webhook": f"{self.base}/hook",
            "wecom": f"{self.base}/cgi-bin/webhook/send?key={token}",
            "dingtalk": f"{self.base}/robot/send?access_token={token}",
            "feishu": f"{self.base}/open-apis/bot/v2/hook/{token}",
        }[vendor]

    def accepted(self, vendor: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.status == 200 and _ok(r.answer) and (vendor is None or r.vendor == vendor)]

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Receivers:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._webhook)
        app.router.add_post("/cgi-bin/webhook/send", self._wecom)
        app.router.add_post("/robot/send", self._dingtalk)
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    # -- behaviour -------------------------------------------------------------------------
    async def _scripted(self, vendor: str) -> web.Response | None:
        step = self.scripts[vendor].next()
        if self.delay:
            await asyncio.sleep(self.delay)
        if step == "hang":
            await asyncio.sleep(self.hang_seconds)
        if step == "fail500":
            return web.Response(status=500, text="internal error")
        if step == "ratelimit":
            return web.json_response(_rate_answer(vendor))
        return None

    def _capped(self, vendor: str) -> bool:
        cap = self.per_minute.get(vendor)
        now = time.time()
        times = self._times[vendor]
        times[:] = [t for t in times if t > now - 60]
        if cap is not None and len(times) >= cap:
            return True
        times.append(now)
        return False

    async def _record(self, vendor: str, request: web.Request, body: dict, answer: dict | None, status: int = 200) -> web.Response:
        with self._lock:
            self.requests.append(Received(vendor, request.path, dict(request.query), dict(request.headers), body, answer, status, time.time()))
        if answer is None:
            return web.Response(status=status, text="ok" if status == 200 else "refused")
        return web.json_response(answer, status=status)

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        scripted = await self._scripted("webhook")
        if scripted is not None:
            return scripted
        secret = self.secrets.get("webhook")
        if secret is not None:
            ts = request.headers.get("X-CX-Timestamp", "")
            expected = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get("X-CX-Signature", "")):
                return await self._record("webhook", request, json.loads(raw), None, status=401)
        return await self._record("webhook", request, json.loads(raw), None)

    async def _wecom(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        scripted = await self._scripted("wecom")
        if scripted is not None:
            return scripted
        if request.query.get("key") != "T0KEN":
            return await self._record("wecom", request, body, {"errcode": 93000, "errmsg": "invalid webhook url"})
        if self._capped("wecom"):
            return await self._record("wecom", request, body, _rate_answer("wecom"))
        if body.get("msgtype") != "markdown" or len(body["markdown"]["content"].encode()) > 4096:
            return await self._record("wecom", request, body, {"errcode": 40058, "errmsg": "markdown.content exceed max length"})
        return await self._record("wecom", request, body, {"errcode": 0, "errmsg": "ok"})

    async def _dingtalk(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        scripted = await self._scripted("dingtalk")
        if scripted is not None:
            return scripted
        if request.query.get("access_token") != "T0KEN":
            return await self._record("dingtalk", request, body, {"errcode": 300001, "errmsg": "token is not exist"})
        secret = self.secrets.get("dingtalk")
        if secret is not None:
            # As documented: HmacSHA256(key=secret, "timestamp\nsecret"), base64; ms timestamp within 1 h.
            ts = request.query.get("timestamp", "0")
            expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
            fresh = abs(time.time() * 1000 - int(ts)) < 3_600_000
            if not fresh or not hmac.compare_digest(expected, request.query.get("sign", "")):
                return await self._record("dingtalk", request, body, {"errcode": 310000, "errmsg": "sign not match"})
        if self._capped("dingtalk"):
            return await self._record("dingtalk", request, body, _rate_answer("dingtalk"))
        if body.get("msgtype") != "markdown" or not body["markdown"].get("title") or not body["markdown"].get("text"):
            return await self._record("dingtalk", request, body, {"errcode": 40035, "errmsg": "missing markdown title/text"})
        return await self._record("dingtalk", request, body, {"errcode": 0, "errmsg": "ok"})

    async def _feishu(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        scripted = await self._scripted("feishu")
        if scripted is not None:
            return scripted
        if request.match_info["token"] != "T0KEN":
            return await self._record("feishu", request, body, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}})
        secret = self.secrets.get("feishu")
        if secret is not None:
            # As documented: HmacSHA256(key="timestamp\nsecret", message=""), base64; seconds within 1 h.
            ts = body.get("timestamp", "0")
            expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
            fresh = abs(time.time() - int(ts)) < 3600
            if not fresh or not hmac.compare_digest(expected, body.get("sign", "")):
                return await self._record("feishu", request, body, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time", "data": {}})
        if self._capped("feishu"):
            return await self._record("feishu", request, body, _rate_answer("feishu"))
        if body.get("msg_type") != "interactive" or "header" not in body.get("card", {}):
            return await self._record("feishu", request, body, {"code": 9499, "msg": "Bad Request", "data": {}})
        return await self._record("feishu", request, body, {"code": 0, "msg": "success", "data": {}})


def _rate_answer(vendor: str) -> dict:
    return {
        "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
        "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
        "feishu": {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]", "data": {}},
        "webhook": {"error": "slow down"},
    }[vendor]


def _ok(answer: dict | None) -> bool:
    return answer is None or answer.get("errcode", answer.get("code", 0)) == 0


class MailBox:
    """An SMTP server (aiosmtpd) on loopback keeping every message; `refuse` answers 550 to RCPT."""

    def __init__(self, refuse: bool = False):
        self.port = free_port()
        self.messages = []
        self.refuse = refuse
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def __enter__(self) -> MailBox:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
