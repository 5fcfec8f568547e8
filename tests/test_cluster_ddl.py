"""`cx migrate --cluster NAME`: the migrations as ReplicatedMergeTree + Distributed DDL, ON CLUSTER.
No cluster runs here, so every statement is parsed by ClickHouse's own parser (chdb's formatQuery),
and the shape is checked: each data table replicated per shard, a Distributed table with its name,
sharded by a key that keeps a row's versions together."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.store.cluster import SHARDING_KEYS, for_cluster
from pipeline.store.migrations import ledger_statements, load_migrations, migration_statements
from pipeline.store.tables import DATA_TABLES

CX = str(Path(sys.executable).with_name("cx"))


def _plan(cluster="cx_prod") -> list[str]:
    return ledger_statements(cluster=cluster) + [s for m in load_migrations() for s in migration_statements(m, cluster)]


def test_every_cluster_statement_parses_in_clickhouse(store):
    for statement in _plan():
        _, rows = store.query("SELECT formatQuery({q:String})", {"q": statement})
        assert "ON CLUSTER cx_prod" in rows[0][0], statement[:120]


def test_each_data_table_is_replicated_per_shard_and_distributed_by_its_key(store):
    plan = "\n".join(_plan())
    assert set(SHARDING_KEYS) == set(DATA_TABLES)
    for table in DATA_TABLES:
        name = table.split(".")[1]
        assert re.search(rf"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER cx_prod\b.*?ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/{{shard}}/cx/{name}_local', '{{replica}}'", plan, re.S), table
        assert f"ENGINE = Distributed(cx_prod, cx, {name}_local, {SHARDING_KEYS[table]})" in plan
        # The key's columns are columns of the table (as the single-node migrations created it).
        _, columns = store.query("SELECT name FROM system.columns WHERE database = 'cx' AND table = {t:String}", {"t": name})
        used = set(re.findall(r"\w+", SHARDING_KEYS[table].removeprefix("cityHash64")))
        assert used <= {c for (c,) in columns}, table
    # No data table keeps a single-node engine, and every index goes onto the local tables.
    assert not re.search(r"ENGINE = (?!Replicated|Distributed)\w*MergeTree\b[^;]*?\n?COMMENT 'One row", plan)
    assert all("_local ON CLUSTER" in s for s in _plan() if s.startswith("ALTER TABLE") and "ADD INDEX" in s and "rollup" not in s)


def test_single_node_ddl_is_unchanged_without_a_cluster():
    (first, *_) = load_migrations()
    assert migration_statements(first) == first.statements()
    assert not any("ON CLUSTER" in s for s in ledger_statements())


@pytest.mark.parametrize("bad", ["x; DROP DATABASE cx", "a b", ""])
def test_a_cluster_name_is_a_name(bad):
    with pytest.raises(ValueError):
        for_cluster("CREATE DATABASE IF NOT EXISTS cx", bad)


def test_cli_prints_the_cluster_ddl_without_a_server(tmp_path):
    run = subprocess.run([CX, "migrate", "--cluster", "cx_prod", "--print"], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "CX_DATA_DIR": str(tmp_path / "none")})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("ON CLUSTER cx_prod") == sum(s.count("ON CLUSTER cx_prod") for s in _plan())
    assert not (tmp_path / "none").exists()  # nothing was opened
