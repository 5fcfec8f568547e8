"""`cx import reviews`: CSV exports in GBK and UTF-8 (with a BOM), an Excel workbook, Chinese dates and
ratings, a column mapping, the dry run, rejected rows by line; then the real command sends to the real
broker and a worker lands the reviews once, even when the file is imported twice."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from harness.processes import CX
from pipeline.broker import ensure_topics
from pipeline.broker.topics import REVIEWS
from pipeline.events.models import Channel
from pipeline.ingest.review_file import ReviewFileError, decode, map_rows, parse_map, parse_rating, parse_time, read_table, resolve_columns
from streams.progress import Progress
from streams.worker import run_worker
from tests.records import read_topic

SHANGHAI = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
HEADER = ["订单号", "买家昵称", "评分", "评论内容", "评价时间"]
ROWS = [
    ["10086", "t**1", "5", "物流很快，包装完好，客服回复也及时", "2026-11-30 10:05:00"],
    ["10087", "小**红", "五星", "质量不错，下次还来", "2026/11/30 14:20"],
    ["10088", "a**9", "★★☆☆☆", "等了一周才发货，\n客服也不理人", "2026年11月30日 下午3时05分"],
    ["10089", "b**2", "差评", "", "2026-11-30"],  # no text: rejected
    ["10090", "c**3", "4.5", "还行吧", "2026-11-30 09:00"],  # half a star: rejected
    ["10091", "d**4", "4", "还可以", "昨天"],  # a relative date: rejected
    ["10092", "e**5", "中评", "一般般", "2026年12月1日"],
]


def _csv(rows=ROWS, header=HEADER) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def test_gbk_csv_with_chinese_headers_dates_and_ratings_maps_each_row_or_says_why(tmp_path):
    path = tmp_path / "淘宝评价导出.csv"
    path.write_bytes(_csv().encode("gbk"))
    table = read_table(path)
    assert table.encoding == "gb18030" and table.header == HEADER
    columns = resolve_columns(table.header, parse_map("review_id=订单号"))  # the rest are headers it knows
    assert {name: table.header[i] for name, i in columns.items()} == {
        "review_id": "订单号", "text": "评论内容", "ts": "评价时间", "rating": "评分", "customer_id": "买家昵称",
    }  # fmt: skip
    rows = list(map_rows(table, columns, Channel.app, "taobao", SHANGHAI))
    assert [r.line for r in rows] == [2, 3, 4, 6, 7, 8, 9]  # the quoted line break: row 4 spans lines 4-5
    accepted = {r.review["review_id"]: r.review for r in rows if r.reason is None}
    assert set(accepted) == {"10086", "10087", "10088", "10092"}
    assert [accepted[i]["rating"] for i in ("10086", "10087", "10088", "10092")] == [5, 5, 2, 3]
    assert datetime.fromisoformat(accepted["10088"]["ts"]) == datetime(2026, 11, 30, 15, 5, tzinfo=CST)
    assert accepted["10088"]["text"] == "等了一周才发货，\n客服也不理人"
    assert accepted["10086"]["customer_id"] == "t**1" and accepted["10086"]["source"] == "taobao"
    reasons = {r.line: r.reason for r in rows if r.reason}
    assert reasons[6] == "no review text"
    assert "whole number" in reasons[7] and "'昨天' is not a date" in reasons[8]
    assert all(r.key == r.review["customer_id"].encode() for r in rows if r.reason is None)  # keyed like cx produce


def test_utf8_bom_and_utf16_exports_read_and_a_wrong_encoding_is_named(tmp_path):
    text = _csv()
    assert decode(("\ufeff" + text).encode("utf-8")) == (text, "utf-8")
    assert decode(text.encode("utf-16")) == (text, "utf-16")
    with pytest.raises(ReviewFileError, match="not big5"):
        decode("評論 😀".encode(), "big5")


def test_an_excel_workbook_with_typed_cells(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "评价"
    sheet.append(["评价ID", "用户ID", "星级", "评价内容", "评价时间"])
    sheet.append([20001, 777, 4, "送货上门很准时", datetime(2026, 11, 29, 20, 30)])  # a datetime cell
    sheet.append([20002.0, 778, 1.0, "退款一直没到账", 46355.5])  # a date left as Excel's serial number
    sheet.append([20003, 779, 6, "太好了", "2026-11-29 08:00"])  # 6 stars: the contract refuses it
    path = tmp_path / "reviews.xlsx"
    book.save(path)
    table = read_table(path)
    rows = list(map_rows(table, resolve_columns(table.header, {}), Channel.store, "mall", SHANGHAI))
    (a, b, c) = rows
    assert (a.review["review_id"], a.review["customer_id"], a.review["rating"]) == ("20001", "777", 4)
    assert datetime.fromisoformat(a.review["ts"]) == datetime(2026, 11, 29, 20, 30, tzinfo=CST)
    assert b.review["review_id"] == "20002" and datetime.fromisoformat(b.review["ts"]) == datetime(2026, 11, 29, 12, 0, tzinfo=CST)  # Excel: 46023 is 2026-01-01
    assert (c.line, c.reason is not None and "rating" in c.reason) == (4, True)
    with pytest.raises(ReviewFileError, match="no sheet 'x': the workbook has 评价"):
        read_table(path, sheet="x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 10:05", datetime(2026, 12, 1, 10, 5, tzinfo=CST)),
        ("2026.12.01", datetime(2026, 12, 1, tzinfo=CST)),
        ("2026年12月1日10:05:30", datetime(2026, 12, 1, 10, 5, 30, tzinfo=CST)),
        ("2026/12/1 上午12:10", datetime(2026, 12, 1, 0, 10, tzinfo=CST)),
        ("2026-12-01T10:05:00Z", datetime(2026, 12, 1, 10, 5, tzinfo=timezone.utc)),
        ("2026-12-01 10:05:00+0000", datetime(2026, 12, 1, 10, 5, tzinfo=timezone.utc)),
    ],
)
def test_dates_in_the_usual_chinese_formats(text, expected):
    assert parse_time(text, SHANGHAI) == expected


def test_ratings_and_mapping_mistakes():
    assert [parse_rating(v) for v in ("5", 3.0, "4星", "二", "★★★★★", "好评", "", None)] == [5, 3, 4, 2, 5, 5, None, None]
    with pytest.raises(ValueError, match="not 1-5 stars"):
        parse_rating("很好")
    with pytest.raises(ReviewFileError, match="'stars', not a review field"):
        parse_map("stars=评分")
    with pytest.raises(ReviewFileError, match="no such column; the header is: a, b"):
        resolve_columns(["a", "b"], {"text": "评论"})
    with pytest.raises(ReviewFileError, match="no column for text, ts"):
        resolve_columns(["a", "b"], {})


def _run(*args: str, settings, timeout=60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CX_TOPIC_PREFIX": settings.topic_prefix, "COLUMNS": "200",
    }  # fmt: skip
    return subprocess.run([CX, "import", "reviews", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_command_dry_runs_then_sends_and_a_second_import_lands_nothing_twice(settings, clean_store, tmp_path):
    ensure_topics(settings)
    path = tmp_path / "export.csv"
    path.write_bytes(_csv().encode("gbk"))
    rejects = tmp_path / "rejected.csv"

    dry = _run(str(path), "--map", "review_id=订单号", "--dry-run", "--rejects", str(rejects), settings=settings)
    assert dry.returncode == 0, dry.stderr
    assert "export.csv (gb18030): 7 rows" in dry.stdout and "物流很快" in dry.stdout
    assert "3 rows rejected" in dry.stdout and "line 7: rating '4.5' is not a whole number of stars" in dry.stdout
    assert "dry run: 4 reviews would be sent" in dry.stdout
    written = list(csv.reader(rejects.open(encoding="utf-8-sig")))
    assert written[0] == ["line", "reason", *HEADER] and [r[0] for r in written[1:]] == ["6", "7", "8"]
    assert read_topic(settings, settings.topic(REVIEWS), 1, timeout=3.0) == []

    for _ in range(2):  # the same file twice: the same review ids, landed once
        sent = _run(str(path), "--map", "review_id=订单号", settings=settings)
        assert sent.returncode == 0 and "sent 4 reviews to cx.reviews" in sent.stdout, sent.stdout + sent.stderr
    progress = Progress()

    async def landed(app) -> bool:
        return progress.landed >= 8

    asyncio.run(asyncio.wait_for(run_worker(settings, clean_store, until=landed, poll=0.2, progress=progress), 180))
    _, rows = clean_store.query("SELECT review_id, rating, source FROM cx.v_reviews ORDER BY review_id")
    assert rows == [("10086", 5, "export"), ("10087", 5, "export"), ("10088", 2, "export"), ("10092", 3, "export")]


def test_mistakes_are_one_line_naming_what_to_fix(settings, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(_csv(), encoding="utf-8")
    for args, words in (
        (["--map", "stars=评分"], "not a review field"),
        (["--map", "text=评语"], "no such column"),
        (["--tz", "Mars/Olympus"], "not a time zone"),
        (["--encoding", "ascii"], "the file is not ascii"),
    ):
        result = _run(str(path), *args, settings=settings)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) <= 2, result.stderr
        assert words in result.stderr
