import pytest

from pipeline.text.sentiment import SentimentModel
from pipeline.text.training import (
    Document,
    TrainConfig,
    corpus,
    is_held_out,
    leave_one_source_out,
    measure,
    read_folder,
    train,
    train_validated,
)

POSITIVE = ["服务很好", "态度很好很热情", "很满意", "师傅很准时", "回复很及时", "问题一次就解决了"]
NEGATIVE = ["太慢了", "态度差", "很失望", "推来推去没人管", "等了两个小时", "一直打不通"]


def test_training_is_reproducible_and_learns(tmp_path):
    docs, labels = (POSITIVE + NEGATIVE) * 3, ([1] * 6 + [0] * 6) * 3
    first = train(docs, labels)
    second = train(docs, labels)
    assert first.to_bytes() == second.to_bytes()
    path = tmp_path / "m.json.gz"
    first.save(path)
    loaded = SentimentModel.load(path)
    assert loaded.score("很满意") > 0.5 > loaded.score("很失望")


def test_training_refuses_one_class():
    with pytest.raises(ValueError):
        train(["很好"], [1], TrainConfig(lexicon_repeats=0))


def test_corpus_keeps_each_review_once_first_source_wins():
    docs = corpus([("a", ["服务很好！", "太慢了"], [1, 0]), ("b", ["服務很好", "很满意"], [1, 1])])
    # "服務很好" is "服务很好!" once traditional script and punctuation are folded.
    assert [(d.source, d.text) for d in docs] == [("a", "服务很好！"), ("a", "太慢了"), ("b", "很满意")]


def test_held_out_split_is_stable_and_about_the_share():
    texts = [f"第{i}条评论，服务不错" for i in range(4000)]
    held = [is_held_out(t, 0.15) for t in texts]
    assert held == [is_held_out(t, 0.15) for t in texts]
    assert 0.12 < sum(held) / len(held) < 0.18


def test_read_folder_names_sources_after_files(tmp_path):
    (tmp_path / "b_set.train.csv").write_text("label,review\n1,很好\n0,很差\n", encoding="utf-8")
    (tmp_path / "a_set.train.csv").write_text("label,review\n1,满意\nx,坏行\n", encoding="utf-8")
    (tmp_path / "c.test.csv").write_text("label,review\n1,不读\n", encoding="utf-8")
    assert read_folder(tmp_path) == [("a_set", ["满意"], [1]), ("b_set", ["很好", "很差"], [1, 0])]


def test_validated_model_carries_held_out_rates_and_loso_measures_each_source():
    texts = [f"{p}{i}" for i in range(40) for p in POSITIVE] + [f"{n}{i}" for i in range(40) for n in NEGATIVE]
    labels = [1] * 240 + [0] * 240
    docs = [Document("hotel" if i % 2 else "waimai", t, y) for i, (t, y) in enumerate(zip(texts, labels))]
    model, validation = train_validated(docs)
    assert model.meta["validation"]["texts"] == validation.texts > 0
    assert model.error_rates() == (round(validation.tpr, 4), round(validation.fpr, 4))
    assert validation.accuracy > 0.9
    table = leave_one_source_out(docs)
    assert set(table) == {"hotel", "waimai"} and all(m.texts == 240 and m.accuracy > 0.9 for m in table.values())


def test_measure_reports_shares():
    model = train(POSITIVE + NEGATIVE, [1] * 6 + [0] * 6)
    m = measure(model, ["很满意", "很失望", "很失望", "很失望"], [1, 0, 0, 1])
    assert (m.tp, m.fp, m.tn, m.fn) == (1, 0, 2, 1)
    assert (m.texts, m.accuracy, m.true_share, m.predicted_share, m.tpr, m.fpr) == (4, 0.75, 0.5, 0.25, 0.5, 0.0)
    assert (m.precision(True), m.precision(False)) == (1.0, 2 / 3)
