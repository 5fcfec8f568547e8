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
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, PercentFormatter  # noqa: E402

from pipeline.events.models import Channel  # noqa: E402

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


# One colour per channel in every chart, so "chat" is the same colour everywhere on the page.
CHANNEL_COLOURS = dict(zip((c.value for c in Channel), PALETTE, strict=False))
SMALL_MULTIPLES = 4  # more series than this are drawn one small chart each, not over each other
SPAN_FOR_LOG = 100  # waits whose largest and smallest differ more than this go on a log axis
NICE_WAITS = (1, 10, 60, 600, 3600, 4 * 3600, 86400, 7 * 86400)  # log-axis ticks: 1 s, 10 s, 1 min ... 1 week


def _colour(name: str, n: int) -> str:
    return CHANNEL_COLOURS.get(name, PALETTE[n % len(PALETTE)])


def _duration(seconds: float, _pos=None) -> str:
    """A wait as people say it: 45 s, 12 min, 3.5 h, 2 d."""
    if seconds < 90:
        return f"{seconds:g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d".replace(".0 d", " d")


def _value_axis(axis, unit: str, values: list[float]) -> None:
    """Percent as percent; durations in s/min/h/d, on a log axis when they span orders of magnitude;
    counts on whole numbers."""
    if unit == "percentunit":
        # Decimals from the shown range: a share between 97% and 100% gets 97.5%, not 98% twice.
        axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    elif unit != "s" and all(v == v and float(v).is_integer() for v in values):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    if unit == "s":
        positive = [v for v in values if v == v and v > 0]
        if positive and max(positive) / min(positive) > SPAN_FOR_LOG:
            axis.set_yscale("log")
            low, high = min(positive), max(positive)
            axis.yaxis.set_major_locator(FixedLocator([t for t in NICE_WAITS if low / 3 <= t <= high * 3]))
        axis.yaxis.set_major_formatter(FuncFormatter(_duration))
        axis.yaxis.set_minor_formatter(NullFormatter())


def _time_axis(axis) -> None:
    locator = mdates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axis.grid(alpha=0.3)
    axis.spines[["top", "right"]].set_visible(False)


def line_chart(columns: list[str], rows: list[tuple], unit: str, target: float | None) -> str:
    """Rows of (time, value...) or (time, label, value): one line per value column or label; more
    than `SMALL_MULTIPLES` series are drawn as small multiples sharing their axes."""
    series: dict[str, tuple[list, list]] = {}
    long_format = len(columns) == 3 and rows and isinstance(rows[0][1], str)
    for row in rows:
        when = _time(row[0])
        pairs = [(str(row[1]), row[2])] if long_format else list(zip(columns[1:], row[1:]))
        for name, value in pairs:
            xs, ys = series.setdefault(name, ([], []))
            xs.append(when)
            ys.append(float("nan") if value is None else value)
    every = [v for _, ys in series.values() for v in ys]
    names = sorted(series, key=lambda n: (list(CHANNEL_COLOURS).index(n) if n in CHANNEL_COLOURS else 99, n))
    target_label = (f"target {target:.0%}" if unit == "percentunit" else "target") if target is not None else None
    if len(names) > SMALL_MULTIPLES:
        cols = 4
        rows_n = -(-len(names) // cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(6.4, 1.45 * rows_n + 0.3), sharex=True, sharey=True, squeeze=False)
        for i, axis in enumerate(axes.flat):
            if i >= len(names):
                axis.set_visible(False)
                continue
            xs, ys = series[names[i]]
            axis.plot(xs, ys, linewidth=1.1, color=_colour(names[i], i))
            axis.set_title(names[i], fontsize=8, loc="left", pad=2)
            if target is not None:
                axis.axhline(target, color="#e02f44", linestyle="--", linewidth=0.8)
            _value_axis(axis, unit, every)
            _time_axis(axis)
            # Small: a date or two under each, not a crowd of times.
            axis.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=3))
            axis.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
            axis.tick_params(labelsize=6)
        fig.tight_layout(h_pad=0.6, w_pad=0.4)
        return _svg(fig)
    fig, axis = plt.subplots(figsize=(6.4, 2.6))
    for i, name in enumerate(names):
        xs, ys = series[name]
        axis.plot(xs, ys, label=name, linewidth=1.4, color=_colour(name, i))
    if target is not None:
        axis.axhline(target, color="#e02f44", linestyle="--", linewidth=1, label=target_label)
    _value_axis(axis, unit, every)
    _time_axis(axis)
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
