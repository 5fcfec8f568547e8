"""Grafana as code: the committed JSON is what the code builds, every panel and alert rule query runs
on ClickHouse loaded by a real demo run, and the plugin's macros expand as the plugin expands them."""

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from dashboards.build import ALERT_RULES_FILE, built_files
from fontTools.ttLib import TTFont

from pipeline.config import Settings, Targets
from pipeline.events.models import Channel
from pipeline.panels import DASHBOARDS, TimeRange, alert_rules, expand

pytestmark = pytest.mark.slow

CX = str(Path(sys.executable).with_name("cx"))
ENV_ONLY = ("live page", "live page type")
BOARDS = {b.uid: json.loads((Path(__file__).resolve().parents[1] / "dashboards" / f"{b.uid}.json").read_text()) for b in DASHBOARDS}


def test_committed_files_are_what_the_code_builds():
    stale = [str(p) for p, text in built_files(Targets()).items() if p.read_text(encoding="utf-8") != text]
    assert stale == [], "run `cx dashboards build` and commit the result"


def test_every_panel_queries_the_clickhouse_datasource_in_raw_sql():
    panels = [p for board in BOARDS.values() for p in board["panels"]]
    assert len(panels) == sum(len(b.panels) for b in DASHBOARDS)
    for panel in panels:
        (target,) = panel["targets"]
        assert target["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": "cx-clickhouse"}
        assert target["editorType"] == "sql" and target["rawSql"].lstrip().upper().startswith("SELECT")
        # The plugin's formats: 0 time series, 1 table.
        assert (target["format"], target["queryType"]) == ((0, "timeseries") if panel["type"] == "timeseries" else (1, "table"))
        assert "cx.touchpoints " not in target["rawSql"] and "FROM cx.alerts" not in target["rawSql"]  # views and rollups only
    # Panels tile the 24-column grid without overlapping.
    for board in BOARDS.values():
        cells = set()
        for panel in board["panels"]:
            g = panel["gridPos"]
            area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert g["x"] + g["w"] <= 24 and not cells & area
            cells |= area


