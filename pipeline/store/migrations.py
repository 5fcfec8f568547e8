"""Apply the packaged `schemas/clickhouse/NNN_*.sql` in order, each exactly once, recorded in `cx.schema_migrations`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pipeline.store.base import Store, check_table_name
from pipeline.store.cluster import for_cluster, ledger_ddl
from pipeline.store.exceptions import StoreError

LEDGER = "cx.schema_migrations"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations_dir() -> Traversable:
    """The migrations shipped with the package (package data: a plain install and the image have them)."""
    return resources.files("schemas").joinpath("clickhouse")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Fingerprint of the file, to notice an applied migration being edited."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()[:16]

    def statements(self) -> list[str]:
        """The file's statements: split on a `;` that ends a line (our SQL keeps `;` out of strings)."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def load_migrations(folder: Path | Traversable | None = None) -> list[Migration]:
    """All migrations in version order; duplicate versions are an error."""
    folder = folder or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        match = _NAME.match(path.name)
        if not match:
            raise StoreError(f"migration file name must look like 001_name.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations share version {version:03d}: {found[version].name}, {path.name}")
        found[version] = Migration(version, path.name, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def ledger_statements(ledger: str = LEDGER, cluster: str | None = None) -> list[str]:
    """The database and the ledger table that records applied migrations."""
    check_table_name(ledger)
    database = f"CREATE DATABASE IF NOT EXISTS {ledger.split('.')[0]}"
    if cluster:
        return [for_cluster(database, cluster)[0], ledger_ddl(ledger, cluster)]
    table = (
        f"CREATE TABLE IF NOT EXISTS {ledger} ("
        " version UInt32, name String, checksum String,"
        " applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        ") ENGINE = MergeTree ORDER BY version"
    )
    return [database, table]


def migration_statements(migration: Migration, cluster: str | None = None) -> list[str]:
    """A migration's statements, for one node or (ON CLUSTER, replicated + distributed) for `cluster`."""
    if not cluster:
        return migration.statements()
    return [out for statement in migration.statements() for out in for_cluster(statement, cluster)]


def apply_migrations(
    store: Store, folder: Path | Traversable | None = None, ledger: str = LEDGER, cluster: str | None = None
) -> list[str]:
    """Bring the schema up to date; return the names applied now. `ledger` records what was applied."""
    for statement in ledger_statements(ledger, cluster):
        store.execute(statement)
    _, rows = store.query(f"SELECT version, name, checksum FROM {ledger} ORDER BY version")
    applied = {int(v): (n, c) for v, n, c in rows}
    done = []
    for migration in load_migrations(folder):
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise StoreError(
                    f"migration {migration.name} changed after it was applied as {name}; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in migration_statements(migration, cluster):
            store.execute(statement)
        store.insert(
            ledger,
            [{"version": migration.version, "name": migration.name, "checksum": migration.checksum}],
        )
        done.append(migration.name)
    return done


def empty_data_tables(store: Store, database: str = "cx") -> list[str]:
    """Truncate every table of `database` but the migration ledger; return their names."""
    _, rows = store.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND name != 'schema_migrations'"
        # Names starting with '.' are ClickHouse's own: MV inner tables, a refresh's temporary table.
        " AND engine NOT IN ('View', 'MaterializedView') AND NOT startsWith(name, '.')",
        {"db": database},
    )
    names = [f"{database}.{name}" for (name,) in rows]
    for name in names:
        store.execute(f"TRUNCATE TABLE IF EXISTS {check_table_name(name)}")
    return names
