"""The monthly rent charge (調定) after 減免, prorated by day, and the 納期限 after 徴収猶予 (SPEC §4.5, §8).

Pure functions: the services pass in the rent decisions, the days occupied and the reductions granted;
every figure carries its explanation in Japanese (the screen and the notice show it), like
rules/household.py, whose daily proration (日割り) this module reuses.

    terms = ReductionTerms(rate=Decimal("0.5"), minimum_rent=10_000)
    reduced_rent(38_600, terms).reduced              # 19,300
    spans = month_spans(date(2026, 6, 1), occupied=[(date(2026, 4, 1), None)],
                        decisions=[(date(2026, 4, 1), 38_600)],
                        reductions=[(date(2026, 6, 16), date(2027, 3, 31), terms)])
    month_charge(date(2026, 6, 1), spans).payable    # 38,600 − 19,300 × 15 ÷ 30 = 28,950

Decisions where the specification leaves a choice:

- **減免後の家賃** = max(最低家賃, 家賃 × (1 − 減免率)) or max(最低家賃, 家賃 − 減免額), never below 0 and never
  above the rent itself; the fraction of a yen of 家賃 × (1 − 減免率) is dropped (1円未満切り捨て, in the
  household's favour). The charge keeps the rent as 調定額 and the difference as 減免額, as the charge
  model records them.
- **A partial month** is prorated day by day (rules.household.prorate, 1円未満切り捨て): the 調定額 over the
  days occupied at each rent in force, the 減免額 over the days each reduction covers. A whole month is
  the monthly figure itself, never a sum of prorated parts.
- **徴収猶予** does not change an amount: the 納期限 of a month the postponement covers (any of its days)
  moves to the postponement's last day, never earlier than it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from rules.household import month_end, prorate, yen


class NoRentInForce(ValueError):
    """A day of the month is occupied but no rent decision is in force for it."""

    def __init__(self, day: dt.date):
        super().__init__(f"{day.isoformat()} に適用される家賃決定がありません")
        self.day = day


@dataclass(frozen=True)
class ReductionTerms:
    """What a granted 減免 gives: a rate (0 < rate ≤ 1) or a monthly amount off the rent, and the minimum
    rent the household pays all the same. label names it in the explanation."""

    rate: Decimal | None = None
    amount: int | None = None
    minimum_rent: int | None = None
    label: str = "減免"


@dataclass(frozen=True)
class ReducedRent:
    """The monthly rent after a reduction: reduced (what is paid) and reduction (減免額 = rent − reduced)."""

    rent: int
    reduced: int
    reduction: int
    explanation: str


def _percent(rate: Decimal) -> str:
    return f"{format((Decimal(rate) * 100).normalize(), 'f')}%"


def reduced_rent(rent: int, terms: ReductionTerms) -> ReducedRent:
    """The monthly rent after 減免: max(最低家賃, 家賃 × (1 − 率)) or max(最低家賃, 家賃 − 額), within 0..家賃."""
    if isinstance(rent, bool) or not isinstance(rent, int) or rent < 0:
        raise ValueError("家賃は0以上の整数（円）です")
    if (terms.rate is None) == (terms.amount is None):
        raise ValueError("減免は率か額のどちらか一方で決めます")
    minimum = terms.minimum_rent or 0
    if terms.rate is not None:
        rate = Decimal(terms.rate)
        if not Decimal(0) < rate <= Decimal(1):
            raise ValueError("減免率は0より大きく1以下です")
        after = int((Decimal(rent) * (Decimal(1) - rate)).to_integral_value(rounding=ROUND_FLOOR))
        how = f"{yen(rent)} × (1 − {_percent(rate)}) = {yen(after)}"
    else:
        if terms.amount < 0:
            raise ValueError("減免額は0以上の整数（円）です")
        after = rent - terms.amount
        how = f"{yen(rent)} − {yen(terms.amount)} = {yen(after)}"
    reduced = min(rent, max(minimum, after, 0))
    if terms.minimum_rent and after < minimum:
        how += f"、最低家賃 {yen(minimum)} を下回るため {yen(reduced)}"
    elif after < 0:
        how += f"、0円を下回るため {yen(reduced)}"
    if reduced == rent and after < rent:
        how += "（家賃以上のため減免なし）"
    return ReducedRent(rent, reduced, rent - reduced, f"{terms.label}: {how}")


@dataclass(frozen=True)
class Span:
    """Consecutive days of one month with the same rent and the same reduction (or none)."""

    start: dt.date
    end: dt.date
    rent: int
    terms: ReductionTerms | None = None


@dataclass(frozen=True)
class MonthCharge:
    """One month's rent charge: 調定額 (amount) and 減免額 (reduction), with the steps."""

    period: dt.date
    amount: int
    reduction: int
    explanation: list[str] = field(default_factory=list)

    @property
    def payable(self) -> int:
        """What the household pays for the month: 調定額 − 減免額."""
        return self.amount - self.reduction


