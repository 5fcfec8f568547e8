"""`schemas/clickhouse/002_cases.sql` on real ClickHouse (embedded chdb): columns match the rows we
emit, and inserting the same rows twice keeps one copy.

chdb allows one data path per process, so the check runs in a child process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, re, sys
from pathlib import Path
import chdb, pandas as pd
from pipeline.events import parse_touchpoint
from tests.cases.helpers import replay
from pipeline.sla import load_policy

root, data_dir = Path(sys.argv[1]), sys.argv[2]
policy = load_policy()
rows = {"responses": [], "alerts": [], "cases": {}}
for path in sorted((root / "tests/data/scenarios").glob("*.jsonl")):
    events = [parse_touchpoint(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for outcome in replay(events, policy, until=max(e.ts for e in events)):
        rows["responses"] += [r.row() for r in outcome.responses]
        rows["alerts"] += [a.row() for a in outcome.alerts]
        rows["cases"].update(outcome.cases)
rows["cases"] = list(rows["cases"].values())

conn = chdb.connect(data_dir)
conn.query("CREATE DATABASE IF NOT EXISTS cx")
sql = (root / "schemas/clickhouse/002_cases.sql").read_text(encoding="utf-8")
statements = [s for s in re.split(r";\s*(?:\n|$)", sql) if s.strip()]
for statement in statements:
    conn.query(statement)
out = {"statements": len(statements)}
# Columns added to these tables later (retractions)
later = (root / "schemas/clickhouse/007_late_events.sql").read_text(encoding="utf-8")
for statement in re.split(r";\s*(?:\n|$)", later):
    statement = "\n".join(l for l in statement.splitlines() if not l.strip().startswith("--")).strip()
    if statement.startswith("ALTER TABLE cx.alerts"):
        conn.query(statement)
for table, table_rows in rows.items():
    described = conn.query(
        "SELECT name, comment FROM system.columns WHERE database = 'cx' AND table = {t:String} ORDER BY position",
        "JSONEachRow", params={"t": table})
    cols = [json.loads(line) for line in str(described).splitlines() if line.strip()]
    # object dtype: pandas would turn None in an integer column into NaN
    df = pd.DataFrame(table_rows, columns=[c["name"] for c in cols], dtype=object)
    for _ in range(2):  # at-least-once: the same rows arrive twice
        conn.query(f"INSERT INTO cx.{table} SELECT * FROM Python(df)")
    final = conn.query(f"SELECT count() FROM cx.{table} FINAL", "CSV")
    out[table] = {
        "columns": [c["name"] for c in cols],
        "uncommented": [c["name"] for c in cols if not c["comment"]],
        "row_keys": list(table_rows[0]),
        "emitted": len(table_rows),
        "final": int(str(final).strip()),
    }
out["alert_keys"] = len({(a["alert_id"], a["status"]) for a in rows["alerts"]})
out["response_keys"] = len({(r["case_id"], r["asked_event_id"]) for r in rows["responses"]})
out["case_keys"] = len(rows["cases"])
breach = conn.query("SELECT count() FROM cx.alerts FINAL WHERE status = 'breach' AND rule = 'handoffs'", "CSV")
out["handoff_breaches"] = int(str(breach).strip())
deadline = conn.query("SELECT toString(deadline) FROM cx.alerts FINAL WHERE rule = 'handoffs'", "CSV")
out["handoff_deadline_utc"] = str(deadline).strip().strip('"')
print(json.dumps(out))
"""


def test_migration_runs_and_matches_the_rows(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT), str(tmp_path / "ch")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["statements"] == 3
    for table in ("responses", "alerts", "cases"):
        t = out[table]
        assert t["columns"] == t["row_keys"], table
        assert t["uncommented"] == [], table
    # Re-inserted rows collapse to one per key (late corrections of a response keep the newest).
    assert out["alerts"]["final"] == out["alert_keys"] == out["alerts"]["emitted"]
    assert out["responses"]["final"] == out["response_keys"]
    assert out["cases"]["final"] == out["case_keys"]
    assert out["handoff_breaches"] == 1
    assert out["handoff_deadline_utc"] == "2025-03-10 02:09:00.000"  # 10:09 in Shanghai, stored as UTC
