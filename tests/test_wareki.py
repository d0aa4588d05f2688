"""和暦 display, parsing of 西暦/和暦 input, 年度 labels and age."""

from __future__ import annotations

from datetime import date

import pytest

from rules.wareki import ERAS, WarekiError, age_on, era_end, fiscal_year_label, parse_date, to_wareki


@pytest.mark.parametrize(
    ("d", "long", "short", "era_year"),
    [
        (date(2024, 12, 18), "令和6年12月18日", "R6.12.18", "令和6年"),
        (date(2019, 5, 1), "令和元年5月1日", "R1.5.1", "令和元年"),
        (date(2019, 4, 30), "平成31年4月30日", "H31.4.30", "平成31年"),
        (date(1989, 1, 8), "平成元年1月8日", "H1.1.8", "平成元年"),
        (date(1989, 1, 7), "昭和64年1月7日", "S64.1.7", "昭和64年"),
        (date(1926, 12, 25), "昭和元年12月25日", "S1.12.25", "昭和元年"),
        (date(1926, 12, 24), "大正15年12月24日", "T15.12.24", "大正15年"),
        (date(1912, 7, 30), "大正元年7月30日", "T1.7.30", "大正元年"),
        (date(1912, 7, 29), "明治45年7月29日", "M45.7.29", "明治45年"),
        (date(1868, 10, 23), "明治元年10月23日", "M1.10.23", "明治元年"),
        # Before 明治 there is no era to name: 西暦 in the same shape.
        (date(1868, 10, 22), "1868年10月22日", "1868/10/22", "1868年"),
    ],
)
def test_to_wareki(d, long, short, era_year):
    assert to_wareki(d) == long
    assert to_wareki(d, "long") == long
    assert to_wareki(d, "short") == short
    assert to_wareki(d, "era_year") == era_year


def test_to_wareki_rejects_unknown_style():
    with pytest.raises(ValueError, match="style"):
        to_wareki(date(2024, 1, 1), "medium")


def test_eras_are_contiguous():
    # Each era ends the day before the next one starts; the last one is open.
    for era, following in zip(ERAS, ERAS[1:], strict=False):
        assert (following.start - era_end(era)).days == 1
    assert era_end(ERAS[-1]) is None


@pytest.mark.parametrize(
    ("fy", "label"),
    [
        (2026, "令和8年度"),
        (2020, "令和2年度"),
        (2019, "令和元年度"),  # began under 平成 but styled 令和元年度 after the 改元
        (2018, "平成30年度"),
        (1989, "平成元年度"),
        (1988, "昭和63年度"),  # ended under 平成 (1989-03-31) but kept its 昭和 name
        (1800, "1800年度"),
    ],
)
def test_fiscal_year_label(fy, label):
    assert fiscal_year_label(fy) == label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-18", date(2024, 12, 18)),
        ("2024/12/18", date(2024, 12, 18)),
        ("2024.1.5", date(2024, 1, 5)),
        ("20241218", date(2024, 12, 18)),
        ("2024年12月18日", date(2024, 12, 18)),
        ("令和6年12月18日", date(2024, 12, 18)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("R6.12.18", date(2024, 12, 18)),
        ("R06.12.18", date(2024, 12, 18)),
        ("r6/12/18", date(2024, 12, 18)),
        ("R元.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("h1-1-8", date(1989, 1, 8)),
        ("S64.1.7", date(1989, 1, 7)),
        ("T15.12.24", date(1926, 12, 24)),
        ("M45.7.29", date(1912, 7, 29)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        # Full-width digits and letters, era signs and stray spaces (NFKC).
        ("２０２４－１２－１８", date(2024, 12, 18)),
        ("令和６年１２月１８日", date(2024, 12, 18)),
        ("Ｒ６．１２．１８", date(2024, 12, 18)),
        ("㋿6年12月18日", date(2024, 12, 18)),
        ("㍻31年4月30日", date(2019, 4, 30)),
        (" 令和 6 年 12 月 18 日 ", date(2024, 12, 18)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_parse_date_accepts(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成31年5月1日", "平成は平成31年4月30日までです"),  # 平成 ended 2019-04-30
        ("平成32年1月1日", "平成は平成31年4月30日までです"),
        ("H32.1.1", "平成は平成31年4月30日までです"),
        ("令和元年4月30日", "令和は令和元年5月1日からです"),
        ("昭和64年1月8日", "昭和は昭和64年1月7日までです"),
        ("S64.1.8", "昭和は昭和64年1月7日までです"),
        ("平成元年1月7日", "平成は平成元年1月8日からです"),
        ("大正元年7月29日", "大正は大正元年7月30日からです"),
        ("令和0年1月1日", "令和0年はありません"),
        ("R0.5.1", "令和0年はありません"),
        ("0000-01-01", "0年はありません"),
        ("2023-02-29", "存在しない日付です"),
        ("2024-13-01", "存在しない日付です"),
        ("令和6年2月30日", "存在しない日付です"),
        ("20240230", "存在しない日付です"),
        ("", "日付を入力してください"),
        ("   ", "日付を入力してください"),
        ("garbage", "形式が正しくありません"),
        ("2024-12/18", "形式が正しくありません"),  # mixed separators
        ("2024121", "形式が正しくありません"),
        ("X6.12.18", "形式が正しくありません"),
        ("令和6年12月", "形式が正しくありません"),
        ("12/18/2024", "形式が正しくありません"),
    ],
)
def test_parse_date_rejects(text, message):
    with pytest.raises(WarekiError, match=message):
        parse_date(text)


def test_wareki_error_is_a_value_error():
    # Form validators catch ValueError; WarekiError must be one.
    assert issubclass(WarekiError, ValueError)
    with pytest.raises(ValueError):
        parse_date("令和元年4月30日")


@pytest.mark.parametrize(
    "d",
    [
        date(1868, 10, 23),
        date(1912, 7, 30),
        date(1926, 12, 25),
        date(1989, 1, 8),
        date(2019, 5, 1),
        date(2031, 3, 31),
    ],
)
def test_round_trip(d):
    assert parse_date(to_wareki(d)) == d
    assert parse_date(to_wareki(d, "short")) == d


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1950, 6, 15), date(2024, 6, 14), 73),
        (date(1950, 6, 15), date(2024, 6, 15), 74),  # older on the birthday itself
        (date(1950, 6, 15), date(2024, 6, 16), 74),
        (date(2000, 2, 29), date(2023, 2, 28), 22),  # common year: not yet on 28 February
        (date(2000, 2, 29), date(2023, 3, 1), 23),  # …older on 1 March
        (date(2000, 2, 29), date(2024, 2, 28), 23),
        (date(2000, 2, 29), date(2024, 2, 29), 24),  # leap year: on the day
        (date(2024, 12, 18), date(2024, 12, 18), 0),
        (date(1964, 4, 1), date(2024, 3, 31), 59),
        (date(1964, 4, 1), date(2024, 4, 1), 60),
    ],
)
def test_age_on(birth, on, age):
    assert age_on(birth, on) == age


def test_age_on_before_birth_is_an_error():
    with pytest.raises(ValueError):
        age_on(date(2024, 1, 2), date(2024, 1, 1))
