"""Sentiment: two linear models over the same character n-grams, averaged; scored with no ML library.

Lineage: snownlp's Naive Bayes sums log P(word|class), a linear score. We keep a linear score and
change the features to character 1-3-grams per clause, with negation-scope marks ("不慢" and
"没有让我失望" are features of their own) and contrast marks (bigrams after 但是/不过/就是 ... count
again, marked, because the verdict of a concessive review comes after the turn). Two models are
trained on those features (`pipeline.text.training`, scikit-learn at train time only):

- NB-LR: logistic regression on binary features scaled by their Naive Bayes log-ratio (Wang &
  Manning 2012), strong on long reviews;
- TF-IDF LR: logistic regression on L2-normalised IDF-weighted features, strong on short ones.

The score is the mean of their log-odds. Scoring is one dictionary lookup per feature and three sums.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pipeline.text.normalize import clean, for_scoring

MODEL_FILE = "sentiment_model.json.gz"
FORMAT = "cx-sentiment/3"

# Clause boundaries: punctuation and spaces. Features never span two clauses.
CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；:：~～\s、…()\[\]【】\"“”'‘’<>《》/|-]+")
NEGATORS = frozenset("不没无未别非勿莫")
# Words that start with a negator but are not a negation ("不错" is praise, "非常" is degree).
NOT_NEGATION = ("不错", "非常", "无论", "不过", "不但", "不仅", "别的", "别人", "没得说", "无敌", "不得不")
NEGATION_SCOPE = 4  # characters after the negator that are marked as negated
NEGATION_FLIP = 0.8  # share of a plain n-gram's weight that its unseen negated form gets, reversed
# A clause that starts with one of these turns the review; it and the clauses after it add bigrams
# marked "A" (upper case never occurs in the lower-cased scoring view).
CONTRAST = ("但是", "但", "不过", "可是", "就是", "只是", "然而", "可惜", "却")


def features(text: str) -> set[str]:
    """Binary features of an already normalised, scoring-view text."""
    feats: set[str] = set()
    turned = False
    for clause in CLAUSE_SPLIT.split(text):
        if not clause:
            continue
        s = "^" + clause + "$"
        bigrams = [s[i : i + 2] for i in range(len(s) - 1)]
        turned = turned or clause.startswith(CONTRAST)
        if turned:
            feats.update(["A" + g for g in bigrams])
        if NEGATORS.isdisjoint(clause):
            feats.update(clause)
            feats.update(bigrams)
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
    """Two linear models averaged: weights[f] = (NB-LR weight, TF-IDF LR weight x idf, idf squared).

    log-odds = (nb_bias + sum(nb) + tfidf_bias + sum(tfidf) / sqrt(sum(idf squared))) / 2, over the
    text's known features. `meta["validation"]` holds the held-out accuracy and the true and false
    positive rates that `adjusted_share` corrects a share with.
    """

    weights: dict[str, tuple[float, float, float]]
    bias: tuple[float, float]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = {f: tuple(w) for f, w in self.weights.items()}
        if any(len(w) != 3 for w in self.weights.values()) or len(self.bias) != 2:
            raise ValueError("expected three weights per feature and two biases")
        self.bias = (float(self.bias[0]), float(self.bias[1]))

    def logit(self, text: str) -> float:
        """Log-odds of positive for a cleaned text."""
        get = self.weights.get
        nb: list[float] = []
        tfidf: list[float] = []
        norm: list[float] = []
        for f in features(for_scoring(text)):
            w = get(f)
            if w is not None:
                nb.append(w[0])
                tfidf.append(w[1])
                norm.append(w[2])
            elif f[0] == "~" and (w := get(f[1:])) is not None:
                # A negated n-gram never seen in training borrows the opposite of the plain one.
                nb.append(-NEGATION_FLIP * w[0])
                tfidf.append(-NEGATION_FLIP * w[1])
                norm.append(w[2])
        # fsum is exact, so the result does not depend on the set's (hash-seeded) order: the worker
        # and its landing processes score a text alike.
        length = math.sqrt(math.fsum(norm))
        tfidf_part = math.fsum(tfidf) / length if length else 0.0
        return (self.bias[0] + math.fsum(nb) + self.bias[1] + tfidf_part) / 2

    def score(self, text: str) -> float:
        """P(positive) in [0, 1] for a cleaned text."""
        z = self.logit(text)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_bytes(self) -> bytes:
        """Byte-identical gzip'd JSON for identical models (sorted keys, no timestamp)."""
        doc = {"format": FORMAT, "bias": list(self.bias), "meta": self.meta, "weights": self.weights}
        raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return gzip.compress(raw, compresslevel=9, mtime=0)

    def save(self, path: str | Path) -> str:
        """Write the model; returns its sha256."""
        data = self.to_bytes()
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        """Read a model written by to_bytes."""
        doc = json.loads(gzip.decompress(data))
        if doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: {doc.get('format')!r} (retrain with `cx text train`)")
        return cls(weights=doc["weights"], bias=tuple(doc["bias"]), meta=doc.get("meta", {}))

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        """Load from a path, or the model shipped in the package."""
        if path is None:
            data = resources.files("pipeline.text").joinpath(MODEL_FILE).read_bytes()
        else:
            data = Path(path).read_bytes()
        return cls.from_bytes(data)

    def error_rates(self) -> tuple[float, float]:
        """(true positive rate, false positive rate) measured on the held-out split at training."""
        v = self.meta.get("validation", {})
        return float(v.get("tpr", 1.0)), float(v.get("fpr", 0.0))


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The shipped model, loaded once per process."""
    return SentimentModel.load()


def score(text: str) -> float:
    """P(positive) of any string with the shipped model."""
    return default_model().score(clean(text))


def adjusted_share(predicted: float, tpr: float, fpr: float) -> float:
    """Adjusted classify-and-count: the positive share corrected for the model's error rates.

    A share q of texts labelled positive comes from a true share p with q = p*tpr + (1-p)*fpr, so
    p = (q - fpr) / (tpr - fpr), clipped to [0, 1]. Unchanged when the rates are unusable."""
    if tpr - fpr <= 0.05:
        return predicted
    return min(1.0, max(0.0, (predicted - fpr) / (tpr - fpr)))
