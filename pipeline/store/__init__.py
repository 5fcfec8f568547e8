"""ClickHouse access: one small interface, an embedded (chdb) and a server (clickhouse-driver) backend."""

from pipeline.store.base import Store
from pipeline.store.exceptions import RowRejected, StoreBusy, StoreError, StoreUnavailable
from pipeline.store.migrations import apply_migrations, empty_data_tables
from pipeline.store.open import exit_without_teardown, open_store

__all__ = [
    "RowRejected",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "apply_migrations",
    "empty_data_tables",
    "exit_without_teardown",
    "open_store",
]
