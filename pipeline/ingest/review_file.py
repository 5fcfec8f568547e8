"""Reviews from a spreadsheet export (CSV or Excel) as review events (pure but for reading the file).

E-commerce platforms and survey tools export reviews as CSV (UTF-8, often with a BOM, or GBK/GB18030
from Chinese Excel) or XLSX, one review per row, with their own column names and date formats. A
column mapping (`text=评论内容,rating=评分,...`, or the usual headers recognised on their own) turns
each row into a review in our contract; a row that cannot become one is reported by its line with
the reason, and never sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from pipeline.errors import CxError
from pipeline.events.models import Channel
from pipeline.ingest.body import judge

FIELDS = ("text", "ts", "rating", "customer_id", "review_id", "case_id", "channel", "source")
REQUIRED = ("text", "ts")
# Headers recognised without a --map (English field names are recognised too).
KNOWN_HEADERS: dict[str, tuple[str, ...]] = {
    "text": ("评论内容", "评价内容", "评论", "评价", "内容", "review", "comment", "content"),
    "ts": ("评价时间", "评论时间", "发表时间", "创建时间", "时间", "日期", "date", "time", "created_at"),
    "rating": ("评分", "星级", "评价星级", "打分", "分数", "stars", "score"),
    "customer_id": ("用户id", "用户名", "买家", "买家昵称", "会员名", "昵称", "用户", "user", "customer"),
    "review_id": ("评价id", "评论id", "id"),
    "case_id": ("工单号", "工单id"),
}
ENCODINGS = ("utf-8", "gb18030")  # GB18030 reads GBK and GB2312 too: the encodings of Chinese Excel's CSV
CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
VERDICTS = {"好评": 5, "中评": 3, "差评": 1}
EXCEL_EPOCH = datetime(1899, 12, 30)
_DATE = re.compile(
    r"""^\s*(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?
    (?:[\sT]*(?P<half>上午|下午|AM|PM|am|pm)?\s*(?P<h>\d{1,2})\s*[:：时点]\s*(?P<mi>\d{1,2})\s*分?
       (?:\s*[:：]?\s*(?P<s>\d{1,2}(?:\.\d+)?)\s*秒?)?)?
    \s*(?P<tz>Z|[+-]\d{2}:?\d{2})?\s*$""",
    re.VERBOSE,
)


class ReviewFileError(CxError, ValueError):
    """The file or the mapping cannot be used at all: the message says what to change, then run again."""


@dataclass(frozen=True)
class Table:
    """A sheet's header and its rows (with the line or row number the user sees in their editor)."""

    header: list[str]
    rows: list[tuple[int, list[Any]]]
    encoding: str  # how the file was read ("xlsx" for Excel)


@dataclass(frozen=True)
class Row:
    """One row's fate: the review it became (JSON, and its key), or why it did not."""

    line: int
    review: dict[str, Any] | None
    reason: str | None = None
    value: bytes = b""
    key: bytes | None = None


def parse_map(spec: str) -> dict[str, str]:
    """`field=column,...` as field -> column; an unknown field or a malformed entry is a ReviewFileError."""
    columns: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, sep, column = entry.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ReviewFileError(f"--map entry {entry!r} is not field=column")
        if name not in FIELDS:
            raise ReviewFileError(f"--map names {name!r}, not a review field: use one of {', '.join(FIELDS)}")
        columns[name] = column
    return columns


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with: `encoding`, or UTF-8 (a BOM dropped),
    UTF-16 with its BOM, else GB18030."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ReviewFileError(f"the file is not {encoding}: {exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for name in ENCODINGS:
        try:
            return data.decode(name).removeprefix("\ufeff"), name
        except UnicodeDecodeError:
            continue
    raise ReviewFileError("the file is neither UTF-8 nor GB18030/GBK: give its encoding with --encoding")


def read_table(path: Path, encoding: str | None = None, sheet: str | None = None) -> Table:
    """A CSV or XLSX file's header (its first non-empty row) and rows."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    text, used = decode(path.read_bytes(), encoding)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    for record in reader:
        line, start = start, reader.line_num + 1  # a quoted field may span lines: report where the row starts
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip() for cell in record]
        else:
            rows.append((line, record))
    if header is None:
        raise ReviewFileError("the file has no header row")
    return Table(header, rows, used)


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook  # only for Excel files

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, XML and its own errors for a damaged file
        raise ReviewFileError(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ReviewFileError(f"no sheet {sheet!r}: the workbook has {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        header: list[str] | None = None
        rows: list[tuple[int, list[Any]]] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), 1):
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            if header is None:
                header = ["" if v is None else str(v).strip() for v in values]
            else:
                rows.append((number, list(values)))
    finally:
        book.close()
    if header is None:
        raise ReviewFileError(f"sheet {ws.title!r} is empty")
    return Table(header, rows, "xlsx")


def resolve_columns(header: list[str], mapped: Mapping[str, str]) -> dict[str, int]:
    """Field -> column index: the --map first, then the headers recognised on their own."""
    index = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
    columns: dict[str, int] = {}
    for name, column in mapped.items():
        if column.strip().lower() not in index:
            raise ReviewFileError(f"--map {name}={column}: no such column; the header is: {', '.join(header)}")
        columns[name] = index[column.strip().lower()]
    for name, known in KNOWN_HEADERS.items():
        if name not in columns:
            found = next((index[h] for h in (name, *known) if h.lower() in index and index[h.lower()] not in columns.values()), None)
            if found is not None:
                columns[name] = found
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ReviewFileError(
            f"no column for {', '.join(missing)}: name it with --map (e.g. --map text=评论内容,ts=评价时间); the header is: {', '.join(header)}"
        )
    return columns


def parse_time(value: Any, zone: tzinfo) -> datetime:
    """A cell's date and time; a time without an offset is in `zone`. ValueError says what was not understood."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 < value < 80_000:  # an Excel serial date (1954-2119) in a cell formatted as a number
            return (EXCEL_EPOCH + timedelta(days=float(value))).replace(tzinfo=zone)
        raise ValueError(f"{value!r} is not a date")
    text = str(value or "").strip()
    if not text:
        raise ValueError("no date")
    m = _DATE.match(text)
    if m is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date this import reads (e.g. 2026-12-01 10:05, 2026/12/1, 2026年12月1日 10时05分)") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    hour = int(m["h"] or 0)
    if m["half"] in ("下午", "PM", "pm") and hour < 12:
        hour += 12
    elif m["half"] in ("上午", "AM", "am") and hour == 12:
        hour = 0
    seconds = float(m["s"] or 0)
    try:
        parsed = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), hour, int(m["mi"] or 0), int(seconds), round(seconds % 1 * 1e6))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if m["tz"]:
        return datetime.fromisoformat(parsed.isoformat() + (m["tz"] if m["tz"] != "Z" else "+00:00"))
    return parsed.replace(tzinfo=zone)


