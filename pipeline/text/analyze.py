"""One call per text: normalise, mask PII, segment, score sentiment, keywords and aspects."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from pipeline.text import aspects as aspect_rules
from pipeline.text.normalize import clean, split_at_cap
from pipeline.text.pii import mask_pii
from pipeline.text.segment import ASPECTS, segmenter
from pipeline.text.sentiment import default_model

KEYWORDS_TOP_K = 5


class AspectHit(BaseModel):
    """A service aspect mentioned in a clause, with that clause's polarity."""

    aspect: str  # one of ASPECTS
    polarity: str  # positive | negative


class TextResult(BaseModel):
    """Everything we derive from one text."""

    text: str  # normalised and PII-masked: safe to store and log
    sentiment: float = Field(ge=0.0, le=1.0)
    label: str  # positive | negative
    tokens: list[str]
    keywords: list[str]
    aspects: list[AspectHit] = Field(default_factory=list)
    overflow: str = ""  # text beyond the length cap, masked, not analysed


def _analyze(text: object) -> TextResult:
    cleaned = mask_pii(clean(text))
    kept, overflow = split_at_cap(cleaned)
    seg = segmenter()
    model = default_model()
    words = seg.cut(kept)  # once: tokens and aspects share it
    tokens = seg.content(words)
    sentiment = model.score(kept) if kept else 0.5
    hits = aspect_rules.detect(kept, model.score, words)
    return TextResult(
        text=kept,
        sentiment=min(1.0, max(0.0, sentiment)),
        label="positive" if sentiment >= 0.5 else "negative",
        tokens=tokens,
        keywords=seg.keywords(tokens, KEYWORDS_TOP_K),
        aspects=[AspectHit(aspect=a, polarity=p) for a, p in hits if a in ASPECTS],
        overflow=overflow,
    )


def analyze(text: str) -> TextResult:
    """Analyse one text; never raises on any string (a failure yields a neutral, masked result)."""
    try:
        return _analyze(text)
    except Exception:  # noqa: BLE001 - the stream must not stop on one odd message
        safe = mask_pii(clean(text))
        return TextResult(text=safe, sentiment=0.5, label="positive", tokens=[], keywords=[])


def analyze_many(texts: Sequence[str]) -> list[TextResult]:
    """Analyse a batch, in order."""
    return [analyze(t) for t in texts]
