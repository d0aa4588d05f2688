"""Shared pieces of the demo generator: date arithmetic and the member record being built."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

IDEOGRAPHIC_SPACE = "\u3000"


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day `years` later (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_end(day: dt.date) -> dt.date:
    """The last day of the month (納期限 of a monthly charge)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def next_weekday(day: dt.date) -> dt.date:
    """The day itself or the Monday after a weekend (public holidays are not modelled)."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@dataclass
class Mem:
    """A member while the household is being made (written to Person at the end)."""

    relation: str
    sex: str
    birth: dt.date
    given: tuple[str, str]  # (漢字 or Latin, カナ)
    family: tuple[str, str] | None = None  # when different from the household's
    member_from: dt.date | None = None
    member_to: dt.date | None = None
    leave_reason: str | None = None
    deceased_on: dt.date | None = None
    is_head: bool = False
    widowed: bool = False  # the head's spouse died (寡婦 for a woman)
    disability: tuple[str, str] | None = None
    phone: str | None = None
    salary: int = 0
    pension: int = 0
    other: int = 0
    non_taxable: int = 0
    id: int = 0
    name: str = ""
    kana: str = ""
    incomes: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)  # year → revenues

    def current(self) -> bool:
        """Still a member (no 世帯員でなくなった日)."""
        return self.member_to is None


def disability_level(disability: tuple[str, str] | None) -> str:
    """特別障害者 (身体1-2級, 精神1級, 療育A) or 障害者, for 控除ニ."""
    if disability is None:
        return "none"
    kind, grade = disability
    special = (kind == "physical" and grade in ("1", "2")) or (kind == "mental" and grade == "1")
    special = special or (kind == "intellectual" and grade in ("A1", "A2"))
    return "special" if special else "ordinary"


def qualifies_special(disability: tuple[str, str] | None) -> bool:
    """A handbook that makes the household 特認 (SPEC §3.1: 身体1-4級, 精神1-2級, 療育A1-B1)."""
    if disability is None:
        return False
    kind, grade = disability
    return (
        (kind == "physical" and grade in ("1", "2", "3", "4"))
        or (kind == "mental" and grade in ("1", "2"))
        or (kind == "intellectual" and grade in ("A1", "A2", "B1"))
    )