def test_template_variables_and_target_lines():
    for uid, board in BOARDS.items():
        names = [v["name"] for v in board["templating"]["list"]]
        assert names[:2] == ["channel", "department"]
        assert ("case" in names) == (uid == "cx-latency")  # breach notices link to cx-latency?var-case=
        channel = board["templating"]["list"][0]
        assert channel["query"].split(",") == [c.value for c in Channel] and channel["includeAll"] and channel["multi"]
    # Targets are drawn as dashed threshold lines at the configured value.
    satisfaction = next(p for p in BOARDS["cx-overview"]["panels"] if p["title"].startswith("Satisfaction share 满意度"))
    assert satisfaction["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert [s["value"] for s in satisfaction["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.98]
    follow_up = next(p for p in BOARDS["cx-closed-loop"]["panels"] if p["title"].startswith("Follow-up rate"))
    assert [s["value"] for s in follow_up["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 1.0]


def test_targets_come_from_settings(monkeypatch):
    monkeypatch.setenv("CX_TARGET_SATISFACTION", "0.9")
    monkeypatch.setenv("CX_TARGET_SLA", "0.8")
    targets = Settings.from_env().targets
    assert (targets.satisfaction, targets.sla, targets.follow_up) == (0.9, 0.8, 1.0)
    files = built_files(targets)
    overview = json.loads(files[next(p for p in files if p.name == "cx-overview.json")])
    assert 0.9 in [s["value"] for p in overview["panels"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert "params:\n            - 0.8\n" in files[ALERT_RULES_FILE]


def test_alert_rules_file_is_grafana_file_provisioning():
    document = yaml.safe_load(ALERT_RULES_FILE.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1 and "alert" in ALERT_RULES_FILE.name
    (group,) = document["groups"]
    assert group["interval"] == "1m" and group["folder"]
    rules = {r["uid"]: r for r in group["rules"]}
    assert set(rules) == {"cx-sla-attainment", "cx-negative-spike", "cx-aspect-complaints", "cx-source-lagging"}
    assert rules["cx-sla-attainment"]["for"] == "10m"
    for rule in rules.values():
        query, threshold = rule["data"]
        assert rule["condition"] == threshold["refId"] == "B" and threshold["datasourceUid"] == "__expr__"
        assert threshold["model"]["type"] == "threshold" and threshold["model"]["expression"] == "A"
        assert query["datasourceUid"] == "cx-clickhouse" and query["relativeTimeRange"]["from"] > 0
        assert query["model"]["format"] == 1 and rule["noDataState"] in ("OK", "NoData", "Alerting")
        assert rule["execErrState"] in ("OK", "Error", "Alerting") and rule["labels"]["team"] == "cx"
    for path in (ALERT_RULES_FILE.parent / "cx-alert-contact-points.yaml", ALERT_RULES_FILE.parents[1] / "dashboards" / "cx.yaml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["apiVersion"] == 1


RANGE = TimeRange(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), datetime(2026, 11, 3, 8, 0, 30, tzinfo=UTC), 300)


def test_macros_expand_as_the_plugin_does():
    # The plugin: toDateTime(unix seconds), fromUnixTimestamp64Milli(ms), toStartOfInterval(..., INTERVAL n second).
    assert expand("$__timeFilter(ts)", RANGE) == "ts >= toDateTime(1793606400) AND ts <= toDateTime(1793692830)"
    assert expand("$__timeFilter_ms(ts)", RANGE) == (
        "ts >= fromUnixTimestamp64Milli(1793606400000) AND ts <= fromUnixTimestamp64Milli(1793692830000)"
    )
    assert expand("$__timeInterval(bucket)", RANGE) == "toStartOfInterval(toDateTime(bucket), INTERVAL 300 second)"
    assert expand("$__fromTime / $__toTime / $__interval_s", RANGE) == "toDateTime(1793606400) / toDateTime(1793692830) / 300"
    with pytest.raises(ValueError):
        expand("$__timeFilter()", RANGE)


def test_template_variables_are_quoted_as_grafana_formats_them():
    sql = "x IN (${channel:singlequote}) AND c = ${case:sqlstring} AND $department"
    got = expand(sql, RANGE, {"channel": ["chat", "it's"], "case": "o'brien", "department": "sales"})
    assert got == "x IN ('chat','it\\'s') AND c = 'o''brien' AND sales"
    with pytest.raises(KeyError):
        expand("${nope}", RANGE, {})


def test_time_range_interval_is_a_round_step():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert TimeRange.around(start, datetime(2026, 11, 1, 2, tzinfo=UTC)).interval_s == 60
    assert TimeRange.around(start, datetime(2026, 11, 8, tzinfo=UTC)).interval_s == 3 * 3600  # 7 days / 120 points = 84 min, rounded up


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A data directory loaded by a real `cx demo --serve` run (its own process: chdb opens one data
    directory per process), whose live page was fetched while it served it."""
    data = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "CX_DATA_DIR": str(data), "CX_REPORT_PORT": "0", "COLUMNS": "200"}
    env.pop("CX_CLICKHOUSE_URL", None)
    # Started as a background job would be (SIGINT ignored), it must still stop on Ctrl-C's signal.
    demo = subprocess.Popen(
        [CX, "demo", "--events", "4000", "--serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        said, urls = [], []
        deadline = time.monotonic() + 400
        for line in demo.stderr:
            said.append(line)
            if line.startswith("live report page: "):
                urls.append(line.split()[3])
            if line.startswith("serving ") or time.monotonic() > deadline:
                break
        assert urls and said[-1].startswith("serving "), "".join(said)[-3000:]
        with urllib.request.urlopen(urls[0], timeout=120) as response:
            env["live page"] = response.read().decode("utf-8")
            env["live page type"] = response.headers["Content-Type"]
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:  # a failed fixture leaves no demo serving behind
            demo.kill()
            demo.wait()
    return env


def _check(env, *args) -> tuple[int, list[dict]]:
    env = {k: v for k, v in env.items() if k not in ENV_ONLY}
    run = subprocess.run([CX, "dashboards", "check", "--json", *args], env=env, capture_output=True, text=True, timeout=300)
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert results, run.stderr[-3000:]
    return run.returncode, results


def test_every_panel_and_alert_rule_runs_on_demo_data(demo_store):
    code, results = _check(demo_store)
    assert code == 0, [r for r in results if r["result"] != "ok"]
    expected = {(b.uid, p.key) for b in DASHBOARDS for p in b.panels} | {("alert rules", r.uid) for r in alert_rules(Targets())}
    assert {(r["dashboard"], r["panel"]) for r in results} == expected
    assert all(r["result"] == "ok" for r in results)
    rows = {r["panel"]: r["rows"] for r in results}
    must_have_data = [p.key for b in DASHBOARDS for p in b.panels if p.expects_rows]
    assert all(rows[key] > 0 for key in must_have_data)
    assert rows["case_timeline"] > 0  # the latest breach's case, as a notice link would fill it in


def test_panels_run_with_one_channel_and_one_department_selected(demo_store):
    _, results = _check(demo_store, "--channel", "chat", "--channel", "app", "--department", "售后服务部")
    # Narrowed down, a panel may fairly be empty; none may fail.
    assert not [r for r in results if r["result"].startswith("error")]
    assert sum(r["rows"] for r in results) > 0


def test_demo_serves_the_live_page_while_it_holds_the_store(demo_store):
    page = demo_store["live page"]
    assert demo_store["live page type"] == "text/html; charset=utf-8"
    assert "<meta http-equiv='refresh' content='30'>" in page
    assert all(b.title in page for b in DASHBOARDS)


def test_report_html_is_one_self_contained_page_with_charts_and_a_cjk_font(demo_store, tmp_path):
    env = {k: v for k, v in demo_store.items() if k not in ENV_ONLY}
    run = subprocess.run([CX, "report", "--html", str(tmp_path / "r.html")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    # Viewable offline: nothing is fetched (no scripts, links, external images, imports or remote
    # fonts); url(#id) is an SVG clip path inside the page.
    assert not re.search(r"<script|<link|<img|@import|(?:src|href)\s*=\s*['\"]?https?:|url\((?!data:|#)", page)
    # Every panel is on it (the case timeline needs a case picked), time series drawn as SVG charts.
    panels = [p for b in DASHBOARDS for p in b.panels if p.key != "case_timeline"]
    assert all(p.title in page for p in panels)
    assert page.count("<svg") == sum(p.viz in ("timeseries", "barchart") for p in panels)
    # The CJK font is embedded, cut to the characters used, and covers the Chinese labels.
    # It comes with the package (Noto Sans SC), so a machine without any CJK font draws no tofu.
    face = re.search(r"url\(data:font/(?:ttf|otf);base64,([A-Za-z0-9+/=]+)\)", page)
    assert face, "no embedded font: the pylopdf-fonts-zh-cn dependency is missing"
    font = TTFont(io.BytesIO(base64.b64decode(face.group(1))))
    covered = set(font.getBestCmap())
    used = {ord(c) for c in re.sub(r"<[^>]+>", "", page) if "\u4e00" <= c <= "\u9fff"}
    assert {ord(c) for c in "客户体验报告满意度超时"} <= covered
    assert used - covered == set(), "Chinese on the page the embedded font cannot draw (tofu)"
    assert len(covered) < 3000  # a subset, not the whole font


def test_report_html_for_one_dashboard_holds_its_panels_only(demo_store, tmp_path):
    env = {k: v for k, v in demo_store.items() if k not in ENV_ONLY}
    page = tmp_path / "latency.html"
    run = subprocess.run([CX, "report", "--html", str(page), "--dashboard", "cx-latency"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    text = page.read_text(encoding="utf-8")
    (latency,) = [b for b in DASHBOARDS if b.uid == "cx-latency"]
    others = [p for b in DASHBOARDS if b.uid != "cx-latency" for p in b.panels if p.title not in {q.title for q in latency.panels}]
    assert latency.title in text and all(p.title in text for p in latency.panels if p.key != "case_timeline")
    assert not any(f"<h3>{p.title}</h3>" in text for p in others)
    wrong = subprocess.run([CX, "report", "--html", str(page), "--dashboard", "cx-nope"], env=env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "cx-nope" in wrong.stderr and "cx-latency" in wrong.stderr and "Traceback" not in wrong.stderr


def test_the_demos_report_shows_what_the_store_holds_when_it_ends(demo_store):
    # The report the demo wrote as it ended (report.md) against the analyst view read afterwards.
    env = {k: v for k, v in demo_store.items() if k not in ENV_ONLY}
    report = (Path(env["CX_DATA_DIR"]) / "report.md").read_text(encoding="utf-8")
    section = report.split("## Breaches by rule")[1].split("\n## ")[0]
    shown = {cells[0]: (int(cells[1]), int(cells[2])) for line in section.splitlines()
             if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])[0] not in ("rule", "---")}  # fmt: skip
    rows = _jsonl(env, "SELECT rule, countIf(status = 'breach') AS b, countIf(status = 'recovery') AS r FROM cx.v_alerts GROUP BY rule")
    held = {r["rule"]: (r["b"], r["r"]) for r in rows}
    assert shown == held and sum(b for b, _ in held.values()) > 0


def test_the_demos_lagging_source_shows_in_the_lateness_view(demo_store):
    # cx demo's generated field-app source arrives 15 minutes late; the others in order.
    env = {k: v for k, v in demo_store.items() if k not in ENV_ONLY}
    rows = _jsonl(env, "SELECT source, max(behind_p99_ms) AS lag, sum(out_of_order) AS late FROM cx.v_source_lateness GROUP BY source")
    lag = {r["source"]: (r["lag"], r["late"]) for r in rows}
    assert 10 * 60_000 <= lag.pop("field-app")[0] <= 16 * 60_000
    assert lag and all(late == 0 for _, late in lag.values()), lag


def _jsonl(env: dict, query: str) -> list[dict]:
    """A query's rows as `cx sql --format jsonl` prints them."""
    run = subprocess.run([CX, "sql", "--format", "jsonl", query], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]
