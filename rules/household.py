"""Pure rules of household changes (世帯の異動): daily proration (日割り), deposit settlement (敷金精算),
who may succeed as 名義人 (使用承継), and how relations read after a head change.

No database: the services pass the figures in. Every result carries its explanation in Japanese (the
screen shows it, the event's detail keeps it), like rules/income.py.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

# 使用承継: the years a relative other than the spouse must have lived in the household (from the day
# the member joined it: 入居時 or 同居承認) before the change. The 国土交通省 notice on 使用承継
# (平成17年) leaves the period to each city and SPEC does not fix it: one year here, the common
# municipal rule. It belongs in the masters once the city confirms its figure.
SUCCESSION_MIN_YEARS = 1
# 名義人 signs the use permit: an adult (民法4条, 18歳).
ADULT_AGE = 18

# Relatives (続柄) who may succeed other than the spouse, given the period and the city's approval.
SUCCESSION_RELATIVES = frozenset(
    {
        "child",
        "parent",
        "grandchild",
        "grandparent",
        "sibling",
        "child_in_law",
        "parent_in_law",
        "other_relative",
    }
)

# The former head's relation as seen from the new head (the new head's relation to the former one,
# reversed). Other members keep their relation to the former head: the event says so.
INVERSE_RELATION = {
    "spouse": "spouse",
    "child": "parent",
    "parent": "child",
    "grandchild": "grandparent",
    "grandparent": "grandchild",
    "sibling": "sibling",
    "child_in_law": "parent_in_law",
    "parent_in_law": "child_in_law",
    "other_relative": "other_relative",
    "other": "other",
}


def month_start(day: dt.date) -> dt.date:
    """The first day of the month of a date (調定年月)."""
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of the month of a date."""
    return day.replace(day=days_in_month(day))


