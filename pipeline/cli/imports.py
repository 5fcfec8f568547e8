"""`cx import`: bring exported files in as events."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings
from pipeline.events.models import Channel

app = typer.Typer(help="Import exported files (reviews from CSV or Excel) as events.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
SHOWN = 20  # rejected rows listed on the terminal (all of them with --rejects FILE)


def _fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@app.command()
def reviews(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, TSV or XLSX export, one review per row under a header row")],
    map_: Annotated[
        str, typer.Option("--map", help="field=column,... for fields text, ts, rating, customer_id, review_id, case_id, channel, source (usual headers such as 评论内容, 评价时间, 评分 are found without it)")
    ] = "",
    channel: Annotated[Channel, typer.Option(help="Channel of every review without a channel column")] = Channel.app,
    source: Annotated[str, typer.Option(help="Source of every review without a source column (default: the file's name)")] = "",
    tz: Annotated[str, typer.Option(help="Time zone of times written without an offset")] = "Asia/Shanghai",
    encoding: Annotated[str, typer.Option(help="Encoding of a CSV file (default: UTF-8, else GB18030/GBK)")] = "",
    sheet: Annotated[str, typer.Option(help="Sheet of an Excel file (default: the first)")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the first rows mapped and the rejected rows; send nothing")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Write every rejected row here (CSV: line, reason, then the row)")] = None,
) -> None:
    """Send each row of a review export to cx.reviews; rows that are not reviews are reported by line, not sent."""
    from pipeline.broker.exceptions import BrokerUnavailable
    from pipeline.ingest.review_file import ReviewFileError, map_rows, parse_map, read_table, resolve_columns
    from pipeline.produce import produce_lines

    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"--tz {tz!r} is not a time zone (e.g. Asia/Shanghai, UTC)")
    try:
        table = read_table(file, encoding or None, sheet or None)
        columns = resolve_columns(table.header, parse_map(map_))
    except ReviewFileError as exc:
        _fail(str(exc))
    rows = list(map_rows(table, columns, channel, source or file.stem, zone))
    good = [r for r in rows if r.reason is None]
    bad = [r for r in rows if r.reason is not None]
    console.print(
        f"{file.name} ({table.encoding}): {len(rows)} rows; columns "
        + ", ".join(f"{name}={table.header[i]}" for name, i in columns.items())
    )
    if dry_run:
        shown = Table("line", "review_id", "customer_id", "ts", "rating", "text", title="first rows, as they would be sent")
        for r in good[:10]:
            v = r.review or {}
            text = v["text"].replace("\n", " ")
            text = text if len(text) <= 40 else text[:39] + "…"
            shown.add_row(str(r.line), v["review_id"], v["customer_id"], v["ts"], str(v.get("rating", "")), text)
        console.print(shown)
    if bad:
        console.print(f"[yellow]{len(bad)} rows rejected[/] (not sent; fix them and import the file again: a row sent twice shows once in the views):")
        for r in bad[:SHOWN]:
            console.print(f"  line {r.line}: {r.reason}")
        if len(bad) > SHOWN:
            console.print(f"  ... and {len(bad) - SHOWN} more" + ("" if rejects else ": --rejects FILE writes them all"))
        if rejects is not None:
            by_line = dict(table.rows)
            with rejects.open("w", newline="", encoding="utf-8-sig") as f:  # a BOM, so Excel opens it as UTF-8
                writer = csv.writer(f)
                writer.writerow(["line", "reason", *table.header])
                for r in bad:
                    writer.writerow([r.line, r.reason, *by_line[r.line]])
            console.print(f"rejected rows written to {rejects}")
    if dry_run:
        console.print(f"dry run: {len(good)} reviews would be sent to cx.reviews, nothing was sent")
        return
    if not good:
        _fail("no row is a review: nothing was sent")
    try:
        fed = produce_lines(Settings.from_env(), [r.value for r in good])
    except BrokerUnavailable as exc:
        _fail(f"{exc}: nothing was sent (check CX_KAFKA_BOOTSTRAP)")
    console.print(f"sent {fed.reviews} reviews to cx.reviews")
    if fed.unsent or fed.too_large:
        lines = [good[n - 1].line for n in fed.unsent + fed.too_large]
        _fail(f"{len(lines)} rows were not acknowledged by the broker: import the file again (a row sent twice shows once in the views): line {', '.join(map(str, lines[:20]))}")
