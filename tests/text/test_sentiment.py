import math

import pytest

from pipeline.cli.text import TARGETS
from pipeline.text import analyze
from pipeline.text.normalize import clean
from pipeline.text.sentiment import FORMAT, SentimentModel, adjusted_share, default_model, features
from pipeline.text.training import measure, read_labelled_csv

from .conftest import DATA

# The shipped model's floor on the hand-labelled service set in the repo. The review test sets
# beside the repository (../shared) are measured by `make eval`, with their floors and goals.
SERVICE_FLOOR = TARGETS["service_reviews.csv"][0]


def accuracy(path) -> float:
    texts, labels = read_labelled_csv(path)
    assert len(texts) > 200
    return measure(default_model(), texts, labels).accuracy


def test_accuracy_on_service_set():
    assert accuracy(DATA / "service_reviews.csv") >= SERVICE_FLOOR


@pytest.mark.parametrize(
    "text,label",
    [
        ("客服态度很好，回复很及时，问题一次就解决了", "positive"),
        ("不慢", "positive"),
        ("没有让我失望", "positive"),
        ("客服没有推诿，直接帮我解决了", "positive"),
        ("非常差", "negative"),
        ("不好", "negative"),
        ("客服推来推去，没人管", "negative"),
        ("承诺的退款一个月了还没到账", "negative"),
        ("這次客服的態度非常好，問題很快就解決了", "positive"),
    ],
)
def test_negation_degree_and_domain_phrases(text, label):
    assert analyze(text).label == label


def test_shipped_model_is_current_small_and_carries_its_error_rates():
    from importlib import resources

    data = resources.files("pipeline.text").joinpath("sentiment_model.json.gz").read_bytes()
    assert len(data) < 5 * 1024 * 1024
    model = SentimentModel.from_bytes(data)
    assert model.meta["config"]["min_df"] >= 2 and len(model.weights) == model.meta["features"]
    tpr, fpr = model.error_rates()
    assert 0.5 < tpr <= 1 and 0 <= fpr < 0.5  # measured on the held-out split when it was trained


def test_old_model_formats_are_refused_with_what_to_do():
    import gzip
    import json

    old = gzip.compress(json.dumps({"format": "cx-sentiment/2", "weights": {}, "bias": 0}).encode())
    with pytest.raises(ValueError, match="cx text train"):
        SentimentModel.from_bytes(old)


def test_score_does_not_depend_on_feature_order():
    # The worker and its landing processes iterate the feature set in different (hash-seeded) orders.
    model = default_model()
    text = clean("房间很大，早餐一般，但是服务员很热情，不过隔音不太好")
    weights = model.weights
    reordered = SentimentModel(weights=dict(reversed(list(weights.items()))), bias=model.bias, meta=model.meta)
    assert model.logit(text) == reordered.logit(text)


def test_contrast_marks_only_after_the_turn():
    feats = features("房间很大,但是很吵")
    assert "A^但" in feats and "A很吵" in feats
    assert not any(f.startswith("A") and "房间" in f for f in feats)
    assert not any(f.startswith("A") for f in features("房间很大,很安静"))


@pytest.mark.parametrize(
    "predicted,tpr,fpr,expected",
    [(0.5, 0.9, 0.1, 0.5), (0.42, 0.9, 0.1, 0.4), (0.05, 0.9, 0.1, 0.0), (0.97, 0.9, 0.1, 1.0), (0.3, 0.5, 0.48, 0.3)],
)
def test_adjusted_share(predicted, tpr, fpr, expected):
    assert math.isclose(adjusted_share(predicted, tpr, fpr), expected, abs_tol=1e-9)


def test_format_constant_is_what_is_shipped():
    assert default_model().to_bytes()[:2] == b"\x1f\x8b" and FORMAT.startswith("cx-sentiment/")
