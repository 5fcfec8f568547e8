"""Build the Grafana dashboards and alert rules from the panel catalogue with grafana-foundation-sdk."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import alerting, barchart, expr, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.clickhouse import DATASOURCE_UID, ClickHouseTarget, datasource
from pipeline.events.models import Channel
from pipeline.panels import DASHBOARDS, AlertRule, Dashboard, Panel, Targets, alert_rules
from pipeline.panels.catalog import ALL_DEPARTMENTS

FOLDER_UID = "cx"
FOLDER_TITLE = "Customer experience 客户体验"
RULE_GROUP = "cx-slo"
HERE = Path(__file__).resolve().parent
ALERT_RULES_FILE = HERE.parent / "deploy" / "grafana" / "provisioning" / "alerting" / "cx-alert-rules.yaml"


def _thresholds(panel: Panel, targets: Targets) -> db.ThresholdsConfig:
    steps = [dm.Threshold(value=None, color="green")]
    if panel.target is not None:
        # Below the target is the bad side for every target we draw.
        steps = [dm.Threshold(value=None, color="red"), dm.Threshold(value=getattr(targets, panel.target), color="green")]
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(panel: Panel, targets: Targets):
    match panel.viz:
        case "timeseries":
            builder = timeseries.Panel().line_width(2).fill_opacity(10).span_nulls(True)
            if panel.target is not None:
                builder = builder.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
        case "stat":
            builder = stat.Panel().color_mode(cm.BigValueColorMode.VALUE).graph_mode(cm.BigValueGraphMode.NONE)
        case "barchart":
            builder = barchart.Panel().orientation(cm.VizOrientation.HORIZONTAL).show_value(cm.VisibilityMode.AUTO)
        case "heatmap":  # categories on both axes: a table whose cells are coloured by value
            builder = (
                table.Panel()
                .cell_options(cm.TableColoredBackgroundCellOptions())
                .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.CONTINUOUS_GR_YL_RD))
                .min(0)
                .max(1)
            )
        case _:
            builder = table.Panel()
    if panel.unit == "percentunit" and panel.viz in ("timeseries", "stat"):
        builder = builder.min(0).max(1)
    return (
        builder.title(panel.title)
        .description(panel.description)
        .datasource(datasource())
        .with_target(ClickHouseTarget(panel.sql, panel.time_series))
        .unit(panel.unit)
        .thresholds(_thresholds(panel, targets))
        .span(panel.width)
        .height(panel.height)
    )


def _variables(board: Dashboard) -> list:
    channel = (
        db.CustomVariable("channel")
        .label("Channel 渠道")
        .values(",".join(c.value for c in Channel))
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )
    department = (
        db.QueryVariable("department")
        .label("Department 部门")
        .datasource(datasource())
        .query("SELECT DISTINCT department FROM cx.v_cases WHERE department != '' ORDER BY department")
        .multi(True)
        .include_all(True)
        # Grafana inserts a custom all-value as is: the quotes make it a SQL string literal.
        .all_value(f"'{ALL_DEPARTMENTS}'")
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )
    out = [channel, department]
    if board.case_variable:
        out.append(db.TextBoxVariable("case").label("Case 工单").default_value(""))
    return out


def build_dashboard(board: Dashboard, targets: Targets) -> dict:
    """One dashboard as Grafana's JSON model."""
    builder = (
        db.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(list(board.tags))
        .editable()
        .timezone("browser")
        .time("now-24h", "now")
        .refresh("1m")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .variables(_variables(board))
        .link(
            db.DashboardLink("CX dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["cx"])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for panel in board.panels:
        builder = builder.with_panel(_panel(panel, targets))
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def _rule(rule: AlertRule) -> dict:
    """One alert rule as Grafana's provisioning API takes it: SQL query A, threshold B on it.
    Grafana turns each row of a table answer into one number (text columns become labels), so no
    reduce step is needed."""
    model = ClickHouseTarget(rule.sql, time_series=False).ref_id("A")
    built = (
        alerting.Rule(rule.title)
        .uid(rule.uid)
        .folder_uid(FOLDER_UID)
        .rule_group(RULE_GROUP)
        .condition("B")
        .queries(
            [
                alerting.Query("A")
                .datasource_uid(DATASOURCE_UID)
                .relative_time_range(am.RelativeTimeRange(from_val=rule.window_s, to=0))
                .model(model),
                alerting.Query("B")
                .datasource_uid("__expr__")
                .model(
                    expr.TypeThreshold()
                    .ref_id("B")
                    .expression("A")
                    .conditions([expr.ExprTypeThresholdConditions().evaluator(
                        expr.ExprTypeThresholdConditionsEvaluator().type(rule.op).params([rule.threshold])
                    )])
                ),
            ]
        )
        .for_val(rule.pending)
        .no_data_state("OK")
        .exec_err_state("Error")
        .annotations({"summary": rule.summary, "description": rule.description})
        .labels({"team": "cx", **rule.labels})
    )
    return json.loads(json.dumps(built.build(), cls=JSONEncoder))


def build_alert_rules(targets: Targets) -> list[dict]:
    """Every alert rule as the provisioning API takes it."""
    return [_rule(r) for r in alert_rules(targets)]


def alert_rules_file(targets: Targets) -> dict:
    """The same rules as a Grafana file-provisioning document (deploy/grafana/provisioning/alerting)."""
    rules = []
    for rule in build_alert_rules(targets):
        # File provisioning names the folder and group at the group level, not per rule.
        rules.append({k: v for k, v in rule.items() if k not in ("folderUID", "ruleGroup", "orgID")})
    return {
        "apiVersion": 1,
        "groups": [{"orgId": 1, "name": RULE_GROUP, "folder": FOLDER_TITLE, "interval": "1m", "rules": rules}],
    }


def built_files(targets: Targets) -> dict[Path, str]:
    """Every generated file with its text: one JSON per dashboard and the alert-rules YAML."""
    files = {
        HERE / f"{board.uid}.json": json.dumps(build_dashboard(board, targets), ensure_ascii=False, indent=2) + "\n"
        for board in DASHBOARDS
    }
    header = "# Generated by `cx dashboards build` from pipeline/panels/catalog.py: edit the catalogue, not this file.\n"
    files[ALERT_RULES_FILE] = header + yaml.safe_dump(alert_rules_file(targets), allow_unicode=True, sort_keys=False, width=200)
    return files


def write(targets: Targets) -> list[Path]:
    """Write the generated files; return their paths."""
    paths = []
    for path, text in built_files(targets).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
