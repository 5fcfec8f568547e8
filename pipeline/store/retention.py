"""How long raw text (messages, reviews, rejected payloads) is kept: a column TTL per text column."""

from __future__ import annotations

import re

from pipeline.store.base import Store, check_table_name
from pipeline.store.cluster import check_cluster_name, local_name
from pipeline.store.tables import RAW_TEXT_COLUMNS


def text_retention(store: Store, table: str, column: str) -> int | None:
    """Days `table.column` is kept, as its TTL says; None without one."""
    return _ttl_days(_create_query(store, table), column)


def apply_text_retention(store: Store, days: int, cluster: str | None = None) -> list[str]:
    """Set each raw text column's TTL to `days` where it differs; return the columns changed.
    Expired text is emptied at the next merge; the row and its measures stay. On a cluster the TTL
    goes on each node's local table, where the data is."""
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"text retention must be a whole number of days >= 1, not {days!r}")
    tables = {table: local_name(table) if cluster else table for table, _, _ in RAW_TEXT_COLUMNS}
    created = {table: _create_query(store, target) for table, target in tables.items()}
    on = f" ON CLUSTER {check_cluster_name(cluster)}" if cluster else ""
    changed = []
    for table, column, time_column in RAW_TEXT_COLUMNS:
        if _ttl_days(created[table], column) == days:
            continue
        target = check_table_name(tables[table])
        # DDL takes no query parameters; `days` is a validated int and the names are constants.
        store.execute(f"ALTER TABLE {target}{on} MODIFY COLUMN {column} TTL toDateTime({time_column}) + toIntervalDay({days})")
        changed.append(f"{table}.{column}")
    return changed


def _create_query(store: Store, table: str) -> str:
    database, name = table.split(".")
    _, rows = store.query(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = {name:String}",
        {"db": database, "name": name},
    )
    return rows[0][0] if rows else ""


def _ttl_days(create: str, column: str) -> int | None:
    # The column's definition runs to the next backquoted name; its TTL, if any, is in there.
    match = re.search(rf"`{re.escape(column)}` [^`]*?TTL toDateTime\(\w+\) \+ toIntervalDay\((\d+)\)", create)
    return int(match.group(1)) if match else None
