"""個人番号 (My Number): check digit, validation, masking and synthetic numbers. Never logs a number."""

from __future__ import annotations

import random
import re
import unicodedata

# Separators people type between digit groups (hyphens, dashes, the long-vowel mark, spaces).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30FC\uFF70]")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")


def check_digit(first11: str) -> int:
    """The check digit for the first 11 digits (番号法施行令8条)."""
    if not isinstance(first11, str) or not _ELEVEN_DIGITS.fullmatch(first11):
        raise ValueError("検査用数字の計算には11桁の数字が必要です。")
    # 番号法施行令8条: P_n is the n-th digit counting from the right of the 11 digits (n=1 is the
    # digit just left of the check digit); Q_n = n+1 for 1≤n≤6 and n−5 for 7≤n≤11.
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    remainder = total % 11
    # 同条: when the remainder is 0 or 1 the check digit is 0, otherwise 11 − remainder.
    return 0 if remainder <= 1 else 11 - remainder


def _digits(number: str) -> str:
    # NFKC turns full-width digits (０１２) into ASCII; separators carry no meaning.
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", number))


def is_valid(number: str) -> bool:
    """True when number is 12 digits (separators and full-width allowed) with a correct check digit."""
    if not isinstance(number, str):
        return False
    digits = _digits(number)
    if not _TWELVE_DIGITS.fullmatch(digits):
        return False
    return check_digit(digits[:11]) == int(digits[11])


def normalize(number: str) -> str:
    """The 12 ASCII digits of a valid number; ValueError (without the number) otherwise."""
    if not isinstance(number, str):
        raise ValueError("個人番号を入力してください。")
    digits = _digits(number)
    if not _TWELVE_DIGITS.fullmatch(digits):
        raise ValueError("個人番号は12桁の数字で入力してください。")
    if check_digit(digits[:11]) != int(digits[11]):
        # The check digit misses about 1.6% of single-digit typos (SECURITY.md): screens still ask
        # staff to confirm the number against the card or 通知カード.
        raise ValueError("個人番号の検査用数字が一致しません。入力を確認してください。")
    return digits


def generate(rng: random.Random) -> str:
    """A random 12-digit number with a valid check digit, for synthetic data and canary values."""
    first11 = "".join(str(rng.randrange(10)) for _ in range(11))
    return first11 + str(check_digit(first11))


def mask(number: str) -> str:
    """The number masked but for its last four digits: ********1234."""
    digits = _digits(number) if isinstance(number, str) else ""
    if not _TWELVE_DIGITS.fullmatch(digits):
        raise ValueError("個人番号は12桁の数字です。")
    return "*" * 8 + digits[-4:]
