"""Runtime configuration, read from CX_* environment variables (secrets never have defaults in code)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class Targets(BaseModel):
    """Goals the dashboards draw as threshold lines and the alert rules fire on."""

    satisfaction: float = Field(default=0.98, gt=0, le=1)
    follow_up: float = Field(default=1.0, gt=0, le=1)
    sla: float = Field(default=0.95, gt=0, le=1)
    negative_rise: float = Field(default=0.10, gt=0, le=1)  # negative share, this hour vs the same hour last week
    complaint_growth: float = Field(default=2.0, gt=1)  # an aspect's complaints, this week / last week


class Settings(BaseModel):
    """Everything a process of the pipeline needs to know about its surroundings."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    partitions: int = Field(default=4, ge=1)
    replication: int = Field(default=1, ge=1)
    app_id: str = "cx-worker"
    data_dir: Path = Path(".cx")
    clickhouse_url: str | None = None
    batch_size: int = Field(default=500, ge=1)
    flush_seconds: float = Field(default=1.0, gt=0)
    # Low enough that a local broker does not make every start wait half a minute for the group join.
    session_timeout_s: float = Field(default=10.0, gt=0)
    # Deadlines: the event-time watermark on replay, the wall clock live (see pipeline.cases.book).
    clock: Literal["auto", "event", "wall"] = "auto"
    # Bytes per producer batch. The local Tansu broker reports a multi-record batch as one record in
    # ListOffsets, which cuts table recovery short; the local stack sends one record per batch.
    producer_max_batch: int = Field(default=16384, ge=1)
    tick_seconds: float = Field(default=1.0, gt=0)
    # Breach notices: the subscribers file (no file: no notices), where notices link to, the mail password.
    alerts_config: Path | None = None
    grafana_url: str | None = None
    smtp_password: SecretStr | None = None
    # Raw text (messages, reviews, rejected payloads) is emptied this many days after its event time.
    text_retention_days: int = Field(default=180, ge=1)
    targets: Targets = Targets()
    # The live report page served by `cx worker` / `cx demo` (None: off; 0: any free port).
    report_port: int | None = Field(default=8787, ge=0, le=65535)
    # Grafana for `cx dashboards push` (the token is a secret: environment only).
    grafana_token: SecretStr | None = None
    grafana_clickhouse_password: SecretStr | None = None  # the datasource's, sent by the push

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from the environment, with explicit overrides winning."""
        values = {
            "kafka_bootstrap": _env("CX_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            "topic_prefix": _env("CX_TOPIC_PREFIX", ""),
            "partitions": int(_env("CX_PARTITIONS", "4")),
            "replication": int(_env("CX_REPLICATION", "1")),
            "app_id": _env("CX_APP_ID", "cx-worker"),
            "data_dir": Path(_env("CX_DATA_DIR", ".cx")),
            "clickhouse_url": _env("CX_CLICKHOUSE_URL"),
            "batch_size": int(_env("CX_BATCH_SIZE", "500")),
            "flush_seconds": float(_env("CX_FLUSH_SECONDS", "1.0")),
            "session_timeout_s": float(_env("CX_KAFKA_SESSION_TIMEOUT", "10")),
            "clock": _env("CX_CLOCK", "auto"),
            "producer_max_batch": int(_env("CX_PRODUCER_MAX_BATCH", "16384")),
            "tick_seconds": float(_env("CX_TICK_SECONDS", "1.0")),
            "alerts_config": _env("CX_ALERTS_CONFIG"),
            "grafana_url": _env("CX_GRAFANA_URL"),
            "smtp_password": _env("CX_SMTP_PASSWORD"),
            "text_retention_days": int(_env("CX_TEXT_RETENTION_DAYS", "180")),
            "targets": {
                name: float(value)
                for name in Targets.model_fields
                if (value := _env(f"CX_TARGET_{name.upper()}")) is not None
            },
            "grafana_token": _env("CX_GRAFANA_TOKEN"),
            "report_port": None if _env("CX_REPORT_PORT") == "off" else int(_env("CX_REPORT_PORT", "8787")),
            "grafana_clickhouse_password": _env("CX_GRAFANA_CLICKHOUSE_PASSWORD"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def for_local_broker(self, bootstrap: str) -> Settings:
        """These settings pointed at a local Tansu broker (short group joins, one record per batch)."""
        return self.model_copy(
            update={"kafka_bootstrap": bootstrap, "session_timeout_s": min(self.session_timeout_s, 6.0), "producer_max_batch": 1}
        )

    def topic(self, name: str) -> str:
        """Full topic name: the contract name behind an optional prefix (one broker, several envs)."""
        return f"{self.topic_prefix}{name}"
