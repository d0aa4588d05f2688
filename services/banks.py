"""The bank list (全銀協 金融機関・店舗コード, from the zengin-code package): look-ups and searches.

    banks.bank("0009")                       → Bank("0009", "三井住友", "ミツイスミトモ")
    banks.branch("0009", "755")              → Branch("0009", "755", "川崎", "カワサキ")
    banks.search_banks("みつい")             → [三井住友, 三井住友信託, …]
    banks.search_branches("0009", "かわさき") → [川崎, …]

The data ships with the package (no network) and is held in memory, loaded once on first use
(about 0.2 s): screens look names up without a database query. Searches accept a code (prefix) or a
name or its reading (カナ, ひらがな or romaji) in any width: NFKC, ひらがな → カタカナ, small kana → large (the list
writes ユウチヨ for ゆうちょ), spaces ignored; 銀行 / 信用金庫 … are matched by the list's own short
forms (三井住友, 川崎信金).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from rules import kana

SEARCH_LIMIT = 20  # results shown for a search (the list narrows as people type)

_SMALL_TO_LARGE = str.maketrans("ァィゥェォャュョッヮヵヶ", "アイウエオヤユヨツワカケ")
# People type the full legal form; the bank list keeps short names (川崎信金, セレサ川崎農協).
_ALIASES = (
    ("信用金庫", "信金"),
    ("信用組合", "信組"),
    ("労働金庫", "労金"),
    ("農業協同組合", "農協"),
    ("漁業協同組合", "漁協"),
    ("信用農業協同組合連合会", "信農連"),
    ("銀行", ""),
)
_CODE_PREFIX = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class Bank:
    """A financial institution of the 全銀協 list: 4-digit code, name and reading (全角カナ)."""

    code: str
    name: str
    kana: str


@dataclass(frozen=True)
class Branch:
    """A branch (店舗) of a bank: the bank's code, its own 3-digit code, name and reading."""

    bank_code: str
    code: str
    name: str
    kana: str


@dataclass(frozen=True)
class _Entry:
    item: Bank | Branch
    keys: tuple[str, ...]  # name and readings as search keys


def search_key(text: str) -> str:
    """A width-, kana- and space-insensitive key: カタカナ, small kana large, Latin casefolded."""
    key = kana.search_key(text).translate(_SMALL_TO_LARGE)
    for long, short in _ALIASES:
        key = key.replace(long, short)
    return key


def _keys(record) -> tuple[str, ...]:
    readings = (record.name, record.kana, getattr(record, "roma", "") or "")
    return tuple(dict.fromkeys(k for k in map(search_key, readings) if k))


@functools.cache
def _data() -> tuple[dict[str, _Entry], dict[str, dict[str, _Entry]]]:
    """Every bank and its branches, loaded from zengin-code once per process."""
    from zengin_code import Bank as ZenginBank

    banks: dict[str, _Entry] = {}
    branches: dict[str, dict[str, _Entry]] = {}
    for code, record in ZenginBank.all.items():
        banks[code] = _Entry(Bank(code, record.name, record.kana), _keys(record))
        branches[code] = {
            branch_code: _Entry(Branch(code, branch_code, b.name, b.kana), _keys(b))
            for branch_code, b in record.branches.items()
        }
    return banks, branches


def bank(code: str | None) -> Bank | None:
    """The bank of a 4-digit code, or None (not in the list, or not a code)."""
    entry = _data()[0].get(code) if isinstance(code, str) else None
    return entry.item if entry else None


def branch(bank_code: str | None, branch_code: str | None) -> Branch | None:
    """The branch of a bank by its 3-digit code, or None when the bank has no such branch."""
    if not isinstance(bank_code, str) or not isinstance(branch_code, str):
        return None
    entry = _data()[1].get(bank_code, {}).get(branch_code)
    return entry.item if entry else None


def _search(entries, query: str, limit: int) -> list:
    text = unicodedata.normalize("NFKC", query or "").strip()
    if not text:
        return []
    digits = re.sub(r"\s+", "", text)
    if _CODE_PREFIX.fullmatch(digits):
        # A code or its beginning: the list is in code order already.
        return [e.item for code, e in entries.items() if code.startswith(digits)][:limit]
    key = search_key(text)
    if not key:
        return []
    starts, contains = [], []
    for entry in entries.values():
        if any(k.startswith(key) for k in entry.keys):
            starts.append(entry.item)
        elif any(key in k for k in entry.keys):
            contains.append(entry.item)
        if len(starts) >= limit:
            break
    return (starts + contains)[:limit]


def search_banks(query: str, limit: int = SEARCH_LIMIT) -> list[Bank]:
    """Banks whose code starts with the query, or whose name or reading starts with (then contains) it."""
    return _search(_data()[0], query, limit)


def search_branches(bank_code: str, query: str, limit: int = SEARCH_LIMIT) -> list[Branch]:
    """The bank's branches found by code, name or reading, as search_banks."""
    return _search(_data()[1].get(bank_code, {}), query, limit)


def names(bank_code: str | None, branch_code: str | None) -> tuple[Bank | None, Branch | None]:
    """(bank, branch) for display; either is None when the list does not (or no longer) hold it."""
    return bank(bank_code), branch(bank_code, branch_code)
