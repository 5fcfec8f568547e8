"""Service aspects per clause (attitude, speed, quality, price, environment, ownership, honesty)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from pipeline.text.segment import cx_terms

# Clauses end at punctuation and before contrast words: "态度很好，但是太慢了" is two verdicts.
_CLAUSE = re.compile(r"[，,。.!！?？;；~～、…\n]+|(?=但是|但|可是|不过|然而|只是|就是|却)")
_NEGATORS = ("不", "没", "没有", "无", "未", "别", "并不", "从不", "从没")


@lru_cache(maxsize=1)
def _cues() -> tuple[dict[str, list[tuple[str, str, int]]], dict[str, tuple[str, int]]]:
    """Multi-character cues by their first character (matched inside the clause) and one-character
    cues (matched as words, so "慢" counts in "太慢了" but not inside "慢慢来" cut as one word)."""
    multi: dict[str, list[tuple[str, str, int]]] = {}
    single: dict[str, tuple[str, int]] = {}
    for term in cx_terms():
        if not term.aspect:
            continue
        if len(term.word) > 1:
            multi.setdefault(term.word[0], []).append((term.word, term.aspect, term.polarity))
        else:
            single[term.word] = (term.aspect, term.polarity)
    return multi, single


def clause_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of a cleaned text, surrounding whitespace left out."""
    spans, start = [], 0
    for sep in [*_CLAUSE.finditer(text), None]:
        end = sep.start() if sep else len(text)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            left = start + piece.index(stripped)
            spans.append((left, left + len(stripped)))
        if sep:
            start = sep.end()
    return spans


def clauses(text: str) -> list[str]:
    """Split a cleaned text into clauses."""
    return [text[a:b] for a, b in clause_spans(text)]


def _negated(clause: str, start: int) -> bool:
    before = clause[max(0, start - 3) : start]
    return before.endswith(_NEGATORS) or any(before.endswith(n + x) for n in _NEGATORS for x in "太很是")


def _single_cues(words: list[str], spans: list[tuple[int, int]]) -> list[list[tuple[int, str, int]]]:
    """Per clause: (position in the clause, aspect, polarity) of each one-character cue word."""
    _, single = _cues()
    found: list[list[tuple[int, str, int]]] = [[] for _ in spans]
    clause, pos = 0, 0
    for word in words:
        if word in single:
            while clause < len(spans) and spans[clause][1] <= pos:
                clause += 1
            if clause < len(spans) and spans[clause][0] <= pos:
                found[clause].append((pos - spans[clause][0], *single[word]))
        pos += len(word)
    return found


def detect(text: str, clause_score: Callable[[str], float], words: list[str]) -> list[tuple[str, str]]:
    """(aspect, polarity) pairs in order of appearance, one per aspect and polarity.

    `words`: the text's segmentation (concatenated, they are the text), cut once for tokens and
    aspects alike; clause_score scores a clause whose cues carry no polarity of their own.
    """
    multi, _ = _cues()
    spans = clause_spans(text)
    singles = _single_cues(words, spans)
    hits: list[tuple[str, str]] = []
    for (first, last), single_found in zip(spans, singles):
        clause = text[first:last]
        found: list[tuple[int, int, str, int]] = []  # start, end, aspect, polarity
        seen: set[str] = set()
        for start, ch in enumerate(clause):
            for word, aspect, polarity in multi.get(ch, ()):
                if word not in seen and clause.startswith(word, start):
                    seen.add(word)  # the first occurrence of each cue is the evidence
                    found.append((start, start + len(word), aspect, polarity))
        found += [(pos, pos + 1, aspect, polarity) for pos, aspect, polarity in single_found]
        if not found:
            continue
        # A cue inside a longer cue of the same aspect ("慢" in "太慢") is the same evidence.
        found = [
            f for f in found
            if not any(g is not f and g[2] == f[2] and g[0] <= f[0] and f[1] <= g[1] and g[1] - g[0] > f[1] - f[0]
                       for g in found)
        ]
        verdict = None
        for aspect in sorted({f[2] for f in found}, key=lambda a: (min(f[0] for f in found if f[2] == a), a)):
            votes = 0
            for start, _end, a, polarity in found:
                if a == aspect and polarity:
                    votes += -polarity if _negated(clause, start) else polarity
            if votes == 0:
                # No cue with its own polarity (e.g. "价格", "态度"): the clause's sentiment decides.
                if verdict is None:
                    verdict = clause_score(clause)
                votes = 1 if verdict >= 0.5 else -1
            hit = (aspect, "positive" if votes > 0 else "negative")
            if hit not in hits:
                hits.append(hit)
    return hits
