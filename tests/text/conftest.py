"""Shared paths and loaders for the text analytics tests."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "tests" / "data"


def load_aspect_sample() -> list[tuple[str, set[tuple[str, str]]]]:
    """The hand-labelled aspect sample: text and its set of (aspect, polarity)."""
    rows = []
    for line in (DATA / "aspects.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, _, labels = line.partition("\t")
        gold = set()
        for item in filter(None, labels.split("|")):
            aspect, sign = item.split(":")
            gold.add((aspect, "positive" if sign == "+" else "negative"))
        rows.append((text, gold))
    return rows
