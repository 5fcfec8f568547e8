"""The report page: the dashboards' panels as one self-contained HTML page (no Grafana needed)."""

from pipeline.page.render import render_page
from pipeline.page.serve import PageServer

__all__ = ["PageServer", "render_page"]
