"""The dashboard panels as data: one SQL per panel, read by Grafana, the HTML report and the demo."""

from pipeline.panels.catalog import DASHBOARDS, alert_rules
from pipeline.panels.macros import TimeRange, expand
from pipeline.panels.model import AlertRule, Dashboard, Panel

__all__ = ["DASHBOARDS", "AlertRule", "Dashboard", "Panel", "TimeRange", "alert_rules", "expand"]
