"""The run summary: printed by `cx demo` and written as a Markdown report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.table import Table

from pipeline.store import Store
from pipeline.summary import Landed, landed, summary_sections

WALL_TIME = "wall time"  # the run's row in the summary and report (bench.demo reads it back)


class RunResult(Protocol):
    """What a feed run knows about itself."""

    fed: object
    landed: Landed
    seconds: float
    progress: object  # the worker's counters (streams.progress.Progress)


def _totals(store: Store, result: RunResult | None) -> list[tuple[str, str]]:
    now = landed(store)
    rows = []
    if result is not None:
        fed = result.fed
        rows += [
            ("events in", f"{fed.total}"),
            ("  touchpoints fed", f"{fed.touchpoints}"),
            ("  reviews fed", f"{fed.reviews}"),
            ("  invalid fed", f"{fed.invalid}"),
        ]
    rows += [
        ("touchpoints landed", f"{now.touchpoints}"),
        ("reviews landed", f"{now.reviews}"),
        ("DLQ (rejected, with reason)", f"{now.dlq}"),
    ]
    if result is not None and result.seconds > 0:
        rows.append((WALL_TIME, f"{result.seconds:.1f} s ({result.fed.total / result.seconds:,.0f} events/s)"))
        worker = result.progress
        rows.append(("landing batches", f"{worker.landing_batches} (largest {worker.largest_landing_batch})"))
        rows.append(("case takes", f"{worker.case_takes} (largest {worker.largest_case_take} touchpoints)"))
    return rows


@dataclass(frozen=True)
class Summary:
    """The figures of a summary, queried once for the terminal and the Markdown file."""

    totals: list[tuple[str, str]]
    sections: list[tuple[str, tuple[list[str], list[tuple]]]]


def gather(store: Store, result: RunResult | None = None) -> Summary:
    """Query the totals and the summary panels."""
    return Summary(_totals(store, result), summary_sections(store))


def print_summary(console: Console, summary: Summary) -> None:
    """Print the totals and the summary panels."""
    totals = Table("measure", "value", title="cx demo summary")
    for name, value in summary.totals:
        totals.add_row(name, value)
    console.print(totals)
    for title, (columns, rows) in summary.sections:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


def write_report(summary: Summary, path: Path) -> Path:
    """Write the summary as Markdown to `path`."""
    lines = [f"# cx run report ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "", "| measure | value |", "|---|---|"]
    lines += [f"| {name.strip()} | {value} |" for name, value in summary.totals]
    for title, (columns, rows) in summary.sections:
        lines += ["", f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