def parse_rating(value: Any) -> int | None:
    """1-5 stars from `5`, `5.0`, `5星`, `五星`, `★★★★★` or 好评/中评/差评; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if text in VERDICTS:
        return VERDICTS[text]
    if set(text) <= {"★", "☆"}:
        return text.count("★") or None
    text = text.removesuffix("星").removesuffix("分").strip()
    if text in CN_DIGITS:
        return CN_DIGITS[text]
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"rating {value!r} is not 1-5 stars (a number, 五星, ★★★★★ or 好评/中评/差评)") from None
    if number != int(number):
        raise ValueError(f"rating {value!r} is not a whole number of stars")
    return int(number)


def map_rows(table: Table, columns: Mapping[str, int], channel: Channel, source: str, zone: tzinfo) -> Iterator[Row]:
    """Each row as a review in the contract, judged by its models, or the reason it is not one."""
    for line, cells in table.rows:

        def cell(name: str) -> Any:
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        try:
            ts = parse_time(cell("ts"), zone)
            rating = parse_rating(cell("rating"))
        except ValueError as exc:
            yield Row(line, None, str(exc))
            continue
        text = "" if cell("text") is None else str(cell("text")).strip()
        if not text:
            yield Row(line, None, "no review text")
            continue
        ts_text = ts.isoformat()
        customer = _text(cell("customer_id"))
        # Ids the export lacks come from the row's content: importing the file again sends the same events.
        digest = hashlib.sha256(json.dumps([source, customer or "", text, ts_text], ensure_ascii=False).encode()).hexdigest()[:20]
        review: dict[str, Any] = {
            "review_id": _text(cell("review_id")) or f"{source}-{digest}",
            "customer_id": customer or f"{source}-anonymous-{digest}",
            "channel": _text(cell("channel")) or channel.value,
            "text": text,
            "ts": ts_text,
            "source": _text(cell("source")) or source,
        }
        if rating is not None:
            review["rating"] = rating
        if case_id := _text(cell("case_id")):
            review["case_id"] = case_id
        value = json.dumps(review, ensure_ascii=False).encode()
        verdict = judge("reviews", line, value)
        yield Row(line, review, verdict.reason, value, verdict.key)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps ids typed as numbers: 10086.0 is the id 10086
    text = str(value).strip()
    return text or None
