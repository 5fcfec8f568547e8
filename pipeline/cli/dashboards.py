"""`cx dashboards build|check|push`: Grafana dashboards and alert rules as code."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings

app = typer.Typer(help="Grafana dashboards and alert rules: build the JSON, check every query, push to Grafana.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()


@app.command()
def build(
    check: Annotated[bool, typer.Option("--check", help="Only report whether the committed files are up to date (exit 1 if not)")] = False,
) -> None:
    """Regenerate dashboards/*.json and the Grafana provisioning files from the panel catalogue."""
    from dashboards.build import built_files, write

    targets = Settings.from_env().targets
    if check:
        stale = [p for p, text in built_files(targets).items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            console.print(f"[red]out of date:[/red] {path}")
        raise typer.Exit(1 if stale else 0)
    for path in write(targets):
        console.print(f"wrote {path}")


@app.command("check")
def check_queries(
    channel: Annotated[list[str] | None, typer.Option(help="Channel variable (repeat for several; default All)")] = None,
    department: Annotated[list[str] | None, typer.Option(help="Department variable (default All)")] = None,
    case: Annotated[str | None, typer.Option(help="Case variable (default: the case of the latest breach)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table")] = False,
) -> None:
    """Run every panel's and alert rule's SQL, macros expanded as Grafana would, on the configured
    ClickHouse over all its data; exit 1 if one fails or a panel that should have data has none."""
    from pipeline.panels import DASHBOARDS, alert_rules
    from pipeline.panels.macros import TimeRange
    from pipeline.panels.run import all_selected, run_sql, whole_range
    from pipeline.store import StoreError, open_store
    from pipeline.store.rollups import refresh_rollups

    settings = Settings.from_env()
    try:
        store = open_store(settings)
        refresh_rollups(store)
    except StoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    variables = all_selected()
    if channel:
        variables["channel"] = channel
    if department:
        variables["department"] = department
    if case is None:
        _, rows = store.query("SELECT case_id FROM cx.v_alerts WHERE status = 'breach' ORDER BY detected_at DESC, case_id LIMIT 1")
        case = rows[0][0] if rows else ""
    variables["case"] = case
    time_range = whole_range(store)
    checks = [(b.uid, p.key, p.sql, time_range, p.expects_rows) for b in DASHBOARDS for p in b.panels]
    # Alert rules look back over their own window from the end of the data.
    checks += [
        ("alert rules", r.uid, r.sql, TimeRange(time_range.end - timedelta(seconds=r.window_s), time_range.end, 60), False)
        for r in alert_rules(settings.targets)
    ]
    failed = False
    table = Table("dashboard", "panel", "rows", "result")
    for uid, key, sql, window, expects_rows in checks:
        try:
            _, rows = run_sql(store, sql, window, variables)
            result, count = ("ok" if rows or not expects_rows else "no rows"), len(rows)
        except StoreError as exc:
            result, count = f"error: {exc}", None
        failed |= result != "ok"
        if as_json:
            out.print(json.dumps({"dashboard": uid, "panel": key, "rows": count, "result": result}, ensure_ascii=False), soft_wrap=True)
        else:
            table.add_row(uid, key, "" if count is None else str(count), result)
    if not as_json:
        out.print(table)
    raise typer.Exit(1 if failed else 0)


@app.command()
def push(
    url: Annotated[str, typer.Option(help="Grafana's address, e.g. https://grafana.example.com")],
) -> None:
    """Create or update the folder, ClickHouse datasource, dashboards and alert rules in Grafana
    (token: CX_GRAFANA_TOKEN; datasource password: CX_GRAFANA_CLICKHOUSE_PASSWORD). Idempotent."""
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    from dashboards.push import push as push_all

    settings = Settings.from_env()
    if settings.grafana_token is None:
        console.print("[red]error:[/red] set CX_GRAFANA_TOKEN to a Grafana service-account token (Editor or Admin)")
        raise typer.Exit(2)
    api = GrafanaApi.from_url(url, credential=settings.grafana_token.get_secret_value())
    password = settings.grafana_clickhouse_password
    try:
        changes = push_all(api, settings.targets, password.get_secret_value() if password else None)
    except GrafanaException as exc:
        console.print(f"[red]error:[/red] Grafana answered {exc.status_code}: {exc.message}")
        raise typer.Exit(1) from None
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot reach Grafana at {url}: {exc}")
        raise typer.Exit(1) from None
    table = Table("kind", "uid", "action")
    for change in changes:
        table.add_row(change.kind, change.uid, change.action)
    out.print(table)
