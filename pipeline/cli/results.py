"""`cx sql` results for people (a table) and for pipes (CSV, TSV, JSON, JSON Lines). Pure: rows in, text out."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pipeline.errors import CxError

OutputFormat = Literal["table", "csv", "tsv", "json", "jsonl"]
FORMATS: tuple[str, ...] = ("table", "csv", "tsv", "json", "jsonl")

# ClickHouse's own names for what `--format` offers, as a query's trailing FORMAT clause spells them.
_CLAUSE_FORMATS = {
    "csv": "csv", "csvwithnames": "csv", "tsv": "tsv", "tabseparated": "tsv", "tsvwithnames": "tsv",
    "tabseparatedwithnames": "tsv", "json": "json", "jsoneachrow": "jsonl", "jsonlines": "jsonl", "ndjson": "jsonl",
    "pretty": "table", "prettycompact": "table",
}  # fmt: skip
_FORMAT_CLAUSE = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


class UnknownFormat(CxError, ValueError):
    """A FORMAT clause naming a format `cx sql` does not write."""


def split_format(query: str) -> tuple[str, OutputFormat | None]:
    """The query without a trailing `FORMAT X` clause, and the output format X asks for (None: no clause)."""
    match = _FORMAT_CLAUSE.search(query)
    if match is None:
        return query, None
    name = match.group(1)
    chosen = _CLAUSE_FORMATS.get(name.lower())
    if chosen is None:
        known = ", ".join(sorted({k for k in _CLAUSE_FORMATS}))
        raise UnknownFormat(f"FORMAT {name} is not one cx sql writes: use --format {'|'.join(FORMATS)} (or FORMAT {known})")
    return query[: match.start()], chosen  # type: ignore[return-value]


def _plain(value: Any) -> Any:
    """A JSON-ready value: times in ISO 8601, decimals and other objects as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _text(value: Any) -> str:
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, list | dict):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def _tsv_field(value: Any) -> str:
    # ClickHouse's TabSeparated escaping: a NULL is \N; tab, newline and backslash are escaped.
    if value is None:
        return "\\N"
    return _text(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: OutputFormat) -> str:
    """The rows as text in `fmt` (not "table": the caller draws that), with a header where the format has one."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
        return buffer.getvalue()
    if fmt == "tsv":
        lines = ["\t".join(_tsv_field(c) for c in columns)]
        lines += ["\t".join(_tsv_field(v) for v in row) for row in rows]
        return "\n".join(lines) + "\n"
    records = [dict(zip(columns, (_plain(v) for v in row))) for row in rows]
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    raise ValueError(f"not a text format: {fmt}")


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """`name=value` pairs for ClickHouse's `{name:Type}` query parameters."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"--param {pair!r}: expected name=value, as the query's {{name:Type}} names it")
        params[name] = value
    return params
