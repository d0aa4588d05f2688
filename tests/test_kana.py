"""Text normalisation, 氏名カナ, search keys and 全銀 口座名義."""

from __future__ import annotations

import pytest

from rules.kana import (
    BANK_KANA_ALLOWED,
    is_katakana,
    normalize_name,
    normalize_text,
    search_key,
    to_bank_kana,
    to_display_kana,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  川崎市川崎区宮本町１番地  ", "川崎市川崎区宮本町1番地"),
        ("ＡＢＣマンション　　１０１号", "ABCマンション 101号"),
        ("ｶﾜｻｷ", "カワサキ"),
        ("①", "1"),
        ("㈱川崎", "(株)川崎"),
        ("a\u00a0b", "a b"),  # no-break space
        ("", ""),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("川崎\x00太郎", "制御文字"),
        ("川崎\t太郎", "制御文字"),
        ("川崎\n太郎", "制御文字"),  # single-line fields refuse newlines
        ("川崎\x7f", "制御文字"),
        ("川崎\u200b太郎", "書式制御文字"),  # zero-width space
        ("abc\u202edef", "書式制御文字"),  # right-to-left override
        ("\ufeff川崎", "書式制御文字"),  # BOM
        ("川\ue000崎", "外字"),  # private use
    ],
)
def test_normalize_text_refuses_invisible_characters(raw, label):
    with pytest.raises(ValueError, match=label):
        normalize_text(raw)


def test_normalize_text_multiline_keeps_lines():
    assert normalize_text("１行目　 \r\n  ２行目\r\n\r\n", multiline=True) == "1行目\n2行目"
    with pytest.raises(ValueError, match="制御文字"):
        normalize_text("a\tb\nc", multiline=True)


def test_normalize_text_keeps_ideographic_variation_sequences():
    # 葛 + VS17 (an IVS used in registered names) must survive: selectors are not control characters.
    assert normalize_text("葛\U000e0100飾") == "葛\U000e0100飾"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("川崎 太郎", "川崎\u3000太郎"),
        ("川崎　　太郎", "川崎\u3000太郎"),
        ("  ｶﾜｻｷ ﾀﾛｳ ", "カワサキ\u3000タロウ"),
        ("John  SMITH", "John SMITH"),  # Latin-letter names keep ASCII spaces
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｶﾜｻｷ ﾀﾛｳ", "カワサキ\u3000タロウ"),
        ("かわさき　たろう", "カワサキ\u3000タロウ"),
        ("ｶﾞｯｺｳ", "ガッコウ"),
        ("ﾊﾟﾋﾟﾌﾟ", "パピプ"),
        ("ゔぃくとりあ", "ヴィクトリア"),
        ("キョウコ", "キョウコ"),  # small kana kept for display
        ("ﾀﾅｶ･ｼﾞｮﾝ", "タナカ・ジョン"),
    ],
)
def test_to_display_kana(raw, expected):
    assert to_display_kana(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("かわさき たろう", "ｶﾜｻｷﾀﾛｳ"),
        ("カワサキ　タロウ", "かわさきたろう"),
        ("ＳＭＩＴＨ", "smith"),
    ],
)
def test_search_key_matches_across_width_kana_and_spaces(a, b):
    assert search_key(a) == search_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("キョウ", "キヨウ"),  # small kana distinguish names
        ("ガ", "カ"),
    ],
)
def test_search_key_keeps_distinctions(a, b):
    assert search_key(a) != search_key(b)


def test_search_key_values():
    assert search_key("かわさき　たろう") == "カワサキタロウ"
    assert search_key("ｷｮｳｺ") == "キョウコ"
    assert search_key("カワ\u200bサキ") == "カワサキ"
    assert search_key("カワサキタロウ").startswith(search_key("かわさき"))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("カワサキ\u3000タロウ", True),
        ("カワサキ タロウ", True),
        ("ヴィクトリア・スミス", True),
        ("キョウコ", True),
        ("ラーメン", True),
        ("かわさき", False),
        ("ｶﾜｻｷ", False),  # half-width: convert with to_display_kana first
        ("川崎", False),
        ("カワサキ1", False),
        ("", False),
        ("\u3000", False),
    ],
)
def test_is_katakana(text, ok):
    assert is_katakana(text) is ok


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("カワサキ タロウ", "ｶﾜｻｷ ﾀﾛｳ"),
        ("かわさき　たろう", "ｶﾜｻｷ ﾀﾛｳ"),
        ("キュウヨ　イチロウ", "ｷﾕｳﾖ ｲﾁﾛｳ"),  # small kana to large, as banks register names
        ("ジンジ ショウゴ", "ｼﾞﾝｼﾞ ｼﾖｳｺﾞ"),
        ("ハットリ", "ﾊﾂﾄﾘ"),
        ("ｷｬﾝﾍﾞﾙ", "ｷﾔﾝﾍﾞﾙ"),
        ("パピプペポ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),
        ("ヴァン・ガーデン", "ｳﾞｱﾝ.ｶﾞ-ﾃﾞﾝ"),
        ("ヰヱヵヶヮ", "ｲｴｶｹﾜ"),
        ("ｽﾐｽ ｼﾞｮﾝ", "ｽﾐｽ ｼﾞﾖﾝ"),
        ("smith john", "SMITH JOHN"),
        ("ＡＢＣ（カ）", "ABC(ｶ)"),
        ("カ）ミナト．１２３／４", "ｶ)ﾐﾅﾄ.123/4"),
        ("  カワサキ   タロウ  ", "ｶﾜｻｷ ﾀﾛｳ"),
    ],
)
def test_to_bank_kana(raw, expected):
    result = to_bank_kana(raw)
    assert result == expected
    assert set(result) <= BANK_KANA_ALLOWED


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("川崎 タロウ", "川"),
        ("カワサキ,タロウ", ","),
        ("ヲノ", "ヲ"),
        ("ｦﾉ", "ヲ"),
        ("カワサキ&タロウ", "&"),
        ("タロウ@", "@"),
        ("カワサキ　タロウヽ", "ヽ"),
        ("￥100", "¥"),
        ("「カワサキ」", "「"),
    ],
)
def test_to_bank_kana_names_the_refused_character(raw, bad):
    with pytest.raises(ValueError, match=f"「{bad}」"):
        to_bank_kana(raw)


@pytest.mark.parametrize("raw", ["", "   ", "カワ\x00サキ"])
def test_to_bank_kana_refuses_empty_and_control(raw):
    with pytest.raises(ValueError):
        to_bank_kana(raw)


def test_bank_kana_allowed_set():
    assert {"ｱ", "ﾝ", "ﾞ", "ﾟ", " ", "(", ")", ".", "-", "/", "0", "9", "A", "Z"} <= BANK_KANA_ALLOWED
    assert not {"ｦ", "ｧ", "ｯ", "ｰ", "a", ",", "¥", "｢"} & BANK_KANA_ALLOWED
