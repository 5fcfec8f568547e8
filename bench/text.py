"""Text analytics speed: snownlp's default sentiment vs our scorer and analyze(), raw jieba vs our segmentation.

Run: .venv/bin/python -m bench.text [--n 2000]. All figures come from one run on the same texts;
start-up (model and dictionary loading) is done before timing. Ratios are what to compare across
machines; absolute texts/s depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REVIEWS = REPO_ROOT.parent / "shared" / "data" / "reviews"
SERVICE = REPO_ROOT / "tests" / "data" / "service_reviews.csv"


def sample_texts(n: int) -> list[str]:
    """n texts mixing short (food delivery, service) and long (hotel) reviews, in a fixed order."""
    from pipeline.text.training import read_labelled_csv

    pools = [read_labelled_csv(SERVICE)[0]]
    for name in ("waimai_10k.test.csv", "chnsenticorp_hotel.test.csv"):
        if (REVIEWS / name).exists():
            pools.append(read_labelled_csv(REVIEWS / name)[0])
    texts: list[str] = []
    i = 0
    while len(texts) < n:
        for pool in pools:
            if len(texts) < n:
                texts.append(pool[i % len(pool)])
        i += 1
    return texts


def rate(fn, texts: list[str], repeat: int = 1) -> float:
    """Texts per second of fn over texts (best of `repeat` runs)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()

    import jieba
    from snownlp import SnowNLP

    from pipeline.text import analyze
    from pipeline.text.normalize import clean
    from pipeline.text.segment import segmenter
    from pipeline.text.sentiment import default_model

    texts = sample_texts(args.n)
    chars = sum(len(t) for t in texts) / len(texts)

    # Start-up excluded: load everything once before the clocks start.
    jieba.setLogLevel(60)
    jieba.initialize()
    model, seg = default_model(), segmenter()
    SnowNLP("预热").sentiments
    analyze("预热")

    snow = rate(lambda t: SnowNLP(t).sentiments, texts)
    ours = rate(lambda t: model.score(clean(t)), texts, repeat=3)
    full = rate(analyze, texts, repeat=2)
    raw_jieba = rate(jieba.lcut, texts, repeat=3)
    our_seg = rate(lambda t: seg.tokens(clean(t)), texts, repeat=3)

    rows = [
        ("sentiment: snownlp default (baseline)", snow, 1.0, ""),
        ("sentiment: cx scorer (clean + score)", ours, ours / snow, "goal >= 30x"),
        ("analyze(): clean, mask, tokens, keywords, sentiment, aspects", full, full / snow, "goal >= 30x (cx text score)"),
        ("segmentation: raw jieba.lcut (baseline)", raw_jieba, 1.0, ""),
        ("segmentation: cx (clean + jieba-rs + user dict + stop words)", our_seg, our_seg / raw_jieba, "goal: slowdown <= 1.5x"),
    ]
    print(f"{len(texts)} texts, mean {chars:.0f} characters (service, waimai and hotel reviews interleaved)")
    print(f"{'what':64} {'texts/s':>10} {'vs baseline':>12}  note")
    for what, r, ratio, note in rows:
        print(f"{what:64} {r:10,.0f} {ratio:11.2f}x  {note}")
    print(f"vs snownlp: scorer {ours / snow:.1f}x, analyze() {full / snow:.1f}x; segmentation vs raw jieba: {our_seg / raw_jieba:.1f}x as fast")


if __name__ == "__main__":
    main()
