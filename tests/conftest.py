"""Shared fixtures: one real Tansu broker and one embedded ClickHouse store per test session.

chdb allows one data directory per process, so every test shares `store`; tests that count rows
start from `clean_store`. Each test gets its own topic prefix and consumer group on the broker.
"""

from __future__ import annotations

import itertools
import os

import pytest

from pipeline.broker import LocalBroker
from pipeline.config import Settings
from pipeline.store import empty_data_tables, open_store

_ids = itertools.count(1)


def pytest_collection_modifyitems(items) -> None:
    """Files marked `slow` first: with `make test`'s xdist options (--dist loadfile --no-loadscope-reorder)
    the long ones start at once on every worker and the short ones fill in after, so the workers end together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> LocalBroker:
    """A real Kafka-protocol broker (Tansu) on a free port for the whole session."""
    local = LocalBroker(log=tmp_path_factory.mktemp("broker") / "broker.log").start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """The session's embedded ClickHouse with every migration applied."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("cx"))
    st = open_store(settings)
    yield st
    st.close()


@pytest.fixture
def clean_store(store):
    """The session store with every data table emptied (the migration ledger stays)."""
    empty_data_tables(store)
    return store


@pytest.fixture
def settings(broker, tmp_path) -> Settings:
    """Settings for one test: the session broker, its own topics and consumer group."""
    n = next(_ids)
    return Settings(
        topic_prefix=f"t{n}.",
        app_id=f"cx-test-{n}-{os.getpid()}",
        data_dir=tmp_path / "cx",
        batch_size=500,
        flush_seconds=0.3,
    ).for_local_broker(broker.bootstrap)
