"""Every SQL in docs/analysts.md runs on the current schema (the guide cannot drift from the views)."""

import re
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
