"""Text and kana normalisation: NFKC, control characters, 氏名カナ, search keys and 全銀 口座名義."""

from __future__ import annotations

import re
import unicodedata

import jaconv

IDEOGRAPHIC_SPACE = "\u3000"

# Categories refused in any field (SECURITY.md, Input): Cc controls, Cf invisible format characters
# (zero-width spaces, bidi overrides that can disguise text, BOM), Cs lone surrogates and Co private
# use (legacy 外字: not portable, must be mapped to a standard character when imported).
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co"}
_CATEGORY_LABEL = {"Cc": "制御文字", "Cf": "書式制御文字", "Cs": "不正な文字", "Co": "外字（私用領域の文字）"}
_WHITESPACE_RUN = re.compile(r"[^\S\n]+")


def _check_characters(text: str, *, multiline: bool) -> None:
    for ch in text:
        if multiline and ch == "\n":
            continue
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES:
            raise ValueError(f"使えない文字（{_CATEGORY_LABEL[category]} U+{ord(ch):04X}）が含まれています。")


def normalize_text(s: str, *, multiline: bool = False) -> str:
    """NFKC, refuse control/format characters, strip and collapse whitespace runs to one space."""
    text = unicodedata.normalize("NFKC", s)
    if multiline:
        # Browsers send CRLF from a textarea; keep lines, not carriage returns.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_characters(text, multiline=multiline)
    # NFKC has already turned U+3000 into U+0020; free text mixes Latin and Japanese, so a run of
    # spaces becomes one ASCII space (names get U+3000 back in normalize_name).
    if multiline:
        lines = [_WHITESPACE_RUN.sub(" ", line).strip() for line in text.split("\n")]
        return "\n".join(lines).strip("\n")
    return _WHITESPACE_RUN.sub(" ", text).strip()


def normalize_name(s: str) -> str:
    """A person's name (漢字 or カナ): normalize_text, with U+3000 between family and given name."""
    text = normalize_text(s)
    # 住民基本台帳 and most 自治体 systems separate 氏 and 名 with a full-width space; a purely
    # Latin-letter name (e.g. a foreign resident's registered name) keeps its ASCII spaces.
    if text.isascii():
        return text
    return text.replace(" ", IDEOGRAPHIC_SPACE)


def to_display_kana(s: str) -> str:
    """氏名カナ for display and storage: full-width katakana (half-width and hiragana converted)."""
    # NFKC turns ｶﾞ into ガ (half-width to full-width, voiced marks composed); jaconv converts
    # hiragana (including ゔ ゕ ゖ) to katakana.
    return jaconv.hira2kata(normalize_name(s))


def search_key(s: str) -> str:
    """Key for width- and kana-insensitive prefix search: NFKC, katakana, no spaces, Latin casefolded."""
    text = jaconv.hira2kata(unicodedata.normalize("NFKC", s))
    # Small kana (ァ ッ ャ) stay distinct: キョウ and キヨウ are different names. Spaces and invisible
    # characters are dropped so "カワサキ タロウ" and "カワサキタロウ" meet.
    kept = (ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in _REFUSED_CATEGORIES)
    return "".join(kept).casefold()


_KATAKANA = re.compile(r"[\u30A1-\u30FA\u30FB\u30FC \u3000]+")


def is_katakana(s: str) -> bool:
    """True when s is non-empty full-width katakana (with ー, ・ and spaces); use on to_display_kana output."""
    return bool(s.strip()) and _KATAKANA.fullmatch(s) is not None


# 全銀協 character set for 口座名義 (受取人名, 預金者名) in the 全銀協規定 file formats: JIS X 0201
# half-width. We allow the subset every bank accepts in a name field: 0-9, A-Z, ｱ-ﾝ without ｦ,
# ﾞ ﾟ, space and ( ) . - /. Left out on purpose: ｦ and ¥ 「 」 , which some banks treat as EDI
# delimiters or reject in names (they belong to other fields), and small kana, which do not exist in
# bank names. Corporate abbreviations (カ) ﾕ) …) are the caller's business.
BANK_KANA_ALLOWED = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "".join(chr(c) for c in range(0xFF71, 0xFF9E))  # ｱ … ﾝ
    + "\uff9e\uff9f"  # ﾞ ﾟ
    + " ().-/"
)

# Banks register names in large kana only (キュウ → ｷﾕｳ); kana with no half-width form take the
# sound banks use. ー becomes "-" (banks do not accept ｰ in names) and ・ becomes ".".
_BANK_REPLACE = str.maketrans(
    {
        "ァ": "ア",
        "ィ": "イ",
        "ゥ": "ウ",
        "ェ": "エ",
        "ォ": "オ",
        "ャ": "ヤ",
        "ュ": "ユ",
        "ョ": "ヨ",
        "ッ": "ツ",
        "ヮ": "ワ",
        "ヵ": "カ",
        "ヶ": "ケ",
        "ヰ": "イ",
        "ヱ": "エ",
        "ー": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "・": ".",
    }
)


def to_bank_kana(s: str) -> str:
    """口座名義 in the 全銀協 half-width set (ｶﾜｻｷ ﾀﾛｳ); ValueError naming any character banks refuse."""
    text = unicodedata.normalize("NFKC", s)
    _check_characters(text, multiline=False)
    text = jaconv.hira2kata(text).translate(_BANK_REPLACE).upper()
    text = _WHITESPACE_RUN.sub(" ", text).strip()
    if not text:
        raise ValueError("口座名義を入力してください。")
    converted = []
    for ch in text:
        # jaconv splits voiced kana into base + ﾞ/ﾟ (ガ → ｶﾞ, ヴ → ｳﾞ) as the 全銀 format requires.
        half = jaconv.z2h(ch, kana=True, ascii=True, digit=True)
        if not set(half) <= BANK_KANA_ALLOWED:
            # Name the character as the user sees it (ヲ, 「), not its half-width form.
            raise ValueError(f"口座名義に使えない文字があります:「{ch}」")
        converted.append(half)
    return "".join(converted)
