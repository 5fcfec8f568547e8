"""Mistakes a user makes at the command line or in a setting: one clear line naming what to fix, exit 2,
before anything starts; never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.broker import free_port

CX = str(Path(sys.executable).with_name("cx"))


def _cx(*args, data_dir: Path, timeout=60):
    env = {**os.environ, "CX_DATA_DIR": str(data_dir)}
    env.pop("CX_CLICKHOUSE_URL", None)
    return subprocess.run([CX, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _one_line_error(result, *words: str) -> None:
    """Exit 2 and one clear line on stderr, naming what to fix: no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in result.stderr and len(lines) <= 2, result.stderr[-2000:]
    assert all(w in result.stderr for w in words), result.stderr


def test_worker_without_a_broker_says_so_in_one_line(tmp_path):
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path), "CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run([CX, "worker"], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, "no Kafka broker answered at 127.0.0.1:1", "CX_KAFKA_BOOTSTRAP")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("CX_BATCH_SIZE", "abc", ["CX_BATCH_SIZE='abc'", "valid integer"]),
        ("CX_TARGET_SLA", "95", ["CX_TARGET_SLA='95'", "less than or equal to 1"]),
        ("CX_CASE_SETTLE_AFTER", "ten minutes", ["CX_CASE_SETTLE_AFTER", "30s, 5m"]),
        ("CX_CLOCK", "sometimes", ["CX_CLOCK='sometimes'", "'auto', 'event' or 'wall'"]),
    ],
)
@pytest.mark.parametrize("command", [["worker"], ["sql", "SELECT 1"], ["demo", "--events", "10"]])
def test_a_bad_setting_is_named_in_one_line_before_anything_starts(tmp_path, command, variable, value, words):
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx"), variable: value}
    result = subprocess.run([CX, *command], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, *words, "docs/configuration.md")
    assert not (tmp_path / "cx").exists()  # nothing started: no store, no broker log


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["report"], ["worker"]])
def test_no_clickhouse_server_at_the_url_is_one_line(tmp_path, broker, command):
    url = f"clickhouse://writer:s3cret@127.0.0.1:{free_port()}/cx"
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path), "CX_CLICKHOUSE_URL": url, "CX_KAFKA_BOOTSTRAP": broker.bootstrap,
           "CX_TOPIC_PREFIX": f"no-clickhouse-{command[0]}."}  # fmt: skip
    result = subprocess.run([CX, *command], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, "did not answer", "CX_CLICKHOUSE_URL")
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["worker"], ["demo", "--events", "10"], ["sla", "check"]])
def test_a_policy_with_a_typo_is_refused_before_anything_starts(tmp_path, command):
    policy = tmp_path / "policy.yaml"
    policy.write_text("first_response:\n  chat: {within: abc}\n", encoding="utf-8")
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx"), "CX_SLA_POLICY": str(policy), "CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run([CX, *command], env=env, capture_output=True, text=True, timeout=60)
    _one_line_error(result, str(policy), "first_response.chat.within", "30s, 5m")


def test_sql_reports_a_busy_store_plainly(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, chdb; c = chdb.connect(sys.argv[1]); c.query('SELECT 1'); print('held', flush=True); time.sleep(30)",
         str(tmp_path / "clickhouse")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _cx("sql", "SELECT 1", data_dir=tmp_path)
        assert result.returncode == 2
        assert "in use by another process" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_sql_errors_are_one_line_not_a_traceback(tmp_path):
    result = _cx("sql", "SELECT * FROM cx.no_such_table", data_dir=tmp_path)
    assert result.returncode == 2
    assert "UNKNOWN_TABLE" in result.stderr and "Traceback" not in result.stderr
