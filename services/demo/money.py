"""Incomes and rents of the demo households, from the masters in the database and rules/income.py.

The demo chooses a target 政令月収 for each household and finds the revenues that give it (by
inverting the 給与所得 and 公的年金等 tables); the figures stored are always those the rules compute
from the revenues, so a declaration in the demo reads exactly like one keyed in by staff.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rules.income import (
    HouseholdIncome,
    IncomeMasters,
    Member,
    RentBand,
    bracket_for,
    household_income,
    pension_income,
    salary_income,
)
from services.masters import fiscal_year_start, income_masters, parameters, rent_bands, rent_masters

# 所得税法2条1項34号: a relative is a dependent (扶養親族) when his 合計所得 is at most this amount
# (令和7年分から58万円). Used only to decide the demo's is_dependent flag.
DEPENDENT_INCOME_LIMIT = {2020: 480_000, 2025: 580_000}


def dependent_income_limit(income_year: int) -> int:
    """The 合計所得 limit of a dependent for an income year."""
    return max((y, v) for y, v in DEPENDENT_INCOME_LIMIT.items() if y <= income_year)[1]


def _invert(function: Callable[[int], int], target: int, high: int = 40_000_000) -> int:
    """The smallest revenue (to ¥1,000) whose 所得 reaches target; the tables are monotone."""
    if target <= 0:
        return 0
    low_k, high_k = 0, high // 1000
    while low_k < high_k:
        middle = (low_k + high_k) // 2
        if function(middle * 1000) >= target:
            high_k = middle
        else:
            low_k = middle + 1
    return low_k * 1000


@dataclass
class IncomeYear:
    """The masters of one income year and the functions the generator inverts."""

    masters: IncomeMasters
    dependent_limit: int

    def salary_income(self, revenue: int) -> int:
        """給与所得 of a 給与収入 by the year's table."""
        return salary_income(revenue, self.masters.salary_bands)[0]

    def pension_income(self, revenue: int, age: int) -> int:
        """公的年金等の雑所得 of a revenue at an age."""
        return pension_income(revenue, age, self.masters.pension_bands)[0]

    def salary_for(self, income: int) -> int:
        """給与収入 that yields at least this 給与所得."""
        return _invert(self.salary_income, income)

    def pension_for(self, income: int, age: int) -> int:
        """公的年金等収入 that yields at least this 雑所得."""
        return _invert(lambda revenue: self.pension_income(revenue, age), income)

    def compute(self, members: Sequence[Member]) -> HouseholdIncome:
        """政令月収 of the household by rules/income.py (members[0] is the head)."""
        return household_income(members, (), self.masters)


class Money:
    """The masters the generator needs, read once from the database for the demo's dates."""

    def __init__(self, current_fy: int, income_years: Sequence[int]):
        self.current_fy = current_fy
        on = fiscal_year_start(current_fy)
        self.years = {
            year: IncomeYear(income_masters(year), dependent_income_limit(year)) for year in income_years
        }
        self.bands: tuple[RentBand, ...] = rent_bands(on)
        codes = (
            "location_coefficient",
            "age_coefficient_rate.fire_resistant",
            "age_coefficient_rate.quasi_fire_resistant",
            "age_coefficient_rate.wooden",
            "standard_floor_area",
            "rent_rounding_unit",
            "over_income_rounding_unit",
            "income_limit.general",
            "income_limit.special",
            "income_limit.high_income",
            "deposit_months",
        )
        self.params = parameters(codes, on)
        self.limit_general = int(self.params["income_limit.general"])
        self.limit_special = int(self.params["income_limit.special"])
        self.limit_high = int(self.params["income_limit.high_income"])
        self.rent_masters = rent_masters(current_fy)  # what rules/rent.py decides this year's rents with

    def bracket(self, seirei: int) -> RentBand:
        """The 収入分位 band of a 政令月収."""
        return bracket_for(seirei, self.bands)

    def income_limit(self, category: str) -> int:
        """The 入居収入基準 of a household category (一般 / 特認)."""
        return self.limit_special if category == "special" else self.limit_general

    def deposit(self, rent: int) -> int:
        """敷金: the months of rent the master says."""
        return rent * int(self.params["deposit_months"])


def explanation_json(result: HouseholdIncome) -> str:
    """The rules' explanation steps as stored in IncomeDeclaration.explanation."""
    return json.dumps(result.explanation, ensure_ascii=False)


def masters_json(masters: IncomeMasters) -> str:
    """Which master rows a declaration was computed with."""
    return json.dumps(masters.used, ensure_ascii=False, sort_keys=True)
