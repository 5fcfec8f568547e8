"""Migrations run in order, exactly once, on real (embedded) ClickHouse."""

import pytest

from pipeline.store import StoreError, apply_migrations
from pipeline.store.migrations import load_migrations


def test_repository_migrations_are_applied_once(store):
    _, rows = store.query("SELECT version, name FROM cx.schema_migrations ORDER BY version")
    names = [m.name for m in load_migrations()]
    assert [r[1] for r in rows] == names
    assert apply_migrations(store) == []  # second run: nothing to do
    _, again = store.query("SELECT count() FROM cx.schema_migrations")
    assert again[0][0] == len(names)


def test_core_tables_exist_with_contract_columns(store):
    _, rows = store.query("SELECT table, name FROM system.columns WHERE database = 'cx'")
    columns = {(t, c) for t, c in rows}
    for table, column in [
        ("touchpoints", "event_id"), ("touchpoints", "case_id"), ("touchpoints", "ts"),
        ("reviews", "sentiment"), ("reviews", "label"), ("reviews", "tokens"), ("reviews", "aspects"),
        ("dlq", "reason"), ("dlq", "payload"),
    ]:  # fmt: skip
        assert (table, column) in columns


def _write(folder, name, sql):
    (folder / name).write_text(sql, encoding="utf-8")


def test_custom_folder_order_and_ledger(store, tmp_path):
    _write(tmp_path, "002_add.sql", "ALTER TABLE migtest.a ADD COLUMN IF NOT EXISTS y UInt8;")
    _write(tmp_path, "001_make.sql", "CREATE DATABASE IF NOT EXISTS migtest;\nCREATE TABLE migtest.a (x UInt8) ENGINE = MergeTree ORDER BY x;")
    ledger = "migtest_ledger.applied"
    try:
        assert apply_migrations(store, tmp_path, ledger=ledger) == ["001_make.sql", "002_add.sql"]
        assert apply_migrations(store, tmp_path, ledger=ledger) == []
        _, cols = store.query("SELECT name FROM system.columns WHERE database = 'migtest' AND table = 'a' ORDER BY position")
        assert [c[0] for c in cols] == ["x", "y"]
        # Editing an applied migration is refused rather than silently ignored.
        _write(tmp_path, "001_make.sql", "CREATE DATABASE IF NOT EXISTS migtest;")
        with pytest.raises(StoreError, match="changed after it was applied"):
            apply_migrations(store, tmp_path, ledger=ledger)
    finally:
        store.execute("DROP DATABASE IF EXISTS migtest")
        store.execute("DROP DATABASE IF EXISTS migtest_ledger")


def test_bad_file_names_and_duplicate_versions_are_errors(tmp_path):
    _write(tmp_path, "1_bad.sql", "SELECT 1")
    with pytest.raises(StoreError, match="001_name.sql"):
        load_migrations(tmp_path)
    (tmp_path / "1_bad.sql").unlink()
    _write(tmp_path, "001_a.sql", "SELECT 1")
    _write(tmp_path, "001_b.sql", "SELECT 1")
    with pytest.raises(StoreError, match="share version"):
        load_migrations(tmp_path)


def test_parameters_are_data_not_sql(store):
    hostile = "x'); DROP TABLE cx.dlq; --"
    _, rows = store.query("SELECT {v:String} AS v, length({v:String}) AS n", {"v": hostile})
    assert rows == [(hostile, len(hostile))]
    _, tables = store.query("SELECT count() FROM system.tables WHERE database = 'cx' AND name = 'dlq'")
    assert tables[0][0] == 1


def test_datetime_parameters_compare_in_utc(store):
    from datetime import datetime, timedelta, timezone

    shanghai = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    _, rows = store.query("SELECT toDateTime64('2026-11-02 00:00:00', 3, 'UTC') = {t:DateTime64(3, 'UTC')}", {"t": shanghai})
    assert rows == [(1,)]


def test_enum_columns_come_back_as_their_names(store):
    """Arrow carries an Enum as its number; the store answers with names, as clickhouse-driver does."""
    _, rows = store.query(
        "SELECT CAST('chat' AS Enum8('phone' = 1, 'chat' = 2)) AS channel, toInt8(-3) AS plain,"
        " CAST('it''s' AS Enum16('it''s' = 300, 'b' = -3)) AS quoted, CAST(NULL AS Nullable(Enum8('a' = 1))) AS missing"
    )
    assert rows == [("chat", -3, "it's", None)]
