"""Charts as inline SVG (matplotlib), their text left as text so the page's embedded font draws it."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

PALETTE = ["#3274d9", "#e0752d", "#56a64b", "#a352cc", "#f2cc0c", "#e02f44", "#8ab8ff", "#6b7280"]
plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "cx", "axes.prop_cycle": plt.cycler(color=PALETTE), "font.size": 9})


@lru_cache(maxsize=4)
def use_font(font: Path | None) -> None:
    """Measure text with the CJK font (the page draws it with the same font)."""
    if font is not None:
        font_manager.fontManager.addfont(str(font))
        name = font_manager.FontProperties(fname=str(font)).get_name()
        plt.rcParams["font.family"] = [name, "DejaVu Sans"]


def _time(value) -> datetime:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _percent(axis, unit: str) -> None:
    if unit == "percentunit":
        axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def line_chart(columns: list[str], rows: list[tuple], unit: str, target: float | None) -> str:
    """Rows of (time, value...) or (time, label, value): one line per value column or label."""
    series: dict[str, tuple[list, list]] = {}
    long_format = len(columns) == 3 and rows and isinstance(rows[0][1], str)
    for row in rows:
        when = _time(row[0])
        pairs = [(str(row[1]), row[2])] if long_format else list(zip(columns[1:], row[1:]))
        for name, value in pairs:
            xs, ys = series.setdefault(name, ([], []))
            xs.append(when)
            ys.append(float("nan") if value is None else value)
    fig, axis = plt.subplots(figsize=(6.4, 2.6))
    for name, (xs, ys) in sorted(series.items()):
        axis.plot(xs, ys, label=name, linewidth=1.4)
    if target is not None:
        axis.axhline(target, color="#e02f44", linestyle="--", linewidth=1, label=f"target {target:.0%}" if unit == "percentunit" else "target")
    _percent(axis, unit)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    axis.grid(alpha=0.3)
    axis.spines[["top", "right"]].set_visible(False)
    if series or target is not None:
        axis.legend(fontsize=7, ncol=4, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.15))
    return _svg(fig)


def bar_chart(rows: list[tuple]) -> str:
    """Rows of (label, value), longest bar on top."""
    labels = [str(r[0]) for r in rows][::-1]
    values = [r[1] or 0 for r in rows][::-1]
    fig, axis = plt.subplots(figsize=(6.4, max(1.2, 0.22 * len(rows) + 0.6)))
    bars = axis.barh(labels, values, color=PALETTE[0])
    axis.bar_label(bars, fontsize=7, padding=2)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="x", alpha=0.3)
    return _svg(fig)
