"""Rebuild the dashboard rollups now, rather than at their next scheduled minute."""

from __future__ import annotations

from pipeline.store.base import Store, check_table_name
from pipeline.store.tables import ROLLUP_REFRESHES


def refresh_rollups(store: Store) -> None:
    """Refresh every rollup view and wait for it (minute views before the hour views built on them)."""
    for view in ROLLUP_REFRESHES:
        check_table_name(view)
        store.execute(f"SYSTEM REFRESH VIEW {view}")
        store.execute(f"SYSTEM WAIT VIEW {view}")
