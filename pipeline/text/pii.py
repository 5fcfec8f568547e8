"""PII masking: personal numbers and addresses are replaced before any text is stored or logged."""

from __future__ import annotations

import re

# Digit look-arounds instead of \b: in Python \b sees Chinese characters as word characters, so
# "电话13812345678" has no boundary before the number. \d also matches full-width digits, so raw
# (not yet normalised) text is masked too.
_NOT_DIGIT_BEFORE = r"(?<!\d)"
_NOT_DIGIT_AFTER = r"(?!\d)"
_SEP = r"[ -]?"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Resident ID: 6-digit area, birth date 18xx-20xx, sequence, check digit (0-9 or X); also the old
# 15-digit form. The check digit is not verified: a mistyped ID is still personal data.
ID_CARD = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    + r"|[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})"
    + r"(?![\dA-Za-z])"
)
# Bank cards: 16-19 digits, written solid or in groups of four.
BANK_CARD = re.compile(
    _NOT_DIGIT_BEFORE + r"\d{4}(?:" + _SEP + r"\d{4}){3}(?:" + _SEP + r"\d{1,3})?" + _NOT_DIGIT_AFTER
)
# Mainland mobiles (1[3-9]x), optionally +86 / 0086, written solid or as 3-4-4.
MOBILE = re.compile(
    r"(?:(?:\+|00)86" + _SEP + r")?" + _NOT_DIGIT_BEFORE + r"1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _NOT_DIGIT_AFTER
)
# Landlines: area code 0xx/0xxx (optionally in brackets) + 7-8 digits, optional extension.
# Company hotlines (400/800 numbers) do not start with 0 and are deliberately left visible.
LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:\(0\d{2,3}\)|0\d{2,3})"
    + _SEP
    + r"\d{7,8}(?:(?:-|转|ext\.?|x)\d{1,6})?"
    + _NOT_DIGIT_AFTER
)

# Order matters: an ID card is also 18 digits, so it is tried before bank cards, and bank cards
# before phone numbers so that a card's digits are not half-masked as a phone.
_RULES = (
    (EMAIL, "[EMAIL]"),
    (ID_CARD, "[ID]"),
    (BANK_CARD, "[CARD]"),
    (MOBILE, "[PHONE]"),
    (LANDLINE, "[TEL]"),
)

# The tags' words, as the segmenter sees them: placeholders, never keywords.
MASK_WORDS = frozenset(tag.strip("[]") for _, tag in _RULES)


# Full-width forms of the characters the patterns use, folded so that raw (not yet normalised)
# text is masked too; the rest of the text is left as it is.
_FULL_WIDTH = {ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９＠＋－．（）"}
_FULL_WIDTH.update({0xFF21 + i: 0x41 + i for i in range(26)} | {0xFF41 + i: 0x61 + i for i in range(26)})
_HAS_FULL_WIDTH = re.compile("[０-９＠]")


def mask_pii(text: str) -> str:
    """Replace mobile/landline numbers, ID-card and bank-card numbers and e-mail addresses with tags."""
    if not text:
        return text
    if _HAS_FULL_WIDTH.search(text):
        text = text.translate(_FULL_WIDTH)
    for pattern, tag in _RULES:
        text = pattern.sub(tag, text)
    return text