def days_in_month(day: dt.date) -> int:
    """28-31: the days of the month of a date (閏年 counted)."""
    return calendar.monthrange(day.year, day.month)[1]


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day years later (29 February → 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(birth: dt.date, on: dt.date) -> int:
    """Completed years of age on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def yen(amount: int) -> str:
    """38,600円 (a minus sign for a negative amount)."""
    return f"{'-' if amount < 0 else ''}{abs(amount):,}円"


def _date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Proration:
    """One month's charge for part of the month: amount = floor(monthly × days ÷ days of the month)."""

    monthly: int
    start: dt.date
    end: dt.date
    days: int
    month_days: int
    amount: int
    explanation: str

    @property
    def full_month(self) -> bool:
        return self.days == self.month_days


def prorate(monthly: int, start: dt.date, end: dt.date) -> Proration:
    """The charge for the days start..end (both included) of one month, rounded down to the yen.

    SPEC §3.2 and §8: daily proration for a move-in or a move-out within a month: monthly × days
    occupied ÷ days in that month. SPEC names no rounding: the fraction of a yen is dropped (1円未満
    切り捨て, the rule 国等の債権債務等の金額の端数計算に関する法律2条 sets for the state's claims); a whole
    month is the monthly amount itself.
    """
    if isinstance(monthly, bool) or not isinstance(monthly, int) or monthly < 0:
        raise ValueError("月額は0以上の整数（円）です")
    if (start.year, start.month) != (end.year, end.month):
        raise ValueError("日割りは同じ月の中の期間で計算します")
    if end < start:
        raise ValueError("終了日が開始日より前です")
    days = (end - start).days + 1
    month_days = days_in_month(start)
    amount = monthly * days // month_days
    if days == month_days:
        text = f"{yen(monthly)}（{start.month}月分の全日数）"
    else:
        text = (
            f"{yen(monthly)} × {days}日 ÷ {month_days}日 = {yen(amount)}"
            f"（{start.month}月{start.day}日〜{end.day}日、1円未満切り捨て）"
        )
    return Proration(monthly, start, end, days, month_days, amount, text)


def final_month(move_in: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The days of the last month that are occupied: from the 1st (or the move-in, if in the same
    month) to the last day."""
    start = max(month_start(last_day), move_in)
    return start, last_day


@dataclass(frozen=True)
class Settlement:
    """敷金精算: deposit + credits − unpaid − repair cost → a refund (返還額) or an amount due (不足額)."""

    deposit: int
    unpaid: int
    credit: int
    repair_cost: int
    balance: int  # positive: refund; negative: the household still owes
    explanation: list[str] = field(default_factory=list)

    @property
    def refund(self) -> int:
        return max(self.balance, 0)

    @property
    def due(self) -> int:
        return max(-self.balance, 0)


def settle_deposit(deposit: int, unpaid: int, repair_cost: int, credit: int = 0) -> Settlement:
    """Settle the deposit at move-out (SPEC §3.2 敷金; 法18条2項: the deposit secures unpaid rent and
    damages). credit: money paid beyond what is owed (e.g. a whole month paid before the proration)."""
    for name, value in (
        ("deposit", deposit),
        ("unpaid", unpaid),
        ("repair_cost", repair_cost),
        ("credit", credit),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number of yen, 0 or more")
    balance = deposit + credit - unpaid - repair_cost
    parts = [f"敷金 {yen(deposit)}"]
    if credit:
        parts.append(f"+ 過納額 {yen(credit)}")
    parts.append(f"− 未納額 {yen(unpaid)}")
    parts.append(f"− 修繕費 {yen(repair_cost)}")
    formula = " ".join(parts)
    if balance >= 0:
        lines = [f"{formula} = 返還額 {yen(balance)}"]
    else:
        lines = [f"{formula} = {yen(balance)}（不足額 {yen(-balance)} を請求）"]
    return Settlement(deposit, unpaid, credit, repair_cost, balance, lines)


@dataclass(frozen=True)
class Candidate:
    """What the 使用承継 rule needs to know about the proposed new head."""

    relation: str
    birth_date: dt.date
    member_from: dt.date
    current: bool = True
    is_head: bool = False


@dataclass(frozen=True)
class SuccessionCheck:
    """The outcome of the 使用承継 rule: allowed or not, each condition with its result."""

    allowed: bool
    reasons: list[str]  # why not (empty when allowed)
    explanation: list[str]  # each condition checked, met or failed


def succession(
    candidate: Candidate,
    on: dt.date,
    *,
    approved: bool,
    min_years: int = SUCCESSION_MIN_YEARS,
    adult_age: int = ADULT_AGE,
) -> SuccessionCheck:
    """May this member become the 名義人 on this date (使用承継)?

    The spouse (配偶者) may. Another relative may when they have lived in the household for min_years
    and the city approved the 使用承継申請 (the 国土交通省 notice: 承継は原則として配偶者、及び高齢者・
    障害者等で特に居住の安定を図る必要がある者 — that judgement is the approval). Everyone must be a
    current member, not already the head, and an adult.
    """
    reasons: list[str] = []
    lines: list[str] = []
    if not candidate.current:
        reasons.append("現在の世帯員ではありません")
    if candidate.is_head:
        reasons.append("すでに名義人です")
    age = age_on(candidate.birth_date, on)
    if age < adult_age:
        reasons.append(f"{adult_age}歳未満です（{age}歳）")
    else:
        lines.append(f"年齢 {age}歳（{adult_age}歳以上）")
    if candidate.relation == "spouse":
        lines.append("配偶者: 承継できます")
    elif candidate.relation in SUCCESSION_RELATIVES:
        since = add_years(candidate.member_from, min_years)
        if since <= on:
            lines.append(f"同居 {_date(candidate.member_from)}から{min_years}年以上")
        else:
            reasons.append(
                f"同居期間が{min_years}年に満たません（{_date(candidate.member_from)}から。"
                f"{_date(since)}以降に承継できます）"
            )
        if approved:
            lines.append("使用承継申請の承認あり")
        else:
            reasons.append("配偶者以外の親族の承継には使用承継申請の承認が必要です")
    else:
        reasons.append("配偶者または親族ではないため承継できません")
    return SuccessionCheck(not reasons, reasons, lines + [f"承継できない理由: {r}" for r in reasons])


def former_head_relation(new_head_relation: str) -> str:
    """The former head's relation to the new head (配偶者 ↔ 配偶者, 子 → 父母, …)."""
    return INVERSE_RELATION.get(new_head_relation, "other")
