"""`cx`: run the local stack, feed events, query ClickHouse, analyse text."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.cli import alerts, dashboards, imports, sla, text
from pipeline.config import Settings, SettingsError

app = typer.Typer(
    help="Streaming customer-experience analytics: touchpoints and Chinese reviews -> Kafka -> Faust -> ClickHouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # Faust and aiokafka report every rebalance step at WARNING; the demo's progress bar says enough.
        for name in ("faust", "aiokafka", "kafka", "mode"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@app.callback()
def _settings_first() -> None:
    """Check every CX_* variable before any command starts: a bad one is one line, exit 2."""
    try:
        Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))


def _stop_on_signal() -> threading.Event:
    """An event SIGINT or SIGTERM sets: a command that serves until Ctrl-C stops on either, even
    started as a background job (which starts with SIGINT ignored, so no KeyboardInterrupt comes)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )  # fmt: skip


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (default: CX_KAFKA_BOOTSTRAP's port)")] = 0,
) -> None:
    """Run the local Kafka-protocol broker (Tansu) in the foreground and create the topics."""
    from pipeline.broker import LocalBroker, ensure_topics

    settings = Settings.from_env()
    port = port or int(settings.kafka_bootstrap.rsplit(":", 1)[-1])
    with LocalBroker(port=port) as local:
        topics = ensure_topics(settings.model_copy(update={"kafka_bootstrap": local.bootstrap}))
        console.print(f"broker on [bold]{local.bootstrap}[/] (pid {local.pid}); topics: {', '.join(topics)}")
        console.print(
            f"Workers against it: CX_KAFKA_BOOTSTRAP={local.bootstrap} "
            "CX_KAFKA_SESSION_TIMEOUT=6 cx worker. Ctrl-C stops it."
        )
        stop = _stop_on_signal()
        while local.running and not stop.wait(0.5):
            pass


