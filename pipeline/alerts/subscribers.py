"""The subscribers file (YAML, path in CX_ALERTS_CONFIG): who gets which breach notices, and how.

Secrets appear only as `${ENV_VAR}` and are read from the environment at load time; any string may
use `${ENV_VAR}` (e.g. a robot URL's access token). A bad file fails with the subscriber and field named.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from pipeline.alerts.exceptions import AlertsConfigError
from pipeline.events.models import Channel, Priority
from pipeline.sla.policy import Rule
from pipeline.validation import first_error

NoticeChannel = Literal["webhook", "email", "wecom", "dingtalk", "feishu"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_ENV_REF = re.compile(r"\s*\$\{([A-Za-z_][A-Za-z0-9_]*)\}\s*")

# Vendors' documented caps for group robots: WeCom 20/min; DingTalk 20/min (then the robot is
# blocked for 10 minutes); Feishu 100/min and 5/s. E-mail and plain webhooks: our own defaults.
DEFAULT_PER_MINUTE: dict[str, int] = {"wecom": 20, "dingtalk": 20, "feishu": 100, "email": 30, "webhook": 120}
DEFAULT_PER_SECOND: dict[str, int | None] = {"feishu": 5}


class SmtpServer(BaseModel):
    """Where mail goes: `smtp://user@host:587?starttls=true` or `smtps://user@host:465`."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    username: str | None
    tls: bool  # implicit TLS (smtps)
    starttls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """Read an smtp:// or smtps:// URL (a password in it is refused: it comes from the environment)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("expected smtp://[user@]host[:port][?starttls=true] or smtps://[user@]host[:port]")
        if parts.password:
            raise ValueError("no password in the smtp URL: set CX_SMTP_PASSWORD (or `password: ${VAR}`)")
        query = dict(parse_qsl(parts.query))
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=parts.username,
            tls=tls,
            starttls=query.get("starttls", "false").lower() in ("1", "true", "yes"),
        )


class Subscriber(BaseModel):
    """One recipient of notices: a channel, its endpoint, what it wants to hear about and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    channel: NoticeChannel
    url: str | None = None  # webhook
    webhook: str | None = None  # wecom / dingtalk / feishu: the robot's full URL
    secret: SecretStr | None = None
    smtp: str | None = None
    password: SecretStr | None = None  # e-mail; default CX_SMTP_PASSWORD
    sender: str = Field(default="cx-alerts@localhost", alias="from")
    to: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=lambda: list(Rule))
    channels: list[Channel] = Field(default_factory=lambda: list(Channel))
    departments: list[str] | None = None  # None: every department
    priorities: list[Priority] = Field(default_factory=lambda: list(Priority))
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    rate_limit_per_second: int | None = Field(default=None, ge=1)
    escalate_after: float | None = Field(default=None, gt=0, description="minutes")
    escalate_to: str | None = None
    recovery: bool = True
    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @model_validator(mode="after")
    def _endpoint(self) -> Subscriber:
        needs = {"webhook": "url", "email": "smtp", "wecom": "webhook", "dingtalk": "webhook", "feishu": "webhook"}
        field = needs[self.channel]
        if not getattr(self, field):
            raise ValueError(f"channel {self.channel} needs `{field}`")
        if self.channel == "email":
            SmtpServer.parse(self.smtp or "")
            if not self.to:
                raise ValueError("channel email needs `to` (a list of addresses)")
        else:
            endpoint = urlsplit(getattr(self, field))
            if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
                raise ValueError(f"`{field}` must be an http(s) URL")
        if self.channel == "wecom" and self.secret is not None:
            raise ValueError("WeCom robots are not signed: the key in the webhook URL is the secret")
        if (self.escalate_after is None) != (self.escalate_to is None):
            raise ValueError("escalate_after and escalate_to go together")
        return self

    @property
    def per_minute(self) -> int:
        """Messages allowed per minute (the vendor's cap unless set)."""
        return self.rate_limit_per_minute or DEFAULT_PER_MINUTE[self.channel]

    @property
    def per_second(self) -> int | None:
        """Messages allowed per second, where the vendor has such a cap."""
        return self.rate_limit_per_second or DEFAULT_PER_SECOND.get(self.channel)

    @property
    def endpoint(self) -> str:
        """Where notices go, as configured (may hold a token: never print it, use `where`)."""
        return self.smtp if self.channel == "email" else (self.url or self.webhook or "")

    @property
    def where(self) -> str:
        """The endpoint without credentials or query string, safe to print."""
        if self.channel == "email":
            server = SmtpServer.parse(self.endpoint)
            return f"{server.host}:{server.port} -> {', '.join(self.to)}"
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def wants(self, rule: str, channel: str, department: str | None, priority: str) -> bool:
        """Whether an alert with these facts is for this subscriber."""
        if self.departments is not None and (department or "") not in self.departments:
            return False
        return rule in self.rules and channel in self.channels and priority in self.priorities


class SubscribersFile(BaseModel):
    """The whole file: a list of uniquely named subscribers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscribers: list[Subscriber]

    @model_validator(mode="after")
    def _names(self) -> SubscribersFile:
        names = [s.name for s in self.subscribers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"subscriber name {name!r} is used twice")
        for s in self.subscribers:
            if s.escalate_to is not None and s.escalate_to not in names:
                raise ValueError(f"subscriber {s.name!r}: escalate_to names no subscriber: {s.escalate_to!r}")
            if s.escalate_to == s.name:
                raise ValueError(f"subscriber {s.name!r} escalates to itself")
        return self

    def get(self, name: str) -> Subscriber:
        """The subscriber called `name`."""
        return next(s for s in self.subscribers if s.name == name)


def _expand(value: Any, where: str, env: dict[str, str], secret: bool = False) -> Any:
    if isinstance(value, list):
        return [_expand(v, where, env) for v in value]
    if not isinstance(value, str):
        return value
    if secret and not _ONLY_ENV_REF.fullmatch(value):
        raise AlertsConfigError(f"{where}: a secret must be written as ${{ENV_VAR}}, never literally in the file")

    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in env or env[name] == "":
            raise AlertsConfigError(f"{where}: environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(lookup, value)


def parse_subscribers(text: str, env: dict[str, str] | None = None, smtp_password: str | None = None) -> SubscribersFile:
    """Validate a subscribers file's text; `env` resolves `${VAR}` (default: the process environment)."""
    env = dict(os.environ) if env is None else env
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AlertsConfigError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("subscribers"), list):
        raise AlertsConfigError("expected a mapping with a `subscribers:` list")
    expanded = []
    for i, raw in enumerate(data["subscribers"]):
        if not isinstance(raw, dict):
            raise AlertsConfigError(f"subscribers[{i}]: expected a mapping")
        label = f"subscriber {raw.get('name', f'#{i + 1}')!r}"
        item = {k: _expand(v, f"{label}, field `{k}`", env, secret=k in ("secret", "password")) for k, v in raw.items()}
        if item.get("channel") == "email" and "password" not in item and smtp_password:
            item["password"] = smtp_password
        try:
            expanded.append(Subscriber.model_validate(item))
        except ValidationError as exc:
            raise AlertsConfigError(f"{label}: {first_error(exc)}") from None
    try:
        return SubscribersFile(subscribers=expanded)
    except ValidationError as exc:
        raise AlertsConfigError(first_error(exc)) from None


def load_subscribers(path: Path, env: dict[str, str] | None = None, smtp_password: str | None = None) -> SubscribersFile:
    """Read and validate the subscribers file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertsConfigError(f"cannot read the subscribers file {path}: {exc.strerror}") from None
    return parse_subscribers(text, env, smtp_password)
