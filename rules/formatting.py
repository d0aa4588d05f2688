"""Display and normalisation of yen amounts, postal codes and Japanese phone numbers."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

# Hyphens, dashes, minus signs and the long-vowel mark people type between digit groups, plus spaces
# and the brackets of "(044) 200-2948".
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30FC\uFF70()]")


def _whole_yen(n: int | Decimal) -> int:
    # Amounts are whole yen (SECURITY.md, Input: yen amounts as integers); a fraction here is a bug
    # upstream, not something to round away silently.
    if isinstance(n, bool) or not isinstance(n, int | Decimal):
        raise TypeError("金額は整数（円）で渡してください。")
    if isinstance(n, Decimal):
        if n != n.to_integral_value():
            raise ValueError("金額に円未満の端数があります。")
        return int(n)
    return n


def yen(n: int | Decimal | None) -> str:
    """¥38,600; negative -¥1,200; None → ""."""
    if n is None:
        return ""
    amount = _whole_yen(n)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,}"


def yen_ja(n: int | Decimal | None, *, triangle: bool = False) -> str:
    """38,600円; negative -1,200円, or △1,200円 with triangle=True (決算書 style); None → ""."""
    if n is None:
        return ""
    amount = _whole_yen(n)
    # A plain minus by default: tenants misread △, and screen readers say "さんかく"; the accounting
    # reports that follow the 地方自治法施行規則 様式 convention ask for △ explicitly.
    sign = ("△" if triangle else "-") if amount < 0 else ""
    return f"{sign}{abs(amount):,}円"


def normalize_postal(s: str) -> str:
    """Seven ASCII digits from 2108577, 210-8577, 〒２１０－８５７７…; ValueError otherwise."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", s or "")).removeprefix("〒")
    if not re.fullmatch(r"[0-9]{7}", text):
        raise ValueError("郵便番号は7桁の数字で入力してください（例: 210-8577）。")
    return text


def postal(s: str | None) -> str:
    """〒210-8577 from any accepted spelling; None or "" → ""; ValueError for anything else."""
    if s is None or not s.strip():
        return ""
    digits = normalize_postal(s)
    return f"〒{digits[:3]}-{digits[3:]}"


# 11-digit numbers exist only for these prefixes (総務省 電気通信番号計画): 020 (M2M), 050 (IP
# phones), 060 (FMC), 070/080/090 (mobile), 0800 (free dial). All other numbers have 10 digits.
_ELEVEN_DIGIT_PREFIXES = ("020", "050", "060", "070", "080", "090", "0800")

# Area codes whose length differs from the common three digits (0XX-XXX-XXXX). The full 市外局番
# table has hundreds of entries; these cover the numbers our tenants and offices use: Tokyo and
# Osaka, the 04 codes around Kawasaki (所沢 04-29xx, 柏・鴨川 04-70xx/04-71xx, unlike 042 and 047)
# and the four-digit codes of western 神奈川. Any other geographic number is split 3-3-4, which is the
# commonest shape; the stored value is digits only, so an unusual split is only cosmetic.
_AREA_CODE_LENGTH = {
    "03": 2,
    "06": 2,
    "0429": 2,
    "0470": 2,
    "0471": 2,
    "0460": 4,  # 箱根
    "0463": 4,  # 平塚・秦野
    "0465": 4,  # 小田原
    "0466": 4,  # 藤沢
    "0467": 4,  # 茅ヶ崎・鎌倉
}
# Non-geographic 10-digit services written 4-3-3: free dial, navi dial, information services.
_FOUR_THREE_THREE = ("0120", "0570", "0990")


def normalize_phone(s: str) -> str:
    """Digits only: 10 digits, or 11 for mobile/IP/0800; +81 accepted; ValueError otherwise."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", s or ""))
    if text.startswith("+81"):
        # E.164 drops the trunk prefix 0: +81 44 200 2948 is 044-200-2948.
        text = "0" + text[3:]
    message = "電話番号は0から始まる10桁（携帯電話・IP電話は11桁）の数字で入力してください。"
    if not re.fullmatch(r"0[1-9][0-9]{8,9}", text):
        raise ValueError(message)
    if len(text) == 11 and not text.startswith(_ELEVEN_DIGIT_PREFIXES):
        raise ValueError(message)
    if len(text) == 10 and text.startswith(_ELEVEN_DIGIT_PREFIXES):
        raise ValueError(message)
    return text


def _split(digits: str, *sizes: int) -> str:
    parts, start = [], 0
    for size in sizes:
        parts.append(digits[start : start + size])
        start += size
    parts.append(digits[start:])
    return "-".join(parts)


def phone(s: str | None) -> str:
    """A phone number hyphenated the Japanese way (044-200-2948); unreadable text is returned as typed."""
    if s is None or not s.strip():
        return ""
    try:
        digits = normalize_phone(s)
    except ValueError:
        # Legacy data holds things like "内線1234" or foreign numbers: show them, never fail a page.
        return unicodedata.normalize("NFKC", s).strip()
    if len(digits) == 11:
        if digits.startswith("0800"):
            return _split(digits, 4, 3)
        return _split(digits, 3, 4)
    if digits.startswith(_FOUR_THREE_THREE):
        return _split(digits, 4, 3)
    for prefix, area in _AREA_CODE_LENGTH.items():
        if digits.startswith(prefix):
            # The local exchange (市内局番) takes what the area code leaves of the first six digits.
            return _split(digits, area, 6 - area)
    return _split(digits, 3, 3)
