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
def _cues() -> tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int]]]:
    """Multi-character cues (matched inside the clause) and one-character cues (matched as tokens)."""
    multi, single = {}, {}
    for term in cx_terms():
        if term.aspect:
            (multi if len(term.word) > 1 else single)[term.word] = (term.aspect, term.polarity)
    return multi, single


def clauses(text: str) -> list[str]:
    """Split a cleaned text into clauses."""
    return [c.strip() for c in _CLAUSE.split(text) if c and c.strip()]


def _negated(clause: str, start: int) -> bool:
    before = clause[max(0, start - 3) : start]
    return before.endswith(_NEGATORS) or any(before.endswith(n + x) for n in _NEGATORS for x in "太很是")


def detect(text: str, clause_score: Callable[[str], float], cut: Callable[[str], list[str]]) -> list[tuple[str, str]]:
    """(aspect, polarity) pairs in order of appearance, one per aspect and polarity."""
    multi, single = _cues()
    hits: list[tuple[str, str]] = []
    for clause in clauses(text):
        found: list[tuple[int, int, str, int]] = []  # start, end, aspect, polarity
        for word, (aspect, polarity) in multi.items():
            start = clause.find(word)
            if start >= 0:
                found.append((start, start + len(word), aspect, polarity))
        pos = 0
        for tok in cut(clause):
            if tok in single:
                aspect, polarity = single[tok]
                found.append((pos, pos + 1, aspect, polarity))
            pos += len(tok)
        if not found:
            continue
        # A cue inside a longer cue of the same aspect ("慢" in "太慢") is the same evidence.
        found = [
            f for f in found
            if not any(g is not f and g[2] == f[2] and g[0] <= f[0] and f[1] <= g[1] and g[1] - g[0] > f[1] - f[0]
                       for g in found)
        ]
        verdict = None
        for aspect in sorted({f[2] for f in found}, key=lambda a: min(f[0] for f in found if f[2] == a)):
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
