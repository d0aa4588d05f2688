"""Reading the effective-dated masters: the row in force on a date is the latest valid_from not after it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from peewee import fn

from models.masters import PARAMETERS, MasterParameter, PensionDeductionBand, RentBaseBand, SalaryIncomeBand
from rules.income import IncomeMasters, PensionBand, RentBand, SalaryBand


class MasterMissing(LookupError):
    """No master row is in force for the date asked (the masters must be entered first)."""


def fiscal_year_start(fiscal_year: int) -> dt.date:
    """1 April of the fiscal year (年度)."""
    return dt.date(fiscal_year, 4, 1)


def parameter(code: str, on: dt.date) -> Decimal:
    """The value of a scalar parameter in force on a date."""
    if code not in PARAMETERS:
        raise KeyError(f"unknown master parameter {code!r}")
    row = (
        MasterParameter.select()
        .where((MasterParameter.code == code) & (MasterParameter.valid_from <= on))
        .order_by(MasterParameter.valid_from.desc())
        .first()
    )
    if row is None:
        raise MasterMissing(f"{code} has no value in force on {on.isoformat()}")
    return Decimal(row.value)


def parameters(codes, on: dt.date) -> dict[str, Decimal]:
    """Several parameters in force on a date."""
    return {code: parameter(code, on) for code in codes}


def rent_bands(on: dt.date) -> tuple[RentBand, ...]:
    """The 収入分位 table in force on a date."""
    latest = (
        RentBaseBand.select(fn.MAX(RentBaseBand.valid_from)).where(RentBaseBand.valid_from <= on).scalar()
    )
    if latest is None:
        raise MasterMissing(f"no 家賃算定基礎額 in force on {on.isoformat()}")
    rows = RentBaseBand.select().where(RentBaseBand.valid_from == latest).order_by(RentBaseBand.bracket)
    return tuple(RentBand(r.bracket, r.income_min, r.income_max, r.base_amount) for r in rows)


DEDUCTION_CODES = {
    "dependent": "deduction.dependent",
    "elderly": "deduction.elderly",
    "specific_dependent": "deduction.specific_dependent",
    "disability": "deduction.disability",
    "special_disability": "deduction.special_disability",
    "widow": "deduction.widow",
    "single_parent": "deduction.single_parent",
    "earned_income": "deduction.earned_income",
}


def income_masters(income_year: int) -> IncomeMasters:
    """Everything the 政令月収 of an income year needs: tax tables by income year, deductions in force
    at the start of the fiscal year the income is declared for (income year + 1)."""
    on = fiscal_year_start(income_year + 1)
    salary_from = (
        SalaryIncomeBand.select(fn.MAX(SalaryIncomeBand.income_year_from))
        .where(SalaryIncomeBand.income_year_from <= income_year)
        .scalar()
    )
    pension_from = (
        PensionDeductionBand.select(fn.MAX(PensionDeductionBand.income_year_from))
        .where(PensionDeductionBand.income_year_from <= income_year)
        .scalar()
    )
    if salary_from is None or pension_from is None:
        raise MasterMissing(f"no 給与所得 or 公的年金等控除 table for income year {income_year}")
    salary = tuple(
        SalaryBand(r.revenue_min, r.revenue_max, r.round_to, Decimal(r.rate), r.offset)
        for r in SalaryIncomeBand.select()
        .where(SalaryIncomeBand.income_year_from == salary_from)
        .order_by(SalaryIncomeBand.revenue_min)
    )
    pension: dict[str, list[PensionBand]] = {"65plus": [], "under65": []}
    for r in (
        PensionDeductionBand.select()
        .where(PensionDeductionBand.income_year_from == pension_from)
        .order_by(PensionDeductionBand.revenue_min)
    ):
        pension[r.age_group].append(PensionBand(r.revenue_min, r.revenue_max, Decimal(r.rate), r.offset))
    deductions = {key: int(parameter(code, on)) for key, code in DEDUCTION_CODES.items()}
    month_day = int(parameter("age_reference.month_day", on))
    return IncomeMasters(
        income_year=income_year,
        salary_bands=salary,
        pension_bands={k: tuple(v) for k, v in pension.items()},
        deductions=deductions,
        reference_month_day=(month_day // 100, month_day % 100),
        used={
            "salary_income_band": f"income_year_from={salary_from}",
            "pension_deduction_band": f"income_year_from={pension_from}",
            "master_parameter": f"in force on {on.isoformat()}",
        },
    )
