"""Reading the effective-dated masters: the row in force on a date is the latest valid_from not after it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from peewee import fn

from models.masters import (
    PARAMETERS,
    MasterParameter,
    OverIncomeRate,
    PensionDeductionBand,
    RentBaseBand,
    SalaryIncomeBand,
)
from rules.income import IncomeMasters, PensionBand, RentBand, SalaryBand
from rules.rent import STRUCTURES, OverIncomeBand, RentMasters, UnitFacts


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


def over_income_bands(on: dt.date) -> tuple[OverIncomeBand, ...]:
    """令8条2項's table in force on a date: the bands of 政令月収 and the share for each year over."""
    latest = (
        OverIncomeRate.select(fn.MAX(OverIncomeRate.valid_from))
        .where(OverIncomeRate.valid_from <= on)
        .scalar()
    )
    if latest is None:
        raise MasterMissing(f"no 収入超過者 rates in force on {on.isoformat()}")
    bands: dict[int, OverIncomeBand] = {}
    for row in (
        OverIncomeRate.select()
        .where(OverIncomeRate.valid_from == latest)
        .order_by(OverIncomeRate.band, OverIncomeRate.year_over)
    ):
        band = bands.setdefault(row.band, OverIncomeBand(row.band, row.income_min, row.income_max, {}))
        band.shares[row.year_over] = (row.numerator, row.denominator)
    return tuple(bands[key] for key in sorted(bands))


def _as_date(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def rent_masters(fiscal_year: int) -> RentMasters:
    """Everything the rent of a fiscal year needs, as in force on 1 April of that year (SPEC §4.2-4.4)."""
    on = fiscal_year_start(fiscal_year)
    p = parameters(
        [code for code in PARAMETERS if not code.startswith(("deduction.", "disclosure.", "my_number."))], on
    )
    bands = rent_bands(on)
    over = over_income_bands(on)
    band_from = (
        RentBaseBand.select(fn.MAX(RentBaseBand.valid_from)).where(RentBaseBand.valid_from <= on).scalar()
    )
    over_from = (
        OverIncomeRate.select(fn.MAX(OverIncomeRate.valid_from))
        .where(OverIncomeRate.valid_from <= on)
        .scalar()
    )
    return RentMasters(
        fiscal_year=fiscal_year,
        bands=bands,
        location_coefficient=p["location_coefficient"],
        age_rates={key: p[f"age_coefficient_rate.{key}"] for key in STRUCTURES},
        standard_floor_area=p["standard_floor_area"],
        convenience_min=p["convenience_coefficient.min"],
        convenience_max=p["convenience_coefficient.max"],
        convenience_cap_numerator=p["convenience_coefficient.cap_numerator"],
        rounding_unit=int(p["rent_rounding_unit"]),
        over_income_rounding_unit=int(p["over_income_rounding_unit"]),
        over_income_uses_rounded_standard=bool(int(p["over_income_uses_rounded_standard"])),
        over_income_count_resets=bool(int(p["over_income_count_resets"])),
        over_income_bands=over,
        deposit_months=p["deposit_months"],
        income_limits={"general": int(p["income_limit.general"]), "special": int(p["income_limit.special"])},
        high_income_limit=int(p["income_limit.high_income"]),
        over_income_min_years=int(p["over_income.min_years"]),
        high_income_min_years=int(p["high_income.min_years"]),
        high_income_consecutive_years=int(p["high_income.consecutive_years"]),
        used={
            "rent_base_band": f"valid_from={_as_date(band_from)}",
            "over_income_rate": f"valid_from={_as_date(over_from)}",
            "master_parameter": f"in force on {on.isoformat()}",
        },
    )


def unit_facts(unit, fiscal_year: int) -> UnitFacts | None:
    """The unit's figures for the rent of a fiscal year, or None when its 近傍同種家賃 and 利便性係数 for
    that year have not been entered. 経過年数 = fiscal year − 建設年度 (only the year is recorded)."""
    from models.housing import UnitYearFigure

    figure = (
        UnitYearFigure.select()
        .where((UnitYearFigure.unit == unit) & (UnitYearFigure.fiscal_year == fiscal_year))
        .first()
    )
    if figure is None:
        return None
    building = unit.building
    return UnitFacts(
        floor_area=Decimal(unit.floor_area),
        structure=building.structure,
        age_years=max(0, fiscal_year - building.year_built),
        convenience_coefficient=Decimal(figure.convenience_coefficient),
        market_rent=figure.market_rent,
    )


def damages_masters(on: dt.date):
    """rules.damages.DamagesMasters: the multiplier of 近傍同種家賃 in force on a day and every 法定利率
    row up to it (a month's interest takes the rate in force when it starts to run)."""
    from rules.damages import DamagesMasters

    rates = tuple(
        (row.valid_from, Decimal(row.value))
        for row in MasterParameter.select()
        .where((MasterParameter.code == "statutory_interest_rate") & (MasterParameter.valid_from <= on))
        .order_by(MasterParameter.valid_from)
    )
    if not rates:
        raise MasterMissing(f"statutory_interest_rate has no value in force on {on.isoformat()}")
    return DamagesMasters(parameter("damages.market_rent_multiplier", on), rates)