def _days(start: dt.date, end: dt.date):
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def month_spans(
    period: dt.date,
    *,
    occupied: Sequence[tuple[dt.date, dt.date | None]],
    decisions: Sequence[tuple[dt.date, int]],
    reductions: Sequence[tuple[dt.date, dt.date, ReductionTerms]] = (),
) -> list[Span]:
    """The month cut into spans of the days occupied with one rent and one reduction each.

    occupied: (first day, last day or None) of each tenancy; decisions: (適用開始日, 家賃) of the approved
    rent decisions; reductions: (start, end, terms) of the reductions granted (their periods do not
    overlap). NoRentInForce when an occupied day has no decision in force."""
    first, last = period.replace(day=1), month_end(period)
    ordered = sorted(decisions, key=lambda pair: pair[0])
    spans: list[Span] = []
    key = None
    for day in _days(first, last):
        if not any(start <= day and (end is None or day <= end) for start, end in occupied):
            key = None
            continue
        rents = [rent for start, rent in ordered if start <= day]
        if not rents:
            raise NoRentInForce(day)
        terms = next((t for start, end, t in reductions if start <= day <= end), None)
        current = (rents[-1], id(terms) if terms is not None else None)
        if current == key:
            spans[-1] = Span(spans[-1].start, day, spans[-1].rent, spans[-1].terms)
        else:
            spans.append(Span(day, day, rents[-1], terms))
            key = current
    return spans


def _part(monthly: int, start: dt.date, end: dt.date) -> tuple[int, str]:
    share = prorate(monthly, start, end)
    return share.amount, share.explanation


def month_charge(period: dt.date, spans: Sequence[Span]) -> MonthCharge:
    """調定額 and 減免額 of a month from its spans: each prorated by day (a whole month is the monthly figure)."""
    if not spans:
        return MonthCharge(period, 0, 0, ["この月に入居の日はありません"])
    lines: list[str] = []
    amount = 0
    # 調定額: the days at each rent (spans that differ only by their reduction are one stretch).
    stretches: list[Span] = []
    for span in spans:
        previous = stretches[-1] if stretches else None
        if previous and previous.rent == span.rent and previous.end + dt.timedelta(days=1) == span.start:
            stretches[-1] = Span(previous.start, span.end, span.rent)
        else:
            stretches.append(Span(span.start, span.end, span.rent))
    for stretch in stretches:
        part, text = _part(stretch.rent, stretch.start, stretch.end)
        amount += part
        lines.append(f"住宅使用料 {text}")
    reduction = 0
    for span in spans:
        if span.terms is None:
            continue
        reduced = reduced_rent(span.rent, span.terms)
        lines.append(f"{reduced.explanation}（月額の減免額 {yen(reduced.reduction)}）")
        part, text = _part(reduced.reduction, span.start, span.end)
        reduction += part
        lines.append(f"減免額 {text}")
    reduction = min(reduction, amount)
    lines.append(f"調定額 {yen(amount)} − 減免額 {yen(reduction)} = 納付額 {yen(amount - reduction)}")
    return MonthCharge(period, amount, reduction, lines)


def postponed_due(
    period: dt.date, due: dt.date, postponements: Sequence[tuple[dt.date, dt.date]]
) -> tuple[dt.date, str | None]:
    """The 納期限 of a month's charge after 徴収猶予: the last day of a postponement that covers any day of
    the month, if that is later than the 納期限 itself; with the step that says so (None: unchanged)."""
    first, last = period.replace(day=1), month_end(period)
    ends = [end for start, end in postponements if start <= last and end >= first]
    if not ends or max(ends) <= due:
        return due, None
    until = max(ends)
    return until, (
        f"徴収猶予により納期限を{due.year}年{due.month}月{due.day}日から"
        f"{until.year}年{until.month}月{until.day}日に延長"
    )
