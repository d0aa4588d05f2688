"""収入超過者 (法28条) and 高額所得者 (法29条) certification, the 明渡請求 deadline (法29条3項) and the
damages for staying after it (法29条6項).

Pure functions over rules.rent.RentMasters; each returns its answer with the explanation in Japanese,
as the certification notices print it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from rules.rent import CATEGORIES, RentMasters


@dataclass
class Test:
    """A yes/no answer of the law with the reasons."""

    result: bool
    explanation: list[str]


def over_income(seirei_getsushu: int, category: str, years_resided: int, masters: RentMasters) -> Test:
    """収入超過者 (法28条1項): resident 3+ years (from 当初入居日) and above the category's 入居収入基準."""
    limit = masters.income_limit(category)
    label = CATEGORIES.get(category, category)
    resided = years_resided >= masters.over_income_min_years
    above = seirei_getsushu > limit
    steps = [
        f"入居年数 {years_resided}年({masters.over_income_min_years}年以上: {'該当' if resided else '非該当'})",
        f"政令月収 {seirei_getsushu:,}円、{label}の入居収入基準 {limit:,}円({'超える' if above else '以下'})",
    ]
    result = resided and above
    steps.append("収入超過者に該当します(法28条1項)" if result else "収入超過者に該当しません")
    return Test(result, steps)


def high_income(
    seirei_getsushu: int, previous: Sequence[int], years_resided: int, masters: RentMasters
) -> Test:
    """高額所得者 (法29条1項, 令9条): resident 5+ years and above the limit in each of the last 2 years."""
    limit = masters.high_income_limit
    years = masters.high_income_consecutive_years
    recent = [seirei_getsushu, *previous[: years - 1]]
    resided = years_resided >= masters.high_income_min_years
    steps = [
        f"入居年数 {years_resided}年({masters.high_income_min_years}年以上: {'該当' if resided else '非該当'})"
    ]
    for back, value in enumerate(recent):
        when = "今回" if back == 0 else f"{back}年前"
        steps.append(
            f"{when}の政令月収 {value:,}円({limit:,}円を{'超える' if value > limit else '超えない'})"
        )
    if len(recent) < years:
        steps.append(f"最近{years}年間の政令月収がそろっていません")
    result = resided and len(recent) == years and all(value > limit for value in recent)
    steps.append("高額所得者に該当します(法29条1項)" if result else "高額所得者に該当しません")
    return Test(result, steps)


def eviction_deadline(requested_on: dt.date, months: int) -> dt.date:
    """The earliest 明渡期限: the day after a period of `months` months counted from the day after the
    request (法29条3項; 民法140条, 143条). 2026-01-15 → 2026-07-16; 2026-08-30 → 2027-03-01 (the
    period starting 31 August has no 31 February and ends on the last day of February)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    start = requested_on + dt.timedelta(days=1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if start.day <= last:
        period_end = dt.date(year, month, start.day) - dt.timedelta(days=1)
    else:
        period_end = dt.date(year, month, last)
    return period_end + dt.timedelta(days=1)
