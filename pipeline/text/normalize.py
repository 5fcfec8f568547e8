"""Text normalisation: make any string safe and uniform before analysis and storage."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Longer texts are cut here; the rest is kept aside (masked) rather than analysed, which bounds the
# cost of one message. Hotel reviews in the reference data are rarely longer than 1,500 characters.
MAX_CHARS = 2000

# Control characters, zero-width marks, bidi overrides and variation selectors carry no meaning for
# analysis but break segmentation and look identical to analysts.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufe00-\ufe0f]"
)
_SPACES = re.compile(r"\s+")
_SENTENCE_END = "。！？!?；;…\n"

# Emoji that customers use as a verdict, mapped to a Chinese word the sentiment model knows.
EMOJI_WORDS = {
    "👍": "赞", "👏": "赞", "💯": "满分", "❤": "喜欢", "😍": "喜欢", "🥰": "喜欢", "😊": "开心",
    "😀": "开心", "😁": "开心", "😄": "开心", "😃": "开心", "🙂": "好", "☺": "开心", "🌹": "赞",
    "🎉": "开心", "👎": "差", "😡": "生气", "😠": "生气", "🤬": "生气", "😤": "生气", "😞": "失望",
    "😢": "难过", "😭": "难过", "💔": "失望", "🙄": "无语", "😒": "无语", "😓": "无语", "🤮": "恶心",
}


@lru_cache(maxsize=1)
def _t2s():
    # OpenCC is the maintained reference converter (phrase-level tables, so 乾/干 and 後/后 come out right);
    # character-table converters such as hanziconv get one-to-many characters wrong and are unmaintained.
    import opencc

    return opencc.OpenCC("t2s")


def clean(text: object) -> str:
    """NFKC, traditional -> simplified, invisible characters removed, whitespace collapsed; never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    # Lone surrogates cannot be encoded; replace them rather than fail later in jieba or OpenCC.
    text = text.encode("utf-8", "replace").decode("utf-8")
    # NFKC folds full-width digits and Kangxi-radical look-alikes (⾼ -> 高) into ordinary characters.
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    if text:
        try:
            text = _t2s().convert(text)
        except Exception:  # noqa: BLE001 - conversion is best effort; the text stays usable as is
            pass
    return text


def split_at_cap(text: str, cap: int = MAX_CHARS) -> tuple[str, str]:
    """Cut text at the cap, preferring a sentence end in the last tenth; returns (kept, overflow)."""
    if len(text) <= cap:
        return text, ""
    cut = cap
    for i in range(cap - 1, cap - cap // 10 - 1, -1):
        if text[i] in _SENTENCE_END:
            cut = i + 1
            break
    return text[:cut], text[cut:].lstrip()


# Symbol blocks (arrows, dingbats, emoji, Tibetan marks used as decoration) and combining marks.
_SYMBOLS = re.compile("[\u0300-\u036f\u0f00-\u0fff\u2100-\u2bff\U0001f000-\U0001faff]")


def _symbol_word(match: re.Match) -> str:
    return EMOJI_WORDS.get(match.group(), "")


def for_scoring(text: str) -> str:
    """The view the models see: lower case, verdict emoji as words, other symbols dropped."""
    return _SYMBOLS.sub(_symbol_word, text.lower())
