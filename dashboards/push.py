"""Push the folder, datasource, dashboards and alert rules to a running Grafana (grafana-client).

Idempotent: each object is read first and written only when it differs, so a second push sends
nothing but reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards.build import FOLDER_TITLE, FOLDER_UID, build_alert_rules, build_dashboard, datasource_model
from pipeline.config import Targets
from pipeline.panels import DASHBOARDS

Action = Literal["created", "updated", "unchanged"]
# Fields of an alert rule we set; Grafana adds others (id, updated, provenance) on its side.
_RULE_FIELDS = ("title", "condition", "data", "for", "labels", "annotations", "noDataState", "execErrState", "folderUID", "ruleGroup")
_DATASOURCE_FIELDS = ("name", "type", "access", "jsonData")


@dataclass(frozen=True)
class Change:
    """What the push did to one Grafana object."""

    kind: str
    uid: str
    action: Action


def _missing(exc: GrafanaClientError) -> bool:
    return getattr(exc, "status_code", None) == 404


def _get(call, *args):
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if _missing(exc):
            return None
        raise


def push(api: GrafanaApi, targets: Targets, clickhouse_password: str | None = None) -> list[Change]:
    """Bring Grafana in line with the code; return what changed."""
    return [_folder(api), _datasource(api, clickhouse_password), *_dashboards(api, targets), *_rules(api, targets)]


def _folder(api: GrafanaApi) -> Change:
    found = _get(api.folder.get_folder, FOLDER_UID)
    if found is None:
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        return Change("folder", FOLDER_UID, "created")
    if found.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        return Change("folder", FOLDER_UID, "updated")
    return Change("folder", FOLDER_UID, "unchanged")


def _datasource(api: GrafanaApi, password: str | None) -> Change:
    wanted = datasource_model()
    uid = wanted["uid"]
    found = _get(api.datasource.get_datasource_by_uid, uid)
    body = {k: v for k, v in wanted.items() if k != "secureJsonData"}
    if password:
        body["secureJsonData"] = {"password": password}
    if found is None:
        api.datasource.create_datasource(body)
        return Change("datasource", uid, "created")
    # The password cannot be read back: it is sent on create, or when given for this push.
    if password or any(found.get(k) != wanted.get(k) for k in _DATASOURCE_FIELDS):
        api.datasource.update_datasource_by_uid(uid, body)
        return Change("datasource", uid, "updated")
    return Change("datasource", uid, "unchanged")


def _dashboards(api: GrafanaApi, targets: Targets) -> list[Change]:
    changes = []
    for board in DASHBOARDS:
        wanted = build_dashboard(board, targets)
        found = _get(api.dashboard.get_dashboard, board.uid)
        if found is not None:
            theirs = {k: v for k, v in found.get("dashboard", {}).items() if k not in ("id", "version")}
            if theirs == wanted and found.get("meta", {}).get("folderUid") == FOLDER_UID:
                changes.append(Change("dashboard", board.uid, "unchanged"))
                continue
        api.dashboard.update_dashboard(
            {"dashboard": wanted, "folderUid": FOLDER_UID, "overwrite": True, "message": "cx dashboards push"}
        )
        changes.append(Change("dashboard", board.uid, "created" if found is None else "updated"))
    return changes


def _rules(api: GrafanaApi, targets: Targets) -> list[Change]:
    changes = []
    for rule in build_alert_rules(targets):
        found = _get(api.alertingprovisioning.get_alertrule, rule["uid"])
        if found is None:
            api.alertingprovisioning.create_alertrule(rule)
            changes.append(Change("alert rule", rule["uid"], "created"))
        elif any(found.get(k) != rule.get(k) for k in _RULE_FIELDS):
            api.alertingprovisioning.update_alertrule(rule["uid"], rule)
            changes.append(Change("alert rule", rule["uid"], "updated"))
        else:
            changes.append(Change("alert rule", rule["uid"], "unchanged"))
    return changes
