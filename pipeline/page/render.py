"""The page: every dashboard's panels, run on the store and drawn as HTML and SVG, in one file."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.config import Targets
from pipeline.page import charts
from pipeline.page.fonts import FAMILY, find_cjk_font, font_face
from pipeline.panels import DASHBOARDS, Panel
from pipeline.panels.macros import TimeRange
from pipeline.panels.run import run_sql, whole_range
from pipeline.store import Store, StoreError
from pipeline.store.rollups import refresh_rollups

STYLE = """
body { font-family: '%(family)s', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif; margin: 0; background: #f4f5f5; color: #1f2328; }
header { background: #1f2328; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; } header p { margin: 4px 0 0; color: #c7ccd1; font-size: 12px; }
section { padding: 8px 24px 16px; } h2 { font-size: 17px; margin: 14px 0 2px; } .about { color: #57606a; font-size: 12px; margin: 0 0 8px; }
.grid { display: grid; grid-template-columns: repeat(24, 1fr); gap: 10px; }
.panel { background: #fff; border: 1px solid #d8dee4; border-radius: 4px; padding: 8px 10px; overflow: auto; min-width: 0; }
.panel h3 { font-size: 13px; margin: 0 0 2px; } .panel .about { font-size: 11px; }
.stat { font-size: 38px; font-weight: 600; padding: 12px 0; } .good { color: #1a7f37; } .bad { color: #cf222e; }
table { border-collapse: collapse; font-size: 11px; width: 100%%; } th, td { border-bottom: 1px solid #eaeef2; padding: 3px 6px; text-align: left; white-space: nowrap; }
td.text { white-space: normal; min-width: 260px; overflow-wrap: anywhere; } th { background: #f6f8fa; } .empty { color: #8c959f; font-size: 12px; padding: 18px 0; }
svg { width: 100%%; height: auto; } svg text { font-family: '%(family)s', sans-serif !important; }
"""


def _format(value, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if unit == "percentunit":
            return f"{value:.1%}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _heat(value) -> str:
    if not isinstance(value, float):
        return ""
    # 0 green .. 1 red, as Grafana's continuous green-yellow-red scheme.
    hue = int(120 * (1 - min(max(value, 0.0), 1.0)))
    return f' style="background: hsl({hue}, 70%, 80%)"'


def _table(columns: list[str], rows: list[tuple], panel: Panel) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column, value in zip(columns, row):
            long = isinstance(value, str) and len(value) > 40  # reasons, payloads: wrapped, never cut off
            cls = ' class="text"' if column in ("text", "detail") or long else ""
            style = _heat(value) if panel.viz == "heatmap" else ""
            unit = panel.unit if panel.viz == "heatmap" else "short"
            cells.append(f"<td{cls}{style}>{html.escape(_format(value, unit))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _stat(rows: list[tuple], panel: Panel, targets: Targets) -> str:
    value = rows[0][0] if rows else None
    target = getattr(targets, panel.target) if panel.target else None
    grade = "" if target is None or value is None else (" good" if value >= target else " bad")
    note = f"<div class='about'>target {target:.0%}</div>" if target is not None else ""
    return f"<div class='stat{grade}'>{html.escape(_format(value, panel.unit) or '–')}</div>{note}"


def _body(panel: Panel, columns: list[str], rows: list[tuple], targets: Targets) -> str:
    if not rows and panel.viz != "stat":
        return "<div class='empty'>No data in this range 暂无数据</div>"
    match panel.viz:
        case "timeseries":
            target = getattr(targets, panel.target) if panel.target else None
            return charts.line_chart(columns, rows, panel.unit, target)
        case "barchart":
            return charts.bar_chart(rows)
        case "stat":
            return _stat(rows, panel, targets)
        case _:
            return _table(columns, rows, panel)


def page_range(store: Store, days: int = 7) -> TimeRange:
    """The last `days` of data up to now (all of it when shorter)."""
    whole = whole_range(store)
    return TimeRange.around(max(whole.start, whole.end - timedelta(days=days)), whole.end)


def render_page(
    store: Store,
    targets: Targets,
    time_range: TimeRange | None = None,
    refresh_s: int | None = None,
    dashboards: Sequence[str] = (),
) -> str:
    """The page as one HTML document (every dashboard, or those whose uids are given): nothing fetched from anywhere."""
    refresh_rollups(store)
    time_range = time_range or page_range(store)
    font = find_cjk_font()
    charts.use_font(font)
    sections = []
    for board in DASHBOARDS:
        if dashboards and board.uid not in dashboards:
            continue
        panels = []
        for panel in board.panels:
            if panel.key == "case_timeline":
                continue  # needs a case picked; the page has no inputs
            try:
                columns, rows = run_sql(store, panel.sql, time_range)
                body = _body(panel, columns, rows, targets)
            except StoreError as exc:
                body = f"<div class='empty'>query failed: {html.escape(str(exc)[:300])}</div>"
            panels.append(
                f"<div class='panel' style='grid-column: span {panel.width}; max-height: {panel.height * 48}px'><h3>{html.escape(panel.title)}</h3>"
                f"<p class='about'>{html.escape(panel.description)}</p>{body}</div>"
            )
        sections.append(
            f"<section><h2>{html.escape(board.title)}</h2><p class='about'>{html.escape(board.description)}</p>"
            f"<div class='grid'>{''.join(panels)}</div></section>"
        )
    now = datetime.now(UTC)
    span = f"{time_range.start:%Y-%m-%d %H:%M} – {time_range.end:%Y-%m-%d %H:%M} UTC"
    refresh = f"<meta http-equiv='refresh' content='{refresh_s}'>" if refresh_s else ""
    live = f" · refreshes every {refresh_s} s" if refresh_s else ""
    header = (
        f"<header><h1>CX report 客户体验报告</h1><p>{span} · {time_range.interval_s // 60} min intervals · "
        f"generated {now:%Y-%m-%d %H:%M:%S} UTC{live} · the same queries as the Grafana dashboards</p></header>"
    )
    content = header + "".join(sections)
    face = font_face(html.unescape(content) + "0123456789", font)
    style = face + STYLE % {"family": FAMILY}
    return (
        f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>{refresh}"
        f"<title>CX report 客户体验报告</title><style>{style}</style></head><body>{content}</body></html>"
    )


def write_page(store: Store, targets: Targets, path: Path, dashboards: Sequence[str] = ()) -> Path:
    """Write the page (every dashboard, or those whose uids are given) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(store, targets, dashboards=dashboards), encoding="utf-8")
    return path
