"""Sentiment: snownlp's Naive Bayes, trained on service reviews, refined and scored as a linear model.

Lineage: snownlp's `Bayes` with `AddOneProb` counts classifies by summing log P(word|class). For two
classes that sum is a linear score: log-odds = log prior ratio + sum of per-feature log-ratios. We keep
that model and its training format (one document per line, a negative and a positive file), change
the features to character 1-3-grams per clause plus negation-scope marks (so "不慢" and "没有让我失望"
are features of their own), then refine the Naive Bayes log-ratios discriminatively (NB-weighted
logistic regression, Wang & Manning 2012). Scoring is one dictionary lookup per feature.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pipeline.text.normalize import clean, for_scoring

MODEL_FILE = "sentiment_model.json.gz"
FORMAT = "cx-sentiment/2"

# Clause boundaries: punctuation and spaces. Features never span two clauses.
CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；:：~～\s、…()\[\]【】\"“”'‘’<>《》/|-]+")
NEGATORS = frozenset("不没无未别非勿莫")
# Words that start with a negator but are not a negation ("不错" is praise, "非常" is degree).
NOT_NEGATION = ("不错", "非常", "无论", "不过", "不但", "不仅", "别的", "别人", "没得说", "无敌", "不得不")
NEGATION_SCOPE = 4  # characters after the negator that are marked as negated
NEGATION_FLIP = 0.8  # share of a plain n-gram's weight that its unseen negated form gets, reversed


def features(text: str) -> set[str]:
    """Binary features of an already normalised, scoring-view text."""
    feats: set[str] = set()
    for clause in CLAUSE_SPLIT.split(text):
        if not clause:
            continue
        s = "^" + clause + "$"
        if NEGATORS.isdisjoint(clause):
            feats.update(clause)
            feats.update([s[i : i + 2] for i in range(len(s) - 1)])
            feats.update([s[i : i + 3] for i in range(len(s) - 2)])
            continue
        # In a negator's scope the n-grams are marked "~", so "没有推诿" yields "~推诿" instead of
        # "推诿": the negated word then counts against its usual polarity (see SentimentModel.logit).
        negated = [False] * len(s)
        for j, ch in enumerate(clause):
            if ch in NEGATORS and not clause.startswith(NOT_NEGATION, j):
                for k in range(j + 2, min(len(s) - 1, j + 2 + NEGATION_SCOPE)):
                    negated[k] = True
        for n in (1, 2, 3):
            for i in range(len(s) - n + 1):
                g = s[i : i + n]
                if g in ("^", "$"):
                    continue
                feats.add("~" + g if negated[i] else g)
    return feats


@dataclass
class SentimentModel:
    """A linear sentiment model with domain-specific parts and a domain router.

    `weights` maps a feature to [shared, domain_1 .. domain_K, router_1 .. router_K] (`meta["domains"]`
    names the K domains; K = 0 gives a plain linear model). For a text, the router's scores (Naive
    Bayes log-likelihoods) give P(domain) by softmax, and

        log-odds(positive) = bias + sum(shared) + sum_k P(domain_k) * (domain_bias_k + sum(domain_k)).

    This is Daume's "frustratingly easy" domain adaptation with soft routing: each domain keeps the
    shared weights and adds its own corrections, and a text from an unseen domain still gets the
    shared model plus a mix of the corrections. Scoring is one dictionary lookup per feature and
    two small vectorised sums.
    """

    weights: dict[str, list[float]]
    bias: float
    meta: dict = field(default_factory=dict)
    domain_bias: list[float] = field(default_factory=list)
    router_bias: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        import numpy as np

        self.weights = {f: ([w] if isinstance(w, (int, float)) else list(w)) for f, w in self.weights.items()}
        k = len(self.domain_bias)
        if len(self.router_bias) != k:
            raise ValueError("router_bias and domain_bias must have one entry per domain")
        self._k = k
        names = sorted(self.weights)
        self._index = {f: i for i, f in enumerate(names)}
        table = np.zeros((len(names) + 1, 1 + 2 * k))  # last row: zeros, for empty texts
        for i, f in enumerate(names):
            w = self.weights[f]
            if len(w) != 1 + 2 * k:
                raise ValueError(f"feature {f!r}: expected {1 + 2 * k} weights, got {len(w)}")
            table[i] = w
        self._sent = np.ascontiguousarray(table[:, : 1 + k])
        self._route = np.ascontiguousarray(table[:, 1 + k :])
        self._dbias = np.asarray(self.domain_bias, dtype=np.float64)
        self._rbias = np.asarray(self.router_bias, dtype=np.float64)
        self._empty = len(names)

    def logit(self, text: str) -> float:
        """Log-odds of positive for a cleaned text."""
        import numpy as np

        get = self._index.get
        idx: list[int] = []
        coef: list[float] = []
        direct: list[float] = []
        # In a fixed order: a set's order follows the process's hash seed, and so would the sum's
        # last bits (the worker and its landing processes must score a text alike).
        for f in sorted(features(for_scoring(text))):
            i = get(f)
            if i is not None:
                idx.append(i)
                coef.append(1.0)
                direct.append(1.0)
            elif f[0] == "~":
                # A negated n-gram never seen in training borrows the opposite of the plain one.
                i = get(f[1:])
                if i is not None:
                    idx.append(i)
                    coef.append(-NEGATION_FLIP)
                    direct.append(0.0)
        if not idx:
            idx, coef, direct = [self._empty], [0.0], [0.0]
        parts = np.asarray(coef) @ self._sent[idx]
        total = self.bias + float(parts[0])
        if self._k:
            route = self._rbias + np.asarray(direct) @ self._route[idx]
            route = np.exp(route - route.max())
            total += float((route @ (self._dbias + parts[1:])) / route.sum())
        return total

    def domain(self, text: str) -> dict[str, float]:
        """P(domain) of a cleaned text under the router (empty for a model without domains)."""
        import numpy as np

        if not self._k:
            return {}
        idx = [i for f in features(for_scoring(text)) if (i := self._index.get(f)) is not None] or [self._empty]
        route = self._rbias + self._route[idx].sum(axis=0)
        route = np.exp(route - route.max())
        return dict(zip(self.meta.get("domains", []), (route / route.sum()).tolist()))

    def score(self, text: str) -> float:
        """P(positive) in [0, 1] for a cleaned text."""
        z = self.logit(text)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_bytes(self) -> bytes:
        """Byte-identical gzip'd JSON for identical models (sorted keys, no timestamp)."""
        doc = {
            "format": FORMAT,
            "bias": self.bias,
            "domain_bias": self.domain_bias,
            "router_bias": self.router_bias,
            "meta": self.meta,
            "weights": self.weights,
        }
        raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return gzip.compress(raw, compresslevel=9, mtime=0)

    def save(self, path: str | Path) -> str:
        """Write the model; returns its sha256."""
        data = self.to_bytes()
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        """Read a model written by to_bytes (also the single-domain cx-sentiment/1 format)."""
        doc = json.loads(gzip.decompress(data))
        if doc.get("format") not in (FORMAT, "cx-sentiment/1"):
            raise ValueError(f"not a {FORMAT} model: {doc.get('format')!r}")
        return cls(
            weights=doc["weights"],
            bias=float(doc["bias"]),
            meta=doc.get("meta", {}),
            domain_bias=[float(b) for b in doc.get("domain_bias", [])],
            router_bias=[float(b) for b in doc.get("router_bias", [])],
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        """Load from a path, or the model shipped in the package."""
        if path is None:
            data = resources.files("pipeline.text").joinpath(MODEL_FILE).read_bytes()
        else:
            data = Path(path).read_bytes()
        return cls.from_bytes(data)


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The shipped model, loaded once per process."""
    return SentimentModel.load()


def score(text: str) -> float:
    """P(positive) of any string with the shipped model."""
    return default_model().score(clean(text))


# ---------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; chosen on a held-out 15% of the training files only."""

    alpha: float = 1.0  # add-one smoothing, as snownlp's AddOneProb
    l2: float = 1e-3
    iterations: int = 200
    learning_rate: float = 0.1
    min_df: int = 2  # features seen in fewer documents are dropped (keeps the model small)
    prune: float = 0.02  # |weight| below this is dropped
    decimals: int = 3
    balanced: bool = True  # weight classes equally, so the short-review prior (2:1 negative) does not leak
    lexicon_repeats: int = 10  # copies of each polar CX term added as a one-word document


def train(docs: Sequence[str], labels: Sequence[int], config: TrainConfig = TrainConfig()) -> SentimentModel:
    """Train on documents with labels 1 (positive) / 0 (negative); deterministic."""
    import numpy as np

    if len(docs) != len(labels) or not docs:
        raise ValueError("need as many labels as documents, and at least one document")
    extra_docs, extra_labels = lexicon_documents(config.lexicon_repeats)
    docs, labels = list(docs) + extra_docs, list(labels) + extra_labels
    feats = [features(for_scoring(clean(d))) for d in docs]
    df: dict[str, int] = {}
    for fs in feats:
        for f in fs:
            df[f] = df.get(f, 0) + 1
    vocab = sorted(f for f, n in df.items() if n >= config.min_df)
    index = {f: i for i, f in enumerate(vocab)}
    rows_idx = [sorted(index[f] for f in fs if f in index) for fs in feats]
    idx = np.fromiter((j for r in rows_idx for j in r), dtype=np.int64)
    lengths = np.array([len(r) for r in rows_idx], dtype=np.int64)
    rows = np.repeat(np.arange(len(docs)), lengths)
    y = np.asarray(labels, dtype=np.float64)
    n, v = len(docs), len(vocab)
    if config.balanced and 0 < y.sum() < n:
        sample = np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum())))
    else:
        sample = np.ones(n)

    # Naive Bayes, as snownlp: add-alpha counts per class, log P(f|pos) - log P(f|neg).
    pos = np.bincount(idx, weights=y[rows], minlength=v) + config.alpha
    neg = np.bincount(idx, weights=1.0 - y[rows], minlength=v) + config.alpha
    ratio = np.log(pos / pos.sum()) - np.log(neg / neg.sum())

    # Logistic regression on NB-scaled binary features (Adam, full batch, fixed steps: reproducible).
    x = np.abs(ratio)[idx]
    w = np.zeros(v)
    b = 0.0
    m1, m2, mb1, mb2 = np.zeros(v), np.zeros(v), 0.0, 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, config.iterations + 1):
        z = np.bincount(rows, weights=w[idx] * x, minlength=n) + b
        g = (1.0 / (1.0 + np.exp(-z)) - y) * sample
        gw = np.bincount(idx, weights=g[rows] * x, minlength=v) / n + config.l2 * w
        gb = float(g.mean())
        m1 = beta1 * m1 + (1 - beta1) * gw
        m2 = beta2 * m2 + (1 - beta2) * gw * gw
        w -= config.learning_rate * (m1 / (1 - beta1**t)) / (np.sqrt(m2 / (1 - beta2**t)) + eps)
        mb1 = beta1 * mb1 + (1 - beta1) * gb
        mb2 = beta2 * mb2 + (1 - beta2) * gb * gb
        b -= config.learning_rate * (mb1 / (1 - beta1**t)) / (math.sqrt(mb2 / (1 - beta2**t)) + eps)

    final = w * np.abs(ratio)
    weights = {
        f: round(float(final[i]), config.decimals)
        for i, f in enumerate(vocab)
        if abs(final[i]) >= config.prune
    }
    meta = {
        "documents": n,
        "positive": int(y.sum()),
        "features_seen": len(df),
        "features_kept": len(weights),
        "config": config.__dict__,
    }
    return SentimentModel(weights=weights, bias=round(b, 6), meta=meta)


