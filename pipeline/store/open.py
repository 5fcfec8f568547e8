"""Choose the backend from the settings and bring its schema up to date."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from pipeline.config import Settings
from pipeline.store.base import Store
from pipeline.store.migrations import apply_migrations
from pipeline.store.retention import apply_text_retention


def open_store(settings: Settings, migrate: bool = True) -> Store:
    """The configured ClickHouse: a server if CX_CLICKHOUSE_URL is set, else embedded chdb."""
    if settings.clickhouse_url:
        from pipeline.store.server import ServerStore

        store: Store = ServerStore(settings.clickhouse_url.get_secret_value())
    else:
        from pipeline.store.embedded import EmbeddedStore

        store = EmbeddedStore.open(settings.data_dir / "clickhouse")
    if migrate:
        apply_migrations(store, cluster=settings.clickhouse_cluster)
        apply_text_retention(store, settings.text_retention_days, cluster=settings.clickhouse_cluster)
    return store


def exit_without_teardown() -> NoReturn:
    """Exit 0 now, output flushed: a process that used the embedded store skips the interpreter's teardown.

    In that teardown chdb's global shutdown can crash (SIGSEGV) while the stream's threads and
    objects go away, turning a clean stop, with everything written, into exit -11."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
