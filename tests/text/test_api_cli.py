import json
import subprocess
import sys

from typer.testing import CliRunner

from pipeline.cli.text import app
from pipeline.text import AspectHit, TextResult, analyze, analyze_many

from .conftest import REPO_ROOT


def test_contract_fields():
    result = analyze("客服态度很好，但是等了很久")
    assert isinstance(result, TextResult)
    assert set(result.model_dump()) >= {"text", "sentiment", "label", "tokens", "keywords", "aspects"}
    assert all(isinstance(a, AspectHit) for a in result.aspects)


def test_analyze_many_matches_analyze_in_order():
    texts = ["很好", "太差了", "", "師傅很準時"]
    assert analyze_many(texts) == [analyze(t) for t in texts]


def test_score_command_one_line_per_input_in_order():
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in ["服务很好", "太慢了"]] + ["not json"]
    result = CliRunner().invoke(app, ["score"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.output.splitlines()]
    assert [o.get("label") for o in out[:2]] == ["positive", "negative"]
    assert "error" in out[2]


def test_score_streams_before_eof():
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pipeline.cli.text import app; app(prog_name='cx text')", "score"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    try:
        proc.stdin.write(json.dumps({"text": "电话13912345678，服务很好"}) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # answered while stdin is still open
        assert first["label"] == "positive" and "[PHONE]" in first["text"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_eval_command_prints_measures(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("label,review\n1,服务很好很满意\n0,态度太差了\n1,师傅很准时\n0,等了两个小时没人理\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(csv), "--details"])
    assert result.exit_code == 0, result.output
    for word in ("accuracy", "precision", "recall", "texts/s", "confusion", "floor", "goal"):
        assert word in result.output
    assert "cx accuracy=1.0000" in result.output


def test_eval_fails_below_a_known_floor(tmp_path):
    csv = tmp_path / "service_reviews.csv"  # a known set name: its floor applies
    csv.write_text("label,review\n0,服务很好很满意\n1,态度太差了\n0,师傅很准时\n1,等了两个小时没人理\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(csv)])
    assert result.exit_code == 1 and "below the floor" in result.output


def _tiny_sources(folder):
    pos = ["服务很好", "态度很热情", "很满意", "师傅很准时", "回复很及时", "一次就解决了"]
    neg = ["太慢了", "态度差", "很失望", "推来推去", "等了两个小时", "一直打不通"]
    for name, shift in (("hotel", 0), ("waimai", 100)):
        rows = [f"1,{t}{i + shift}" for i in range(20) for t in pos] + [f"0,{t}{i + shift}" for i in range(20) for t in neg]
        (folder / f"{name}.train.csv").write_text("label,review\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_train_writes_the_same_bytes_twice_and_eval_reads_it(tmp_path):
    _tiny_sources(tmp_path)
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    for out in (first, second):
        result = CliRunner().invoke(app, ["train", "--data-dir", str(tmp_path), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert "held out" in result.output and first.read_bytes() == second.read_bytes()
    csv = tmp_path / "t.csv"
    csv.write_text("label,review\n1,服务很好很满意\n0,态度太差了很失望\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(csv), "--model", str(first)])
    assert result.exit_code == 0 and "cx accuracy=1.0000" in result.output and "adjusted" in result.output


def test_loso_prints_one_row_per_source(tmp_path):
    _tiny_sources(tmp_path)
    result = CliRunner(env={"COLUMNS": "160"}).invoke(app, ["loso", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["hotel", "waimai", "mean"]
