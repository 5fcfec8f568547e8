"""Every SQL in docs/analysts.md runs on the current schema (the guide cannot drift from the views)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analysts.md"
QUERIES = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_at_least_twelve_questions_each_with_sql_and_an_answer():
    questions = re.findall(r"^### \d+\. .+$", GUIDE.read_text(encoding="utf-8"), flags=re.M)
    assert len(questions) >= 12 and len(QUERIES) == len(questions)
    # Each answer is a table right after its query.
    assert len(re.findall(r"```\n\n\| ", GUIDE.read_text(encoding="utf-8"))) == len(QUERIES)


@pytest.mark.parametrize("sql", QUERIES, ids=[f"q{i + 1}" for i in range(len(QUERIES))])
def test_guide_query_runs(store, sql):
    store.query(sql)


EXPORTS = re.findall(r"## Exporting results and parameters\n.*?```bash\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guides_export_examples_run_as_written(tmp_path):
    # The guide's shell block, as a reader pastes it, on an embedded store of its own.
    (script,) = EXPORTS
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("CX_CLICKHOUSE_URL", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "channel,cases", "the CSV file's header"
    assert "source\treason\tevents" in lines, "the TSV export's header"
    assert lines[-2:] == ["touchpoints", "0"] or lines[-2:] == ['"touchpoints"', "0"], lines[-3:]
    assert (tmp_path / "cases_by_channel.csv").read_text().startswith("channel,cases\n")


def test_cx_sql_refuses_mistakes_in_one_line(tmp_path):
    env = {**os.environ, "CX_DATA_DIR": str(tmp_path / "cx")}
    env.pop("CX_CLICKHOUSE_URL", None)
    cx = str(Path(sys.executable).with_name("cx"))
    for args in (["SELEC 1"], ["SELECT {n:UInt32}"], ["SELECT 1 FORMAT Parquet"], ["--format", "xml", "SELECT 1"], ["--param", "bad", "SELECT 1"]):
        done = subprocess.run([cx, "sql", *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) <= 2, done.stderr
