from pipeline.text import analyze
from pipeline.text.segment import segmenter


def test_cx_vocabulary_stays_whole():
    tokens = segmenter().tokens("各部门推诿，还好一拨就通，上门维修后有回访，但合同是霸王条款")
    for word in ("推诿", "一拨就通", "上门维修", "回访", "霸王条款"):
        assert word in tokens


def test_stop_words_and_punctuation_are_dropped_but_negators_kept():
    tokens = segmenter().tokens("我觉得这个客服的态度不好，啊！")
    assert "的" not in tokens and "，" not in tokens and "啊" not in tokens
    assert "态度" in tokens and any(t.startswith("不") for t in tokens)


def test_keywords_are_ranked_content_words():
    result = analyze("售后维修拖了两周，维修师傅上门三次都没修好，售后电话也打不通")
    assert len(result.keywords) == 5
    assert "维修" in result.keywords[:2] or "售后" in result.keywords[:2]
    assert all(len(k) > 1 for k in result.keywords)


def test_segmenter_is_built_once():
    assert segmenter() is segmenter()
