"""Runtime configuration, read from CX_* environment variables (secrets never have defaults in code)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.cases.clock import MAX_CLOCK_AHEAD, ODD_TIME_JUMP
from pipeline.errors import CxError
from pipeline.sla.policy import Duration
from pipeline.validation import reason

# Tansu holds a group's first join for half the session timeout (measured: 3 s at 6 s, 2 s at 3 s);
# a heartbeat every 0.5 s (streams.kafka.app) still leaves six chances before a worker counts as gone.
LOCAL_SESSION_TIMEOUT = 3.0
# Every variable is CX_<FIELD>; an empty value counts as unset. Secrets are SecretStr: they print as ****.
_ENV = SettingsConfigDict(env_prefix="CX_", env_ignore_empty=True, extra="forbid")


class SettingsError(CxError, ValueError):
    """A CX_* variable holds a value the settings cannot take: the message names the variable and why; fix it."""


class Targets(BaseSettings):
    """Goals the dashboards draw as threshold lines and the alert rules fire on (CX_TARGET_*)."""

    model_config = SettingsConfigDict(**{**_ENV, "env_prefix": "CX_TARGET_"})

    satisfaction: float = Field(default=0.98, gt=0, le=1, description="satisfaction share drawn as a target line")
    follow_up: float = Field(default=1.0, gt=0, le=1, description="follow-up rate drawn as a target line")
    sla: float = Field(default=0.95, gt=0, le=1, description="SLA attainment target line; below it for 10 minutes fires `cx-sla-attainment`")
    negative_rise: float = Field(
        default=0.10, gt=0, le=1, description="`cx-negative-spike`: negative review share this hour minus the same hour last week"
    )
    complaint_growth: float = Field(
        default=2.0, gt=1, description="`cx-aspect-complaints`: an aspect's complaints this week / last week"
    )
    source_lateness_minutes: float = Field(
        default=5.0, gt=0, description="`cx-source-lagging`: a source's p99 arrival delay (arrival - event time), in minutes"
    )


class Settings(BaseSettings):
    """Everything a process of the pipeline needs to know about its surroundings: the one reader of CX_*.

    Each field's description is its documentation: `docs/configuration.md` is generated from it
    (`python -m pipeline.config`)."""

    model_config = _ENV

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    topic_prefix: str = Field(default="", description="prefix before every topic name, to share one cluster between environments")
    partitions: int = Field(default=4, ge=1, description="partitions of the topics the worker creates (always explicitly)")
    replication: int = Field(default=1, ge=1, description="replication factor of the topics the worker creates")
    app_id: str = Field(default="cx-worker", description="Faust app id = consumer group (the notifier's is `<app_id>-notify`)")
    data_dir: Path = Field(default=Path(".cx"), description="embedded ClickHouse data, the local broker's log, the report")
    clickhouse_url: SecretStr | None = Field(
        default=None,
        description="e.g. `clickhouse://user:pass@host:9000/cx`: a ClickHouse server instead of embedded chdb "
        "(a secret: never printed; the worker describes the server by host and database)",
    )
    clickhouse_cluster: str | None = Field(
        default=None,
        description="the server's cluster (`remote_servers` name): tables replicated per shard + `Distributed` (see `cx migrate --cluster`)",
    )
    batch_size: int = Field(default=500, ge=1, description="a landing batch goes once this many messages are there (or the flush window passed)")
    catch_up_batch_size: int = Field(
        default=2000,
        ge=1,
        description="a batch's cap: a take brings along what already waits up to this many, and while a backlog waits, "
        "takes join up to it (fewer inserts: ClickHouse's cost is per insert; no message waits longer)",
    )
    landing_processes: int | None = Field(
        default=None,
        ge=0,
        description="processes that land batches (parse, validate, text analysis, rows) beside the worker; "
        "unset: one per core but one; `0`: in a thread of the worker process",
    )
    flush_seconds: float = Field(default=1.0, gt=0, description="a batch is written when it is full or this old, whichever first")
    output_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="zstd",
        description="Kafka `compression.type` of what the worker produces (case feed, scores, breaches, dead letters, "
        "the case table's changelog); every Kafka client since 2.1 reads zstd",
    )
    kafka_session_timeout: float = Field(default=10.0, gt=0, description="consumer session timeout in seconds; a group join waits up to half of it")
    kafka_rebalance_timeout: float | None = Field(
        default=None,
        gt=0,
        description="how long a rebalance waits for each worker to commit its batches in flight and rejoin, in seconds;"
        " a worker slower than this is dropped from the group mid-handover (its batches are redone by the next owner);"
        " unset: the session timeout (on Kafka, 60 is the usual value; see docs/operations.md)",
    )
    clock: Literal["auto", "event", "wall"] = Field(
        default="auto",
        description="what judges deadlines: `event` (the watermark aligned across input partitions), `wall` (the wall "
        "clock less the policy's lateness), or `auto` (the watermark while replaying, the wall clock once live or idle); "
        "see docs/sla.md",
    )
    tick_seconds: float = Field(default=1.0, gt=0, description="how often the deadline timer looks for passed deadlines")
    case_settle_after: Duration = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        description="events this far behind their case's clock settle into its running totals; a later event no longer "
        "changes the case (it lands in `cx.touchpoints` and `cx.late_events`)",
    )
    case_evict_after: Duration = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description="a closed case with nothing running leaves the case table this long after its last event (its rows "
        "stay; a marker of a few bytes stays as long again, so that a redelivered batch cannot start the case afresh)",
    )
    max_clock_ahead: Duration = Field(
        default=MAX_CLOCK_AHEAD,
        ge=timedelta(0),
        description="an event stamped further past the wall clock never moves the case clock (it still updates its case; "
        "listed in `cx.late_events`)",
    )
    odd_time_jump: Duration = Field(
        default=ODD_TIME_JUMP,
        gt=timedelta(0),
        description="an event this far past its input partition's mark moves it only once a second one confirms the jump; "
        "one the next event refutes is listed in `cx.late_events`",
    )
    case_process: bool = Field(
        default=True, description="case states in a process of their own beside the worker; `false`: in a thread of the worker"
    )
    sla_policy: Path | None = Field(
        default=None, description="SLA policy file (limits, business hours, holidays, lateness); unset: the packaged default"
    )
    alerts_config: Path | None = Field(default=None, description="the breach-notice subscribers file; unset: no notices")
    grafana_url: str | None = Field(default=None, description="Grafana base URL: notices link to the case on the latency dashboard")
    smtp_password: SecretStr | None = Field(default=None, description="password for e-mail subscribers' SMTP login (a secret)")
    ingest_tokens: SecretStr | None = Field(
        default=None,
        description="`cx ingest`: `source=token,...`, one bearer token per sending system (a secret: never logged); "
        "unset: `cx ingest` refuses to start",
    )
    ingest_chatwoot_secret: SecretStr | None = Field(
        default=None,
        description="`cx ingest`: the Chatwoot webhook's secret; set, every `POST /v1/chatwoot` must carry Chatwoot's "
        "valid `X-Chatwoot-Signature` (a secret: never logged)",
    )
    ingest_host: str = Field(default="127.0.0.1", description="`cx ingest` binds here (loopback unless told otherwise)")
    ingest_port: int = Field(default=8788, ge=0, le=65535, description="`cx ingest`'s port")
    ingest_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="`cx ingest`: a larger request body is refused (413)")
    ingest_rate_per_second: float = Field(
        default=5000.0, gt=0, description="`cx ingest`: events per second each source may send (a burst of one second's worth; then 429)"
    )
    ingest_ack_timeout: float = Field(
        default=15.0, gt=0, description="`cx ingest`: seconds to wait for the broker to acknowledge a request's events (then 503)"
    )
    text_retention_days: int = Field(
        default=180, ge=1, description="raw text (messages, reviews, tokens, DLQ payloads) is emptied this many days after its event"
    )
    targets: Targets = Field(default_factory=Targets)
    report_port: int | None = Field(
        default=8787,
        ge=0,
        le=65535,
        description="port of the live report page served by `cx worker` / `cx demo` on 127.0.0.1 (`0`: any free port; "
        "`off`: none); a taken port falls back to a free one",
    )
    grafana_token: SecretStr | None = Field(default=None, description="`cx dashboards push`: a Grafana service-account token (a secret)")
    grafana_clickhouse_password: SecretStr | None = Field(
        default=None, description="`cx dashboards push`: the Grafana datasource's ClickHouse password (a secret)"
    )
    reviews_dir: Path = Field(
        default=Path("../shared/data/reviews"),
        description="labelled review CSVs for `cx text eval` / `train` / `loso` and `make eval` (not needed to run the pipeline)",
    )

    @field_validator("report_port", mode="before")
    @classmethod
    def _port_off(cls, value):
        return None if isinstance(value, str) and value.strip().lower() == "off" else value

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from the environment, with explicit (non-None) overrides winning; SettingsError names a bad variable."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise SettingsError(_first_mistake(exc)) from None

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable the settings read."""
        names = [f"CX_{name.upper()}" for name in cls.model_fields if name != "targets"]
        return sorted(names + [f"CX_TARGET_{name.upper()}" for name in Targets.model_fields])

    def for_local_broker(self, bootstrap: str) -> Settings:
        """These settings pointed at a local Tansu broker (short group joins)."""
        session = min(self.kafka_session_timeout, LOCAL_SESSION_TIMEOUT)
        return self.model_copy(update={"kafka_bootstrap": bootstrap, "kafka_session_timeout": session})

    def topic(self, name: str) -> str:
        """Full topic name: the contract name behind an optional prefix (one broker, several envs)."""
        return f"{self.topic_prefix}{name}"


