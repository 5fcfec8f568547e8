"""Our migrations for a ClickHouse cluster: each data table becomes a ReplicatedMergeTree `<name>_local`
on every node plus a Distributed `<name>` over them, so the pipeline, the views and analysts keep
using the same names. Single-node DDL stays the default; this is `cx migrate --cluster NAME`.

Sharding keys keep every version of a row on one shard (a case's events, responses and alerts by
case; a review by its id), so `FINAL` in the views collapses redeliveries shard by shard. Views and
rollups are created on every node; each node's rollup refresh reads the Distributed views and
keeps a full copy, so Grafana may ask any node.
"""

from __future__ import annotations

import re

from pipeline.store.tables import ALERT_DELIVERIES, ALERTS, CASES, DLQ, EVENT_IDS, LATE_EVENTS, RESPONSES, REVIEWS, TOUCHPOINTS

SHARDING_KEYS = {
    TOUCHPOINTS: "cityHash64(case_id)",
    RESPONSES: "cityHash64(case_id)",
    CASES: "cityHash64(case_id)",
    ALERTS: "cityHash64(case_id)",
    REVIEWS: "cityHash64(review_id)",
    DLQ: "cityHash64(source_topic, kafka_partition, kafka_offset)",
    ALERT_DELIVERIES: "cityHash64(alert_id)",
    EVENT_IDS: "cityHash64(id)",
    LATE_EVENTS: "cityHash64(case_id)",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREATE_TABLE = re.compile(r"^(CREATE TABLE IF NOT EXISTS) (cx\.\w+)\b", re.S)
_CREATE_VIEW = re.compile(r"^(CREATE (?:OR REPLACE )?(?:MATERIALIZED )?VIEW(?: IF NOT EXISTS)?) (cx\.\w+)\b", re.S)
_ALTER = re.compile(r"^ALTER TABLE (cx\.\w+)\b", re.S)
_ENGINE = re.compile(r"ENGINE = (\w*)MergeTree(?:\(([^)]*)\))?")


def local_name(table: str) -> str:
    """The per-node table behind a Distributed one."""
    return f"{table}_local"


def check_cluster_name(cluster: str) -> str:
    """A cluster name as it appears in the server's remote_servers, or an error (DDL takes no parameters)."""
    if not _NAME.fullmatch(cluster):
        raise ValueError(f"not a cluster name: {cluster!r}")
    return cluster


def for_cluster(statement: str, cluster: str) -> list[str]:
    """The statements that do on `cluster` what `statement` does on a single node."""
    check_cluster_name(cluster)
    on = f"ON CLUSTER {cluster}"
    if match := _CREATE_TABLE.match(statement):
        table = match.group(2)
        if table in SHARDING_KEYS:
            return _sharded(statement, table, cluster)
        return [f"{match.group(1)} {table} {on}{statement[match.end():]}"]  # rollups: a full copy per node
    if match := _CREATE_VIEW.match(statement):
        return [f"{match.group(1)} {match.group(2)} {on}{statement[match.end():]}"]
    if match := _ALTER.match(statement):
        table = match.group(1)
        rest = statement[match.end():]
        if table not in SHARDING_KEYS:
            return [f"ALTER TABLE {table} {on}{rest}"]
        # Indexes and TTLs live with the data; a column is in both the data and the Distributed table
        # in front of it (which forwards inserts by column).
        altered = [f"ALTER TABLE {local_name(table)} {on}{rest}"]
        if re.match(r"\s*(ADD|MODIFY|COMMENT|DROP|RENAME) COLUMN\b", rest):
            altered.append(f"ALTER TABLE {table} {on}{rest}")
        return altered
    if statement.startswith("CREATE DATABASE"):
        return [f"{statement} {on}"]
    raise ValueError(f"no cluster form for: {statement[:80]}")


def _sharded(statement: str, table: str, cluster: str) -> list[str]:
    database, name = table.split(".")
    local = local_name(table)

    def replicated(match: re.Match) -> str:
        args = [f"'/clickhouse/tables/{{shard}}/{database}/{name}_local'", "'{replica}'"]
        if match.group(2):
            args.append(match.group(2))
        return f"ENGINE = Replicated{match.group(1)}MergeTree({', '.join(args)})"

    body = statement[_CREATE_TABLE.match(statement).end() :]
    if not _ENGINE.search(body):
        raise ValueError(f"{table}: no MergeTree engine to replicate")
    local_ddl = f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER {cluster}" + _ENGINE.sub(replicated, body, count=1)
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER {cluster} AS {local}\n"
        f"ENGINE = Distributed({cluster}, {database}, {name}_local, {SHARDING_KEYS[table]})"
    )
    return [local_ddl, distributed]


def ledger_ddl(ledger: str, cluster: str) -> str:
    """The migration ledger on every node (one replicated copy: any node can tell what was applied)."""
    database, name = ledger.split(".")
    return (
        f"CREATE TABLE IF NOT EXISTS {ledger} ON CLUSTER {check_cluster_name(cluster)} ("
        " version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        f") ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/{name}', '{{replica}}') ORDER BY version"
    )