def lexicon_documents(repeats: int) -> tuple[list[str], list[int]]:
    """Polar CX terms and their negations as short documents (domain knowledge the reviews lack)."""
    from pipeline.text.segment import cx_terms

    docs, labels = [], []
    for term in cx_terms():
        if term.polarity and term.word[0] not in NEGATORS:
            label = 1 if term.polarity > 0 else 0
            docs += [term.word] * repeats
            labels += [label] * repeats
            # Negated forms teach the "~" features and that a negator alone is no verdict.
            for negator in ("不", "没有"):
                docs += [negator + term.word] * repeats
                labels += [1 - label] * repeats
    return docs, labels


def read_labelled_csv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read a CSV with columns label,review (label 1 positive, 0 negative)."""
    import csv

    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("review") is None or row.get("label") not in ("0", "1"):
                continue
            texts.append(row["review"])
            labels.append(int(row["label"]))
    return texts, labels


def read_snownlp_files(neg_file: str | Path, pos_file: str | Path) -> tuple[list[str], list[int]]:
    """Read snownlp's training format: one document per line, a negative and a positive file."""
    neg = [ln.strip() for ln in Path(neg_file).read_text(encoding="utf-8").splitlines() if ln.strip()]
    pos = [ln.strip() for ln in Path(pos_file).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return neg + pos, [0] * len(neg) + [1] * len(pos)


def iter_scores(model: SentimentModel, texts: Iterable[str]) -> list[float]:
    """Scores for cleaned texts."""
    return [model.score(t) for t in texts]
