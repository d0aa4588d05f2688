"""損害賠償金・差額の請求: 不正入居 (公営住宅法32条1項1号, 3項) and 高額所得者 after the 明渡期限 (法29条6項).

- 不正入居: for each month from the move-in to the day of the 明渡請求, the difference between the
  近傍同種家賃 and the rent paid, with interest at the 法定利率 (民法404条; 3% a year until 2029-03-31, from
  the masters) from the month's due date (支払期後の利息) to the computation day: simple interest,
  difference × rate × days ÷ 365, rounded down to the yen. The rate of a month is the one in force on
  the day after its due date (民法404条1項: the rate of the first moment interest arises). Then, from the
  day after the request until vacated, up to multiplier (2) × 近傍同種家賃 a month.
- 高額所得者: from the day after the 明渡期限 until vacated, up to multiplier × 近傍同種家賃 a month.

Months cut by a start or an end are prorated by day (rules.household.prorate: monthly × days ÷ days of
the month, rounded down to the yen). Pure: every result has its explanation, a line per month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from rules.household import month_end, prorate

YEAR_DAYS = 365


@dataclass(frozen=True)
class DamagesMasters:
    """The figures the damages need: the multiplier of 近傍同種家賃 and the 法定利率 by valid-from date."""

    market_rent_multiplier: Decimal
    interest_rates: tuple[tuple[dt.date, Decimal], ...]  # (valid_from, yearly rate), any order

    def interest_rate(self, on: dt.date) -> Decimal:
        """The 法定利率 in force on a day."""
        rates = [(since, rate) for since, rate in self.interest_rates if since <= on]
        if not rates:
            raise ValueError(f"no 法定利率 in force on {on.isoformat()}")
        return max(rates)[1]


@dataclass(frozen=True)
class FraudMonth:
    """One month of a 不正入居: the 近傍同種家賃, the rent paid for it and the day that rent was due."""

    month: dt.date  # any day of the month
    market_rent: int
    rent_paid: int
    due_date: dt.date


@dataclass
class MonthAmount:
    """One month's line: the base amount, the interest (0 where none) and the explanation."""

    month: dt.date
    amount: int
    interest: int
    explanation: str


@dataclass
class Damages:
    """A total with its monthly lines and the explanation."""

    principal: int
    interest: int
    months: list[MonthAmount]
    explanation: list[str]

    @property
    def total(self) -> int:
        return self.principal + self.interest


def _yen(value: int) -> str:
    return f"{value:,}円"


def _pct(rate: Decimal) -> str:
    text = f"{(rate * 100).normalize():f}"
    return f"{text}%"


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def fraud_difference(months: Sequence[FraudMonth], computed_on: dt.date, masters: DamagesMasters) -> Damages:
    """法32条3項 前段: Σ (近傍同種家賃 − 支払家賃) for the months from move-in to the request, each with
    simple interest from its due date to computed_on (days ÷ 365, rounded down to the yen)."""
    lines, principal, interest = [], 0, 0
    for m in months:
        if min(m.market_rent, m.rent_paid) < 0:
            raise ValueError("家賃は0以上の整数です")
        difference = max(0, m.market_rent - m.rent_paid)
        days = max(0, (computed_on - m.due_date).days)
        rate = masters.interest_rate(m.due_date + dt.timedelta(days=1))
        month_interest = _floor(Decimal(difference) * rate * days / YEAR_DAYS) if difference else 0
        text = (
            f"{m.month.year}年{m.month.month}月分: 近傍同種家賃 {_yen(m.market_rent)} − 支払済家賃 "
            f"{_yen(m.rent_paid)} = {_yen(difference)}"
        )
        if difference and days:
            text += (
                f"、利息 {_yen(difference)} × {_pct(rate)} × {days}日 ÷ {YEAR_DAYS}日 = "
                f"{_yen(month_interest)}(納期限 {m.due_date.isoformat()} の翌日から"
                f"{computed_on.isoformat()}まで、1円未満切り捨て)"
            )
        lines.append(MonthAmount(m.month, difference, month_interest, text))
        principal += difference
        interest += month_interest
    explanation = [line.explanation for line in lines]
    explanation.append(
        f"差額計 {_yen(principal)} + 利息計 {_yen(interest)} = {_yen(principal + interest)}(法32条3項)"
    )
    return Damages(principal, interest, lines, explanation)


def _market_for(market_rent: int | Mapping[int, int], day: dt.date) -> int:
    """近傍同種家賃 of the month: a single figure, or one per fiscal year (April-March)."""
    if isinstance(market_rent, int):
        return market_rent
    fiscal_year = day.year if day.month >= 4 else day.year - 1
    if fiscal_year not in market_rent:
        raise ValueError(f"近傍同種家賃 for fiscal year {fiscal_year} is missing")
    return market_rent[fiscal_year]


def monthly_damages(
    start: dt.date,
    end: dt.date,
    market_rent: int | Mapping[int, int],
    masters: DamagesMasters,
    multiplier: Decimal | None = None,
    basis: str = "",
) -> Damages:
    """multiplier × 近傍同種家賃 a month for the days start..end (both included), months cut by the start
    or the end prorated by day. multiplier defaults to the master's maximum and may not exceed it."""
    if end < start:
        raise ValueError("終了日が開始日より前です")
    top = masters.market_rent_multiplier
    multiplier = top if multiplier is None else Decimal(multiplier)
    if not 0 < multiplier <= top:
        raise ValueError(f"倍率は0より大きく{top.normalize()}以下です")
    lines, principal = [], 0
    day = start
    while day <= end:
        last = min(end, month_end(day))
        market = _market_for(market_rent, day)
        monthly = _floor(Decimal(market) * multiplier)
        part = prorate(monthly, day, last)
        text = (
            f"{day.year}年{day.month}月分: 近傍同種家賃 {_yen(market)} × {multiplier.normalize()} = "
            f"{_yen(monthly)}"
        )
        if not part.full_month:
            text += f"、日割り {part.explanation}"
        lines.append(MonthAmount(day, part.amount, 0, text))
        principal += part.amount
        day = last + dt.timedelta(days=1)
    explanation = [line.explanation for line in lines]
    explanation.append(
        f"{start.isoformat()}から{end.isoformat()}まで 計 {_yen(principal)}" + (f"({basis})" if basis else "")
    )
    return Damages(principal, 0, lines, explanation)


def after_fraud_request(
    requested_on: dt.date,
    vacated_on: dt.date,
    market_rent: int | Mapping[int, int],
    masters: DamagesMasters,
    multiplier: Decimal | None = None,
) -> Damages:
    """法32条3項 後段: from the day after the 明渡請求 to the day vacated, up to 2 × 近傍同種家賃 a month."""
    return monthly_damages(
        requested_on + dt.timedelta(days=1), vacated_on, market_rent, masters, multiplier, "法32条3項"
    )


def after_eviction_deadline(
    deadline: dt.date,
    vacated_on: dt.date,
    market_rent: int | Mapping[int, int],
    masters: DamagesMasters,
    multiplier: Decimal | None = None,
) -> Damages:
    """法29条6項: 高額所得者 still in the unit after the 明渡期限 — from the day after the deadline to the day
    vacated, up to 2 × 近傍同種家賃 a month. Nothing when vacated by the deadline."""
    if vacated_on <= deadline:
        return Damages(0, 0, [], [f"明渡期限 {deadline.isoformat()} までに明け渡したため損害賠償金なし"])
    return monthly_damages(
        deadline + dt.timedelta(days=1), vacated_on, market_rent, masters, multiplier, "法29条6項"
    )
