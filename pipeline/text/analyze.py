"""Plain default scorer: jieba tokens + snownlp sentiment (the text issue replaces the model)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field


class AspectHit(BaseModel):
    """A service aspect mentioned in a clause, with that clause's polarity."""

    aspect: str
    polarity: str  # positive | negative


class TextResult(BaseModel):
    """Everything we derive from one text."""

    text: str
    sentiment: float = Field(ge=0.0, le=1.0)
    label: str  # positive | negative
    tokens: list[str]
    keywords: list[str]
    aspects: list[AspectHit] = Field(default_factory=list)


@lru_cache(maxsize=1)
def _jieba():
    import jieba
    import jieba.analyse

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


def analyze(text: str) -> TextResult:
    """Score one text."""
    from snownlp import SnowNLP

    jieba = _jieba()
    tokens = [t for t in jieba.lcut(text) if t.strip()]
    sentiment = float(SnowNLP(text).sentiments) if text.strip() else 0.5
    keywords = jieba.analyse.extract_tags(text, topK=5)
    return TextResult(
        text=text,
        sentiment=min(1.0, max(0.0, sentiment)),
        label="positive" if sentiment >= 0.5 else "negative",
        tokens=tokens,
        keywords=keywords,
    )


def analyze_many(texts) -> list[TextResult]:
    """Score a batch of texts, in order."""
    return [analyze(t) for t in texts]


def mask_pii(text: str) -> str:
    """Placeholder: the text issue masks phone, ID-card, e-mail and bank-card numbers."""
    return text