def _first_mistake(exc: ValidationError) -> str:
    """The first bad variable, named with its value and pydantic's message (a secret's value is not shown)."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    model: type[BaseSettings] = Targets if exc.title == Targets.__name__ else Settings
    if loc[:1] == ["targets"]:
        model, loc = Targets, loc[1:]
    prefix = model.model_config.get("env_prefix", "")
    field = model.model_fields.get(loc[0]) if loc else None
    secret = field is not None and "SecretStr" in repr(field.annotation)
    shown = "" if secret or "input" not in err else f"={err['input']!r}"
    name = f"{prefix}{'_'.join(loc).upper()}" if loc else prefix.rstrip("_")
    hint = "durations as 30s, 5m, 4h, 3d or seconds; " if err["type"].startswith("time_delta") else ""
    return f"{name}{shown}: {reason(err)} ({hint}see docs/configuration.md)"


def _default(field) -> str:
    value = field.get_default(call_default_factory=False)
    if value is None:
        return "(unset)"
    if isinstance(value, timedelta):
        from pipeline.sla.policy import human

        return f"`{human(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`" if str(value) != "" else "(empty)"


def configuration_doc() -> str:
    """docs/configuration.md: every CX_* variable with its default and meaning, from the models above."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable `CX_<NAME>` (an empty value counts as unset). Durations are",
        "written as the SLA policy writes them: `600`, `10m`, `7d`. Secrets come only from the environment and",
        "are never printed. This page is generated from `pipeline/config.py` (`python -m pipeline.config`);",
        "a test fails when it is stale.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for prefix, model in (("CX_", Settings), ("CX_TARGET_", Targets)):
        for name, field in model.model_fields.items():
            if name == "targets":
                continue
            lines.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {field.description} |")
    lines += ["", "The SLA policy file (`CX_SLA_POLICY`) is checked with `cx sla check FILE`; the subscribers file",
              "(`CX_ALERTS_CONFIG`) with `cx alerts check FILE`."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    out.write_text(configuration_doc(), encoding="utf-8")
    print(f"wrote {out}")
