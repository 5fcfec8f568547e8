"""Runtime configuration, read from CX_* environment variables (secrets never have defaults in code)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.sla.policy import Duration

# Tansu holds a group's first join for half the session timeout (measured: 3 s at 6 s, 2 s at 3 s);
# a heartbeat every 0.5 s (streams.app) still leaves six chances before a worker counts as gone.
LOCAL_SESSION_TIMEOUT = 3.0
# Every variable is CX_<FIELD>; an empty value counts as unset. Secrets are SecretStr: they print as ****.
_ENV = SettingsConfigDict(env_prefix="CX_", env_ignore_empty=True, extra="forbid")


class Targets(BaseSettings):
    """Goals the dashboards draw as threshold lines and the alert rules fire on (CX_TARGET_*)."""

    model_config = SettingsConfigDict(**{**_ENV, "env_prefix": "CX_TARGET_"})

    satisfaction: float = Field(default=0.98, gt=0, le=1)
    follow_up: float = Field(default=1.0, gt=0, le=1)
    sla: float = Field(default=0.95, gt=0, le=1)
    negative_rise: float = Field(default=0.10, gt=0, le=1)  # negative share, this hour vs the same hour last week
    complaint_growth: float = Field(default=2.0, gt=1)  # an aspect's complaints, this week / last week
    source_lateness_minutes: float = Field(default=5.0, gt=0)  # a source's p99 arrival delay worth an alert


class Settings(BaseSettings):
    """Everything a process of the pipeline needs to know about its surroundings: the one reader of CX_*."""

    model_config = _ENV

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    partitions: int = Field(default=4, ge=1)
    replication: int = Field(default=1, ge=1)
    app_id: str = "cx-worker"
    data_dir: Path = Path(".cx")
    # Carries the writer's password: a secret, described by host and database only.
    clickhouse_url: SecretStr | None = None
    # A ClickHouse cluster (remote_servers name): tables are replicated + distributed (cx migrate --cluster).
    clickhouse_cluster: str | None = None
    batch_size: int = Field(default=500, ge=1)
    # A batch's cap: a take goes once `batch_size` are there, with whatever else already waits up to
    # this many, and while a partition is behind, takes join up to it (fewer inserts: ClickHouse's
    # cost is per insert). See streams.agents and pipeline.landing.
    catch_up_batch_size: int = Field(default=2000, ge=1)
    # Processes that land batches (parse, validate, text analysis, rows) beside the worker process:
    # None, one per core but one; 0, in a thread of the worker process.
    landing_processes: int | None = Field(default=None, ge=0)
    flush_seconds: float = Field(default=1.0, gt=0)
    # Kafka's compression.type for what the worker produces (case feed, scores, breaches, dead
    # letters, the case table's changelog: ~2 KB of case-state JSON per changed case, ~10x smaller).
    output_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    # Low enough that a local broker does not make every start wait half a minute for the group join.
    kafka_session_timeout: float = Field(default=10.0, gt=0)
    # Deadlines: the event-time watermark on replay, the wall clock live (see pipeline.cases.book).
    clock: Literal["auto", "event", "wall"] = "auto"
    tick_seconds: float = Field(default=1.0, gt=0)
    # Case state: events this far behind the clock settle (folded into the case's totals; an event
    # later than that no longer changes the case), and closed cases leave after this long quiet.
    # Durations as the SLA policy writes them: 600, 10m, 7d.
    case_settle_after: Duration = Field(default=timedelta(minutes=10), gt=timedelta(0))
    case_evict_after: Duration = Field(default=timedelta(days=7), gt=timedelta(0))
    # Odd event times: an event stamped more than this past the wall clock never moves the watermark
    # (it still updates its own case), and one this far past its input partition's mark is reported;
    # both land in cx.late_events with the reason.
    max_clock_ahead: Duration = Field(default=timedelta(minutes=5), ge=timedelta(0))
    odd_time_jump: Duration = Field(default=timedelta(hours=1), gt=timedelta(0))
    # The case states and their updates in a process of their own (a core the stream does not
    # use); false: in a thread of the worker process.
    case_process: bool = True
    # SLA limits, business hours and holidays (None: the packaged default policy).
    sla_policy: Path | None = None
    # Breach notices: the subscribers file (no file: no notices), where notices link to, the mail password.
    alerts_config: Path | None = None
    grafana_url: str | None = None
    smtp_password: SecretStr | None = None
    # Raw text (messages, reviews, rejected payloads) is emptied this many days after its event time.
    text_retention_days: int = Field(default=180, ge=1)
    targets: Targets = Field(default_factory=Targets)
    # The live report page served by `cx worker` / `cx demo` (None, "off" in the environment: off; 0: any free port).
    report_port: int | None = Field(default=8787, ge=0, le=65535)
    # Grafana for `cx dashboards push` (the token is a secret: environment only).
    grafana_token: SecretStr | None = None
    grafana_clickhouse_password: SecretStr | None = None  # the datasource's, sent by the push
    # Labelled review CSVs for `cx text eval` / `make eval` (not needed to run the pipeline).
    reviews_dir: Path = Path("../shared/data/reviews")

    @field_validator("report_port", mode="before")
    @classmethod
    def _port_off(cls, value):
        return None if isinstance(value, str) and value.strip().lower() == "off" else value

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from the environment, with explicit (non-None) overrides winning."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})

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
