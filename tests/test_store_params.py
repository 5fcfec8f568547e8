"""Query parameters are data: any string (backslashes, newlines, tabs, quotes, NUL, SQL) comes back
unchanged from ClickHouse, never read as an escape or as SQL."""

from hypothesis import given, settings, strategies as st


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60) | st.sampled_from(["a\\b", "x\ny", "t\tz", "q's", "\\n", "'; DROP TABLE cx.cases; --"]))
def test_any_string_parameter_round_trips(store, value):
    assert store.query("SELECT {q:String}", {"q": value})[1][0][0] == value


def test_array_parameters_round_trip(store):
    values = ["a\\b", "q's", "x\ny", "好"]
    assert store.query("SELECT {v:Array(String)}", {"v": values})[1][0][0] == values
