"""Faults at the store boundary, shared by the tests and the benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from pipeline.store import StoreUnavailable


class Outage:
    """The store, with every insert (and with `reads`, every query) failing as unavailable until
    `seconds` after the first one (the fault switch at the store boundary: the embedded engine cannot
    be stopped on its own). Reads stay up by default: the harness watching the stream reads too.
    `tables`: only inserts into these fail."""

    def __init__(self, store, seconds: float, reads: bool = False, tables: Collection[str] | None = None):
        self._store, self.seconds, self.reads, self.tables = store, seconds, reads, tables
        self.description = f"{store.description} (down {seconds:g} s)"
        self.refused = 0
        self.first_refusal: float | None = None  # monotonic time of the first insert (the outage's start)
        self._guard = threading.Lock()

    def query(self, sql, params=None):
        if self.reads:
            self._refuse()
        return self._store.query(sql, params)

    def execute(self, sql, params=None):
        return self._store.execute(sql, params)

    def insert(self, table, rows):
        if self.tables is None or table in self.tables:
            self._refuse()
        return self._store.insert(table, rows)

    def _refuse(self) -> None:
        with self._guard:
            self.first_refusal = self.first_refusal or time.monotonic()
            if time.monotonic() - self.first_refusal < self.seconds:
                self.refused += 1
                raise StoreUnavailable("Code: 210. DB::NetException: Connection refused (fault switch)", 210)

    def close(self):
        self._store.close()
