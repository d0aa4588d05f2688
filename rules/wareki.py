"""和暦 (Japanese era calendar): display, parsing of 西暦 and 和暦 input, fiscal-year labels, age."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date


class WarekiError(ValueError):
    """A date that cannot be read, or that does not exist in the era it names."""


@dataclass(frozen=True)
class Era:
    """One era: its name, its one-letter abbreviation and its first day (Gregorian)."""

    name: str
    letter: str
    start: date


# First days per 元号法 and the 改元 cabinet orders. 明治 starts on 1868-10-23, the Gregorian day of
# the 改元の詔 (明治元年9月8日); the 詔 made the era count from 慶応4年1月1日 (1868-01-25), but
# before 明治6年 (1873) Japan used the lunisolar calendar, so no Gregorian date before 1873 maps
# exactly to its 和暦 day. Like common software, we map those years proleptically: it only matters
# for dates no tenant record holds.
ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 10, 23)),
    Era("大正", "T", date(1912, 7, 30)),
    Era("昭和", "S", date(1926, 12, 25)),
    Era("平成", "H", date(1989, 1, 8)),
    Era("令和", "R", date(2019, 5, 1)),
)
_BY_NAME = {era.name: era for era in ERAS}
_BY_LETTER = {era.letter: era for era in ERAS}

STYLES = ("long", "short", "era_year")


def era_of(d: date) -> Era | None:
    """The era in force on d, or None before 明治."""
    for era in reversed(ERAS):
        if d >= era.start:
            return era
    return None


def era_end(era: Era) -> date | None:
    """The last day of era, or None for the current one."""
    index = ERAS.index(era)
    if index + 1 == len(ERAS):
        return None
    return date.fromordinal(ERAS[index + 1].start.toordinal() - 1)


def _year_text(year: int) -> str:
    # 元年: the first year of an era is written 元年, never 1年 (official usage).
    return "元" if year == 1 else str(year)


def to_wareki(d: date, style: str = "long") -> str:
    """d in 和暦: long 令和6年12月18日, short R6.12.18, era_year 令和6年; 西暦 before 明治."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    era = era_of(d)
    if era is None:
        # No era to name: fall back to 西暦 in the same shape as the requested style.
        return {
            "long": f"{d.year}年{d.month}月{d.day}日",
            "short": f"{d.year}/{d.month}/{d.day}",
            "era_year": f"{d.year}年",
        }[style]
    year = d.year - era.start.year + 1
    if style == "short":
        # The short form is for narrow table columns; R1.5.1, as on 住民票 print-outs, not R元.
        return f"{era.letter}{year}.{d.month}.{d.day}"
    if style == "era_year":
        return f"{era.name}{_year_text(year)}年"
    return f"{era.name}{_year_text(year)}年{d.month}月{d.day}日"


def fiscal_year_label(fy: int) -> str:
    """年度 label for the fiscal year starting on 1 April of fy: 2026 → 令和8年度."""
    # A 年度 is named after the era in force at the end of calendar year fy, so FY2019 (which began
    # under 平成 on 2019-04-01) is 令和元年度 as the government styled it after the 改元, FY1988 stays
    # 昭和63年度 and FY1989 is 平成元年度.
    return to_wareki(date(fy, 12, 31), "era_year") + "度"


_ERA_NAMES = "|".join(_BY_NAME)
_WAREKI_KANJI = re.compile(
    rf"(?P<era>{_ERA_NAMES})(?P<year>元|\d{{1,2}})年(?P<month>\d{{1,2}})月(?P<day>\d{{1,2}})日"
)
_WAREKI_SEP = re.compile(
    rf"(?P<era>{_ERA_NAMES}|[MTSHR])(?P<year>元|\d{{1,2}})(?P<sep>[./-])(?P<month>\d{{1,2}})(?P=sep)(?P<day>\d{{1,2}})",
    re.IGNORECASE,
)
_SEIREKI_SEP = re.compile(r"(?P<year>\d{4})(?P<sep>[./-])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})")
_SEIREKI_COMPACT = re.compile(r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})")
_SEIREKI_KANJI = re.compile(r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日")

FORMAT_HELP = "例: 2024-12-18、20241218、2024年12月18日、令和6年12月18日、R6.12.18"


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise WarekiError("存在しない日付です。") from None


def _from_era(era: Era, year_text: str, month: int, day: int) -> date:
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise WarekiError(f"{era.name}0年はありません。")
    d = _make_date(era.start.year + year - 1, month, day)
    start_label = to_wareki(era.start)
    if d < era.start:
        raise WarekiError(f"{era.name}は{start_label}からです。")
    end = era_end(era)
    if end is not None and d > end:
        # e.g. 平成31年5月1日 or 平成32年: 平成 ended on 2019-04-30 (改元 to 令和 on 5月1日).
        end_label = f"{era.name}{end.year - era.start.year + 1}年{end.month}月{end.day}日"
        raise WarekiError(f"{era.name}は{end_label}までです。")
    return d


def parse_date(text: str) -> date:
    """A date from 西暦 or 和暦 text (full-width digits accepted); WarekiError if unreadable or impossible."""
    if not isinstance(text, str):
        raise WarekiError("日付を入力してください。")
    # NFKC turns full-width digits and separators into ASCII and the one-character era signs
    # (㋿ ㍻ ㍼ ㍽ ㍾) into 令和 平成 昭和 大正 明治; spaces carry no meaning in a date.
    cleaned = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if not cleaned:
        raise WarekiError("日付を入力してください。")
    for pattern in (_SEIREKI_SEP, _SEIREKI_COMPACT, _SEIREKI_KANJI):
        match = pattern.fullmatch(cleaned)
        if match:
            year = int(match["year"])
            if year < 1:
                raise WarekiError("0年はありません。")
            return _make_date(year, int(match["month"]), int(match["day"]))
    for pattern in (_WAREKI_KANJI, _WAREKI_SEP):
        match = pattern.fullmatch(cleaned)
        if match:
            token = match["era"]
            era = _BY_NAME.get(token) or _BY_LETTER[token.upper()]
            return _from_era(era, match["year"], int(match["month"]), int(match["day"]))
    raise WarekiError(f"日付の形式が正しくありません（{FORMAT_HELP}）。")


def age_on(birth: date, on: date) -> int:
    """Age in whole years on the day on (年齢計算ニ関スル法律): one year older from the birthday itself."""
    # 年齢計算ニ関スル法律 and 民法143条: age counts from the day of birth and a year is completed at
    # the end of the day before the birthday, so on the birthday the person is already older. For a
    # 29 February birth this gives a birthday on 1 March in common years (the year completes at the
    # end of 28 February), which is what comparing (month, day) pairs yields. The 学年 rule (born on
    # 1 April joins the earlier school year) follows from the same law and is not needed here.
    if on < birth:
        raise ValueError("基準日が生年月日より前です。")
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
