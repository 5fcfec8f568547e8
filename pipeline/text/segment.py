"""Segmentation with jieba (jieba-rs) plus the customer-experience vocabulary; TF-IDF keywords."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pipeline.text.pii import MASK_WORDS

ASPECTS = ("attitude", "speed", "quality", "price", "environment", "ownership", "honesty")


@dataclass(frozen=True)
class Term:
    """One entry of the CX vocabulary: the word, the aspect it signals (or None) and its prior polarity."""

    word: str
    aspect: str | None
    polarity: int  # +1, -1 or 0 (neutral: the clause decides)


def _data_lines(name: str) -> list[str]:
    text = resources.files("pipeline.text").joinpath(name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("# ")]


@lru_cache(maxsize=1)
def cx_terms() -> tuple[Term, ...]:
    """The customer-experience vocabulary shipped in cx_terms.txt."""
    terms = []
    for line in _data_lines("cx_terms.txt"):
        word, aspect, polarity = line.split("\t")
        terms.append(Term(word, None if aspect == "-" else aspect, {"+": 1, "-": -1}.get(polarity, 0)))
    return tuple(terms)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Function words and punctuation left out of tokens and keywords."""
    return frozenset(_data_lines("stopwords.txt"))


@lru_cache(maxsize=1)
def idf_table() -> tuple[dict[str, float], float]:
    """jieba.analyse's IDF table and its median, read as jieba.analyse reads it (without importing
    jieba.analyse, which loads its POS tagger: most of a second)."""
    text = resources.files("jieba").joinpath("analyse", "idf.txt").read_text(encoding="utf-8")
    idf = {}
    for line in text.splitlines():
        word, value = line.strip().split(" ")
        idf[word] = float(value)
    return idf, sorted(idf.values())[len(idf) // 2]


class Segmenter:
    """jieba's dictionary and HMM (jieba-rs, via rjieba) with the CX user dictionary, stop words and
    jieba's IDF table for keywords."""

    def __init__(self) -> None:
        import rjieba

        # jieba-rs cuts 18x faster than jieba's Python code, from the same dictionary and HMM; a
        # private instance, so that our user words do not leak into other users of the default one.
        self._jieba = rjieba.Jieba()
        for term in cx_terms():
            if len(term.word) > 1:
                self._jieba.add_word(term.word, None, None)  # frequency: enough to be cut whole
        self._stop = stop_words()
        self._idf, self._median_idf = idf_table()

    def cut(self, text: str) -> list[str]:
        """Raw jieba words (HMM on), no filtering."""
        return self._jieba.cut(text)

    def tokens(self, text: str) -> list[str]:
        """Words without spaces, punctuation and stop words."""
        return self.content(self._jieba.cut(text))

    def content(self, words: list[str]) -> list[str]:
        """The words of a cut that are tokens: no spaces, punctuation or stop words."""
        stop = self._stop
        return [w for w in words if w not in stop and not w.isspace()]

    def keywords(self, tokens: list[str], top_k: int = 5) -> list[str]:
        """Top-k words by TF-IDF (jieba.analyse's IDF table), from already segmented tokens."""
        counts = Counter(w for w in tokens if len(w) > 1 and not w.isdigit() and w not in MASK_WORDS)
        if not counts:
            return []
        idf, median = self._idf, self._median_idf
        order = {w: i for i, w in reversed(list(enumerate(tokens)))}
        ranked = sorted(counts, key=lambda w: (-counts[w] * idf.get(w, median), order[w]))
        return ranked[:top_k]


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _segmenter() -> Segmenter:
    return Segmenter()


def segmenter() -> Segmenter:
    """The process-wide segmenter, built on first use (jieba loads its dictionary once)."""
    with _lock:
        return _segmenter()