@app.command()
def worker(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the stream worker (Faust agents) against CX_KAFKA_BOOTSTRAP, writing to the configured ClickHouse."""
    from pipeline.alerts import AlertsConfigError
    from pipeline.broker import ensure_topics
    from pipeline.broker.exceptions import BrokerUnavailable
    from pipeline.delivery.runner import open_notices
    from pipeline.sla import PolicyError, load_policy
    from pipeline.store import StoreError, open_store
    from streams.kafka.internals import EngineMismatch, check
    from streams.worker import run_worker

    # A stop asked for while the worker starts (an orchestrator's SIGTERM) is a clean exit too.
    stop = _stop_on_signal()
    _logging(verbose)
    logging.getLogger("cx").setLevel(logging.INFO)
    settings = Settings.from_env()
    try:
        check()  # an upgraded Faust or aiokafka that changed a member the engine uses
        load_policy(settings.sla_policy)  # a mistake in it is said now, not by a child process later
        ensure_topics(settings)  # no broker: said in one line before the store, page and worker start
        store = open_store(settings)
        notices = open_notices(settings, store)
    except (StoreError, AlertsConfigError, PolicyError, BrokerUnavailable, EngineMismatch) as exc:
        _fail(str(exc))
    console.print(f"worker [bold]{settings.app_id}[/]: {settings.kafka_bootstrap} -> {store.description}")
    page = _serve_page(settings, store)
    try:
        asyncio.run(run_worker(settings, store, notices=notices, stop=stop))
    finally:
        if page is not None:
            page.stop()
    _leave(store)


def _leave(store) -> NoReturn:
    """Exit 0 once a streaming command is done: close the store, skip the teardown."""
    from pipeline.store import exit_without_teardown

    store.close()
    exit_without_teardown()


def _serve_page(settings: Settings, store):
    """Start the live report page (CX_REPORT_PORT; a taken port falls back to a free one)."""
    from pipeline.page import PageServer

    if settings.report_port is None:
        return None
    try:
        page = PageServer(store, settings.targets, settings.report_port)
    except OSError:
        page = PageServer(store, settings.targets, 0)
    console.print(f"live report page: [bold]{page.url}[/] (refreshes every 30 s)")
    return page.start()


@app.command()
def produce(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines")]) -> None:
    """Send each line to cx.touchpoints (has event_id) or cx.reviews (has review_id)."""
    from pipeline.broker.exceptions import BrokerUnavailable
    from pipeline.produce import MAX_MESSAGE_BYTES, json_lines, produce_lines

    settings = Settings.from_env()
    # Bytes, not text: a line that is not UTF-8 is sent as it is and dead-lettered, not a crash here.
    lines = json_lines(file.read_bytes())
    with _progress() as progress:
        task = progress.add_task("producing", total=len(lines))
        try:
            fed = produce_lines(settings, lines, on_sent=lambda n: progress.advance(task, n))
        except BrokerUnavailable as exc:
            _fail(f"{exc}: nothing was sent (check CX_KAFKA_BOOTSTRAP)")
    console.print(
        f"sent {fed.total}: {fed.touchpoints} touchpoints, {fed.reviews} reviews, "
        f"{fed.invalid} invalid (the worker dead-letters those)"
    )
    for numbers, why in ((fed.too_large, f"over {MAX_MESSAGE_BYTES:,} bytes (no broker takes them)"), (fed.unsent, "not acknowledged by the broker")):
        if numbers:
            shown = ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")
            _fail(f"{len(numbers)} lines were not sent, {why}; send them again: line {shown}")


@app.command()
def ingest(
    port: Annotated[int | None, typer.Option(help="Port (default: CX_INGEST_PORT; 0: a free one)")] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: CX_INGEST_HOST, loopback)")] = None,
) -> None:
    """Serve POST /v1/touchpoints, /v1/reviews and /v1/chatwoot: events to Kafka, answered once the broker holds them."""
    from pipeline.broker.exceptions import BrokerUnavailable
    from pipeline.ingest.service import parse_tokens, serve

    _logging(False)
    logging.getLogger("cx").setLevel(logging.INFO)
    settings = Settings.from_env()
    if settings.ingest_tokens is None:
        _fail("CX_INGEST_TOKENS is not set: give each sending system a token, e.g. CX_INGEST_TOKENS='crm=...,chat=...' (see docs/ingest.md)")
    try:
        sources = sorted(set(parse_tokens(settings.ingest_tokens.get_secret_value()).values()))
    except ValueError as exc:
        _fail(str(exc))
    stopped = _stop_on_signal()

    async def run() -> None:
        stop = asyncio.Event()

        async def watch() -> None:  # the signal handler sets a threading event: look at it from the loop
            while not stopped.is_set():
                await asyncio.sleep(0.2)
            stop.set()

        watching = asyncio.ensure_future(watch())
        try:
            await serve(settings, stop, port, host, lambda url: console.print(f"cx ingest at [bold]{url}[/] for {', '.join(sources)}"))
        finally:
            watching.cancel()

    try:
        asyncio.run(run())
    except BrokerUnavailable as exc:
        _fail(str(exc))
    except OSError as exc:  # the port is taken, the address is not ours
        _fail(f"cannot listen: {exc}")


@app.command()
def generate(
    events: Annotated[int, typer.Option(min=1, help="Number of valid events (touchpoints + reviews)")] = 20_000,
    out_file: Annotated[Path, typer.Option("--out", help="Output JSON lines file")] = Path("events.jsonl"),
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file")] = 7,
    start: Annotated[str, typer.Option(help="Start time, RFC 3339 (default 2026-11-02T08:00:00+08:00)")] = "",
    malformed: Annotated[int, typer.Option(min=0, help="Malformed lines to mix in (they must reach the DLQ)")] = 0,
    lag: Annotated[list[str] | None, typer.Option(help="SOURCE=DURATION: that source's events arrive this late (e.g. field-app=15m); repeatable")] = None,
) -> None:
    """Write a realistic, deterministic workload of cases and reviews, in the order they arrive."""
    from pipeline.generate import generate as make
    from pipeline.generate.workload import DEFAULT_START

    try:
        begin = datetime.fromisoformat(start) if start else DEFAULT_START
    except ValueError:
        _fail(f"--start is not an RFC 3339 time: {start!r}")
    if begin.tzinfo is None:
        _fail("--start needs a UTC offset, e.g. 2026-11-02T08:00:00+08:00")
    workload = make(events, seed=seed, start=begin, malformed=malformed, lag=_lags(lag))
    out_file.write_text("\n".join(workload.lines) + "\n", encoding="utf-8")
    console.print(
        f"wrote {len(workload.lines)} lines to {out_file}: {workload.touchpoints} touchpoints, "
        f"{workload.reviews} reviews, {workload.malformed} malformed"
    )


def _lags(pairs: list[str] | None) -> dict[str, timedelta]:
    """`--lag SOURCE=DURATION` options as source -> lag; a mistake ends the command in one line."""
    from pipeline.sla.policy import parse_duration

    lags = {}
    for pair in pairs or []:
        source, sep, duration = pair.partition("=")
        value = parse_duration(duration) if sep else None
        if not source or not isinstance(value, timedelta):
            _fail(f"--lag {pair!r}: expected SOURCE=DURATION, e.g. field-app=15m")
        lags[source] = value
    return lags


@app.command()
def migrate(
    cluster: Annotated[str | None, typer.Option(help="ClickHouse cluster name (remote_servers): replicated tables + Distributed ones, ON CLUSTER")] = None,
    print_ddl: Annotated[bool, typer.Option("--print", help="Print the DDL instead of applying it (needs no ClickHouse)")] = False,
) -> None:
    """Bring the ClickHouse schema up to date: every migration once, then the raw-text TTLs."""
    from pipeline.store import StoreError, open_store
    from pipeline.store.migrations import apply_migrations, ledger_statements, load_migrations, migration_statements
    from pipeline.store.retention import apply_text_retention

    settings = Settings.from_env(clickhouse_cluster=cluster)
    try:
        if print_ddl:
            statements = ledger_statements(cluster=settings.clickhouse_cluster)
            statements += [s for m in load_migrations() for s in migration_statements(m, settings.clickhouse_cluster)]
            out.print("\n\n".join(f"{s};" for s in statements), markup=False, highlight=False, soft_wrap=True)
            return
        store = open_store(settings, migrate=False)
        applied = apply_migrations(store, cluster=settings.clickhouse_cluster)
        ttl = apply_text_retention(store, settings.text_retention_days, cluster=settings.clickhouse_cluster)
    except (StoreError, ValueError) as exc:
        _fail(str(exc))
    where = f"cluster {settings.clickhouse_cluster} via {store.description}" if settings.clickhouse_cluster else store.description
    console.print(f"{where}: applied {', '.join(applied) or 'nothing (up to date)'}; text TTL changed on {len(ttl)} columns")


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run; '-' or nothing (with -f absent): read it from stdin")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", exists=True, dir_okay=False, help="Read the SQL from this file")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="table (for people; the default), csv, tsv, json or jsonl (for pipes)")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="name=value for a {name:Type} parameter; repeatable")] = None,
) -> None:
    """Query ClickHouse (embedded by default). A table for people (a single value prints bare); CSV, TSV,
    JSON or JSON Lines for pipes (--format, or the query's own FORMAT clause); parameters as ClickHouse's
    {name:Type}, given with --param (never pasted into the SQL)."""
    from pipeline.cli.results import FORMATS, UnknownFormat, parse_params, render, split_format
    from pipeline.store import StoreError, open_store

    if file is not None and query not in (None, "-"):
        _fail("give the SQL as an argument or with -f FILE, not both")
    text = file.read_text(encoding="utf-8") if file is not None else query
    if text in (None, "-"):
        if sys.stdin.isatty():
            _fail('no query: cx sql "SELECT ...", cx sql -f query.sql, or the SQL on stdin')
        text = sys.stdin.read()
    assert text is not None
    if fmt is not None and fmt not in FORMATS:
        _fail(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    try:
        body, asked = split_format(text.strip().rstrip(";"))
        params = parse_params(param or [])
    except (UnknownFormat, ValueError) as exc:
        _fail(str(exc))
    if not body.strip():
        _fail("the query is empty")
    chosen = fmt or asked or "table"
    settings = Settings.from_env()
    try:
        store = open_store(settings)
        columns, rows = store.query(body, params or None)
    except StoreError as exc:
        _fail(_first_line(str(exc)))
    if chosen != "table":
        sys.stdout.write(render(columns, rows, chosen))  # type: ignore[arg-type]
        return
    if len(rows) == 1 and len(columns) == 1:
        out.print(rows[0][0])
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    console.print(f"{len(rows)} rows")


def _first_line(message: str) -> str:
    """ClickHouse's error without its stack trace: what a person needs to fix the query."""
    head = message.strip().splitlines()[0] if message.strip() else message
    return head.split(". Stack trace")[0].split(" (version ")[0]


@app.command()
def demo(
    events: Annotated[int, typer.Option(min=1, help="Events to generate when no --input is given")] = 60_000,
    input_file: Annotated[Path | None, typer.Option("--input", exists=True, dir_okay=False, help="JSON lines to feed instead")] = None,
    malformed: Annotated[int | None, typer.Option(min=0, help="Malformed lines mixed into generated events (default 0.5%)")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Add to the embedded store's data instead of starting empty")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Keep serving the live report page after the run, until Ctrl-C")] = False,
    lag: Annotated[list[str] | None, typer.Option(help="SOURCE=DURATION: a generated source's events arrive this late (default: field-app=15m)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start a local broker and a worker, feed events, wait until every one landed, print a summary,
    write the report (Markdown and a self-contained HTML page); the live page is served meanwhile.

    On the embedded store the demo starts from empty tables (unless --keep), so its counts are the
    run's own; a ClickHouse server (CX_CLICKHOUSE_URL) is never emptied."""
    from pipeline.alerts import AlertsConfigError
    from pipeline.broker import LocalBroker
    from pipeline.delivery.runner import open_notices
    from pipeline.generate import generate as make
    from pipeline.page.render import write_page
    from pipeline.produce import json_lines
    from pipeline.report import gather, print_summary, write_report
    from pipeline.sla import PolicyError, load_policy
    from pipeline.store import StoreError, empty_data_tables, open_store
    from pipeline.store.tables import DATA_TABLES
    from streams.demo import feed_and_wait

    _logging(verbose)
    base = Settings.from_env()
    if input_file is not None:
        lines: list[str] | list[bytes] = json_lines(input_file.read_bytes())
        source = str(input_file)
    else:
        bad = malformed if malformed is not None else max(1, events // 200)
        # The feed ends now (later events have not happened yet), so dashboards show a live day
        # and cases still waiting at the end are really waiting.
        now = datetime.now(timezone.utc).replace(microsecond=0)
        start = (now - timedelta(seconds=events * 5 / 3, hours=84)).astimezone(timezone(timedelta(hours=8)))
        # The field-service app syncs every quarter of an hour: its events arrive late, behind the
        # case clock, and correct their cases (docs/sla.md); the lateness panels show it.
        workload = make(events, seed=7, start=start, malformed=bad, until=now, lag=_lags(lag or ["field-app=15m"]))
        lines = workload.lines
        source = f"{workload.touchpoints + workload.reviews} generated events + {bad} malformed"
    try:
        load_policy(base.sla_policy)  # a mistake in it is said now, not by a child process later
        store = open_store(base)
        if not keep and not base.clickhouse_url:
            empty_data_tables(store)
        notices = open_notices(base, store)
    except (StoreError, AlertsConfigError, PolicyError) as exc:
        _fail(str(exc))
    page = _serve_page(base, store)
    with LocalBroker(log=base.data_dir / "broker.log") as local:
        settings = base.for_local_broker(local.bootstrap)
        console.print(f"broker {local.bootstrap} · store {store.description} · feeding {source}")
        with _progress() as progress:
            sent = progress.add_task("produced", total=len(lines))
            landed_task = progress.add_task("landed  ", total=len(lines))
            result = asyncio.run(
                feed_and_wait(
                    settings, store, lines,
                    on_sent=lambda n: progress.advance(sent, n),
                    on_landed=lambda now: progress.update(landed_task, completed=now.touchpoints + now.reviews + now.dlq),
                    notices=notices,
                )
            )  # fmt: skip
    for table in DATA_TABLES:
        store.execute(f"OPTIMIZE TABLE {table} FINAL")
    summary = gather(store, result)
    print_summary(out, summary)
    report = write_report(summary, base.data_dir / "report.md")
    console.print(f"report written to {report}")
    console.print(f"report page written to {write_page(store, base.targets, base.data_dir / 'report.html')}")
    if page is not None:
        if serve:
            console.print(f"serving {page.url} until Ctrl-C")
            _stop_on_signal().wait()
        page.stop()
    _leave(store)


@app.command()
def report(
    out_file: Annotated[Path | None, typer.Option("--out", help="Markdown file (default: CX_DATA_DIR/report.md)")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write the dashboards as one self-contained HTML page")] = None,
    dashboard: Annotated[
        list[str] | None, typer.Option("--dashboard", help="With --html: only this dashboard's section (its uid, e.g. cx-latency); repeatable")
    ] = None,
) -> None:
    """Print the summary of what is in ClickHouse (landed rows, satisfaction and reply waits by channel,
    breaches by rule, notices) and write it as Markdown; --html adds the page with every panel."""
    from pipeline.page.render import write_page
    from pipeline.panels import DASHBOARDS
    from pipeline.report import gather, print_summary, write_report
    from pipeline.store import StoreError, open_store

    known = [board.uid for board in DASHBOARDS]
    if unknown := [uid for uid in dashboard or [] if uid not in known]:
        _fail(f"--dashboard {unknown[0]}: no such dashboard; one of {', '.join(known)}")

    settings = Settings.from_env()
    try:
        store = open_store(settings)
        summary = gather(store)
        print_summary(out, summary)
        path = write_report(summary, out_file or settings.data_dir / "report.md")
        page = write_page(store, settings.targets, html_file, dashboard or ()) if html_file is not None else None
    except StoreError as exc:
        _fail(str(exc))
    console.print(f"report written to {path}")
    if page is not None:
        console.print(f"report page written to {page}")


app.add_typer(text.app, name="text")
app.add_typer(alerts.app, name="alerts")
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(sla.app, name="sla")
app.add_typer(imports.app, name="import")


def main() -> None:
    """Entry point of the `cx` script."""
    from pipeline.errors import CxError

    try:
        app()
    except CxError as exc:  # one we raise on purpose and no command caught: its message, not a traceback
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    sys.exit(main())
