"""What a household search box holds: one typed text read as a name, a code, a number or a room."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.formatting import normalize_phone
from rules.kana import normalize_text, search_key

MAX_QUERY = 100  # characters, after NFKC (SECURITY.md, Input: lengths)

# Kinds of intent, also the only trace of a search term the audit trail keeps.
KANA_PREFIX = "kana_prefix"
KANJI_NAME = "kanji_name"
HOUSING_CODE = "housing_code"
HOUSEHOLD_NO = "household_no"
CODE = "code"  # an identifier that is either a 住宅コード or a 世帯番号 (other shapes than the usual ones)
ATENA_NO = "atena_no"
PHONE = "phone"
ESTATE_ROOM = "estate_room"
ESTATE = "estate"
NONE = "none"

# The city's shapes: 住宅コード = 団地コード (6 digits) + 棟 + 階 + 列 (2 digits each), 世帯番号 = 8 digits,
# 宛名番号 = 10 digits not starting with 0 (a 10-digit number starting with 0 is a phone number).
HOUSING_CODE_RE = re.compile(r"[0-9]{12}")
HOUSEHOLD_NO_RE = re.compile(r"[0-9]{8}")
ATENA_NO_RE = re.compile(r"[1-9][0-9]{9}")
_CODE_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{2,19}")
_PHONE_CHARS = re.compile(r"\+?[0-9][0-9\s\-()\u2010-\u2015\u2212\u30FC\uFF70]{8,}")

# Katakana and hiragana with ー, ・ and spaces (half-width kana are full-width after NFKC).
_KANA_RE = re.compile(r"[\u3041-\u3096\u309D\u309E\u30A1-\u30FA\u30FC\u30FD\u30FE・ ]+")
# "市営小田住宅 3棟 101", "小田 3-101", "小田住宅3号棟101号室": estate words, a building, a room.
_ESTATE_ROOM_RE = re.compile(
    r"(?P<estate>.*?[^\s0-9-])\s*(?P<building>[0-9]{1,3})\s*(?:号棟|棟|-)\s*(?P<room>[0-9]{1,5})\s*(?:号室|号)?"
)
# "小田住宅 101号室", "市営小田住宅 101": estate words and a room in any building.
_ESTATE_ONLY_ROOM_RE = re.compile(r"(?P<estate>.*?[^\s0-9-])\s+(?P<room>[0-9]{1,5})\s*(?:号室|号)?")
_ESTATE_WORDS = re.compile(r"^(?:市営)|(?:市営住宅|住宅|団地)$")


@dataclass(frozen=True)
class Intent:
    """The structured reading of the search box: its kind and the values the query needs."""

    kind: str
    text: str = ""  # the name part: a kana search key, a 漢字 name (spaces removed), an estate word
    code: str = ""  # a 住宅コード, 世帯番号, 宛名番号 or phone number (digits)
    building: str = ""
    room: str = ""


def clean_query(raw: str | None) -> str:
    """NFKC, control and invisible characters refused, spaces collapsed, at most MAX_QUERY characters.

    ValueError with a Japanese message for the user."""
    text = normalize_text(raw or "")
    if len(text) > MAX_QUERY:
        raise ValueError(f"検索語は{MAX_QUERY}文字以内で入力してください。")
    return text


def _estate_word(text: str) -> str:
    # 市営 and 住宅 are on every estate's name: "市営小田住宅", "小田住宅" and "小田" find the same estate.
    word = _ESTATE_WORDS.sub("", text.replace(" ", ""))
    return _ESTATE_WORDS.sub("", word) or text.replace(" ", "")


def _looks_like_estate(text: str) -> bool:
    return text.startswith("市営") or text.endswith(("住宅", "団地"))


def parse(raw: str | None) -> Intent:
    """Read the search box (already cleaned or not): which kind of search, with its values.

    ヤマダ / やまだ / ﾔﾏﾀﾞ → kana prefix; 山田 → 漢字 name; 12 digits → 住宅コード; 8 digits → 世帯番号;
    10 digits not starting with 0 → 宛名番号; a 0… number of 10 or 11 digits (hyphens allowed) → phone;
    "市営小田住宅 3棟 101" / "小田 3-101" → estate + building + room; "小田住宅" → estate."""
    text = clean_query(raw)
    if not text:
        return Intent(NONE)
    compact = text.replace(" ", "")
    if HOUSING_CODE_RE.fullmatch(compact):
        return Intent(HOUSING_CODE, code=compact)
    if HOUSEHOLD_NO_RE.fullmatch(compact):
        return Intent(HOUSEHOLD_NO, code=compact)
    if ATENA_NO_RE.fullmatch(compact):
        return Intent(ATENA_NO, code=compact)
    if _PHONE_CHARS.fullmatch(text):
        try:
            return Intent(PHONE, code=normalize_phone(text))
        except ValueError:
            pass
    if _CODE_RE.fullmatch(text) and any(ch.isdigit() for ch in text):
        return Intent(CODE, code=text.upper())
    match = _ESTATE_ROOM_RE.fullmatch(text)
    if match:
        return Intent(
            ESTATE_ROOM,
            text=_estate_word(match["estate"]),
            building=match["building"],
            room=match["room"],
        )
    match = _ESTATE_ONLY_ROOM_RE.fullmatch(text)
    if match:
        return Intent(ESTATE_ROOM, text=_estate_word(match["estate"]), room=match["room"])
    if _KANA_RE.fullmatch(text):
        return Intent(KANA_PREFIX, text=search_key(text))
    if _looks_like_estate(compact):
        return Intent(ESTATE, text=_estate_word(compact))
    return Intent(KANJI_NAME, text=compact)
