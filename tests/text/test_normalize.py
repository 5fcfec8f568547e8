import random

from pipeline.text import analyze
from pipeline.text.normalize import MAX_CHARS, clean, for_scoring, split_at_cap


def test_nfkc_folds_kangxi_radicals_and_full_width():
    # Kangxi-radical look-alikes appear in the seed essays.
    assert clean("\u2fbc兴") == "高兴"  # U+2FBC KANGXI RADICAL TALL
    assert clean("ＡＢＣ１２３") == "ABC123"


def test_traditional_becomes_simplified():
    assert clean("師傅上門很準時，服務很周到") == "师傅上门很准时,服务很周到"
    assert clean("售後回覆及時") == "售后回复及时"


def test_whitespace_and_invisible_characters():
    assert clean("  客服\u200b很\t\t好\n\n  ") == "客服很 好"
    assert clean("a\x00b\ufeffc") == "abc"


def test_emoji_kept_in_text_but_read_as_words_for_scoring():
    assert clean("好评👍") == "好评👍"
    assert for_scoring("好评👍❀") == "好评赞"


def test_length_cap_keeps_the_rest_aside():
    text = "服务很好。" * 1000
    kept, rest = split_at_cap(text)
    assert len(kept) <= MAX_CHARS and kept.endswith("。")
    assert kept + rest == text
    result = analyze(text + "电话13812345678")
    assert len(result.text) <= MAX_CHARS
    assert result.overflow.endswith("电话[PHONE]")


def test_never_raises_on_odd_strings():
    rng = random.Random(7)
    odd = ["", " ", "\ud800", "\x00" * 5, "🙂" * 50, "ā" * 3000, "\u0f35" * 10, "1" * 40, "@@@.com"]
    for _ in range(200):
        odd.append("".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 40))))
    for text in odd:
        result = analyze(text)
        assert 0.0 <= result.sentiment <= 1.0
        assert result.label == ("positive" if result.sentiment >= 0.5 else "negative")
