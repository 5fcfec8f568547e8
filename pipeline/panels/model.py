"""What a dashboard, a panel and an alert rule are, independent of Grafana's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Viz = Literal["timeseries", "stat", "table", "barchart", "heatmap"]
Target = Literal["satisfaction", "follow_up", "sla"]


@dataclass(frozen=True)
class Panel:
    """One chart or table: its SQL (with the ClickHouse plugin's macros) and how to draw it."""

    key: str
    title: str
    sql: str
    viz: Viz
    description: str = ""
    unit: str = "short"
    target: Target | None = None  # drawn as a threshold line at that configured target
    width: int = 12
    height: int = 8
    # False where an empty result is a fair answer on healthy data (nothing open, no notices set up).
    expects_rows: bool = True

    @property
    def time_series(self) -> bool:
        """Whether the SQL returns (time, value...) rows drawn over time."""
        return self.viz == "timeseries"


@dataclass(frozen=True)
class Dashboard:
    """A titled set of panels, with the template variables they use."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = ("cx",)
    case_variable: bool = False  # a `case` text box (links in breach notices fill it)


@dataclass(frozen=True)
class AlertRule:
    """A Grafana-managed alert: a SQL returning one number per row (labels from text columns),
    firing when it crosses `threshold` for `pending`."""

    uid: str
    title: str
    sql: str
    op: Literal["lt", "gt"]
    threshold: float
    window_s: int  # the time range the SQL's macros cover
    pending: str
    summary: str
    description: str  # what to look at when it fires
    labels: dict[str, str] = field(default_factory=dict)
