"""政令月収 (公営住宅法施行令1条3号): 所得 per member, deductions イ-ヘ, the household's monthly figure.

Pure functions: the masters come in as arguments (services/masters.py loads them), and every result
carries its explanation — the steps with their inputs, in Japanese — for the screen and the notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

DISABILITY = ("none", "ordinary", "special")


@dataclass(frozen=True)
class SalaryBand:
    """給与所得 in a band of 給与収入: floor(A × rate) + offset, A = revenue rounded down to round_to."""

    revenue_min: int
    revenue_max: int | None
    round_to: int
    rate: Decimal
    offset: int


@dataclass(frozen=True)
class PensionBand:
    """公的年金等控除 in a band of revenue: floor(revenue × rate) + offset."""

    revenue_min: int
    revenue_max: int | None
    rate: Decimal
    offset: int


@dataclass(frozen=True)
class IncomeMasters:
    """The figures of the law in force for one income year."""

    income_year: int
    salary_bands: tuple[SalaryBand, ...]
    pension_bands: dict[str, tuple[PensionBand, ...]]  # "65plus" / "under65"
    deductions: dict[str, int]  # dependent, elderly, specific_dependent, disability, special_disability,
    # widow, single_parent, earned_income
    reference_month_day: tuple[int, int] = (12, 31)
    used: dict[str, str] = field(default_factory=dict)  # which master rows (for the decision record)

    def reference_date(self) -> dt.date:
        """The day ages are taken at (default 31 December of the income year)."""
        month, day = self.reference_month_day
        return dt.date(self.income_year, month, day)


@dataclass(frozen=True)
class Member:
    """One member's incomes and circumstances. The first member of a household is the head (名義人)."""

    relation: str
    birth_date: dt.date
    salary_revenue: int = 0
    pension_revenue: int = 0
    other_income: int = 0
    disability: str = "none"
    widow: bool = False
    single_parent: bool = False
    dependent: bool = False


@dataclass(frozen=True)
class RemoteDependent:
    """A dependent living elsewhere (控除イ applies; ロ, ハ, ニ by age and disability)."""

    birth_date: dt.date
    disability: str = "none"


@dataclass
class MemberResult:
    """One member's 所得 and 控除 with the steps."""

    salary_income: int
    pension_income: int
    other_income: int
    income: int
    deduction: int
    age: int
    steps: list[str]


@dataclass
class HouseholdIncome:
    """The household's totals and 政令月収, with every member's result and the explanation."""

    total_income: int
    total_deduction: int
    seirei_getsushu: int
    members: list[MemberResult]
    remote_deduction: int
    explanation: list[str]


def age_at(birth: dt.date, on: dt.date) -> int:
    """Completed years of age on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def legal_age(birth: dt.date, on: dt.date) -> int:
    """Age on a day as the law counts it (年齢計算ニ関スル法律, 民法143条): a year of age is completed at
    the end of the day before the birthday, so a person born on 1 January is already a year older on
    31 December (所得税法85条 reads ages "at the end of 31 December": 令和6年分の70歳以上 = 昭和30年1月1日
    以前生まれ)."""
    return age_at(birth, on + dt.timedelta(days=1))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _band(bands: Sequence, revenue: int):
    for band in bands:
        if revenue >= band.revenue_min and (band.revenue_max is None or revenue <= band.revenue_max):
            return band
    raise ValueError(f"no band covers revenue {revenue}")


def salary_income(revenue: int, bands: Sequence[SalaryBand]) -> tuple[int, str]:
    """給与所得 from 給与収入 (所得税法28条, 別表第五), and the step that explains it."""
    if revenue < 0:
        raise ValueError("給与収入は0以上の整数です")
    if revenue == 0:
        return 0, "給与収入なし"
    band = _band(bands, revenue)
    base = revenue // band.round_to * band.round_to
    amount = max(0, _floor(Decimal(base) * band.rate) + band.offset)
    if band.rate == 0:
        how = f"{amount:,}円(所得税法別表第五)"
    elif band.round_to > 1:
        how = (
            f"{base:,}円(収入を{band.round_to:,}円未満切り捨て) × {band.rate.normalize()} {band.offset:+,}円"
        )
    else:
        how = f"{revenue:,}円 × {band.rate.normalize()} {band.offset:+,}円"
    return amount, f"給与所得 = {how} = {amount:,}円"


def pension_income(revenue: int, age: int, bands: dict[str, Sequence[PensionBand]]) -> tuple[int, str]:
    """公的年金等に係る雑所得 = 収入 − 公的年金等控除 (by age 65+ or not), never below 0."""
    if revenue < 0:
        raise ValueError("公的年金等収入は0以上の整数です")
    if revenue == 0:
        return 0, "公的年金等収入なし"
    group = "65plus" if age >= 65 else "under65"
    band = _band(bands[group], revenue)
    # The tax office's table gives the 雑所得 as revenue × (1 − rate) − offset with the yen fraction of
    # the income dropped (so a fractional 控除 is rounded up, never the income).
    amount = max(0, _floor(Decimal(revenue) * (1 - band.rate)) - band.offset)
    deduction = revenue - amount if amount else _floor(Decimal(revenue) * band.rate) + band.offset
    label = "65歳以上" if group == "65plus" else "65歳未満"
    return (
        amount,
        f"公的年金等の雑所得 = {revenue:,}円 − 公的年金等控除{deduction:,}円({label}) = {amount:,}円",
    )


def _member_deduction(member: Member, is_head: bool, age: int, income: int, earned: int, d: dict[str, int]):
    """Deductions イ-ヘ of 令1条3号 for one member; returns (amount, steps)."""
    total, steps = 0, []
    if not is_head:
        total += d["dependent"]
        steps.append(f"控除イ(同居親族) {d['dependent']:,}円")
        if member.dependent and age >= 70:
            total += d["elderly"]
            steps.append(f"控除ロ(70歳以上の配偶者・老人扶養親族) {d['elderly']:,}円")
        if member.dependent and 16 <= age <= 22:
            total += d["specific_dependent"]
            steps.append(f"控除ハ(特定扶養親族16-22歳) {d['specific_dependent']:,}円")
    if member.disability == "special":
        total += d["special_disability"]
        steps.append(f"控除ニ(特別障害者) {d['special_disability']:,}円")
    elif member.disability == "ordinary":
        total += d["disability"]
        steps.append(f"控除ニ(障害者) {d['disability']:,}円")
    if member.single_parent or member.widow:
        key, label = ("single_parent", "ひとり親") if member.single_parent else ("widow", "寡婦")
        amount = min(d[key], income)  # 令1条3号ホ: その者の所得額が限度
        total += amount
        steps.append(f"控除ホ({label}) {amount:,}円" + ("(所得額が限度)" if amount < d[key] else ""))
    if earned > 0:
        amount = min(d["earned_income"], earned)  # 令1条3号ヘ: 給与所得・公的年金等の雑所得の額が限度
        total += amount
        steps.append(
            f"控除ヘ(給与所得・公的年金等) {amount:,}円"
            + ("(所得額が限度)" if amount < d["earned_income"] else "")
        )
    return total, steps


def household_income(
    members: Sequence[Member], remote_dependents: Sequence[RemoteDependent], masters: IncomeMasters
) -> HouseholdIncome:
    """政令月収 = floor((Σ所得 − Σ控除) / 12), never below 0 (令1条3号). members[0] is the head."""
    if not members:
        raise ValueError("世帯員がいません")
    on = masters.reference_date()
    d = masters.deductions
    results: list[MemberResult] = []
    explanation = [f"年齢は{on.year}年{on.month}月{on.day}日現在"]
    for index, member in enumerate(members):
        if member.disability not in DISABILITY:
            raise ValueError(f"disability must be one of {DISABILITY}")
        if min(member.salary_revenue, member.pension_revenue, member.other_income) < 0:
            raise ValueError("収入・所得は0以上の整数です")
        age = legal_age(member.birth_date, on)
        salary, salary_step = salary_income(member.salary_revenue, masters.salary_bands)
        pension, pension_step = pension_income(member.pension_revenue, age, masters.pension_bands)
        income = salary + pension + member.other_income
        deduction, deduction_steps = _member_deduction(member, index == 0, age, income, salary + pension, d)
        steps = []
        if member.salary_revenue:
            steps.append(salary_step)
        if member.pension_revenue:
            steps.append(pension_step)
        if member.other_income:
            steps.append(f"その他の所得 {member.other_income:,}円")
        steps.append(f"所得 {income:,}円")
        steps.extend(deduction_steps)
        results.append(MemberResult(salary, pension, member.other_income, income, deduction, age, steps))
        who = "名義人" if index == 0 else f"世帯員{index + 1}"
        explanation.append(f"{who}({age}歳): " + "、".join(steps) + f"、控除計 {deduction:,}円")
    remote_total = 0
    for dependent in remote_dependents:
        age = legal_age(dependent.birth_date, on)
        amount = d["dependent"]
        parts = [f"控除イ(遠隔地扶養親族) {d['dependent']:,}円"]
        if age >= 70:
            amount += d["elderly"]
            parts.append(f"控除ロ {d['elderly']:,}円")
        if 16 <= age <= 22:
            amount += d["specific_dependent"]
            parts.append(f"控除ハ {d['specific_dependent']:,}円")
        if dependent.disability in ("ordinary", "special"):
            key = "special_disability" if dependent.disability == "special" else "disability"
            amount += d[key]
            parts.append(f"控除ニ {d[key]:,}円")
        remote_total += amount
        explanation.append(f"遠隔地扶養親族({age}歳): " + "、".join(parts))
    total_income = sum(r.income for r in results)
    total_deduction = sum(r.deduction for r in results) + remote_total
    seirei = max(0, total_income - total_deduction) // 12
    explanation.append(
        f"政令月収 = ({total_income:,}円 − {total_deduction:,}円) ÷ 12 = {seirei:,}円(1円未満切り捨て)"
    )
    return HouseholdIncome(total_income, total_deduction, seirei, results, remote_total, explanation)


@dataclass(frozen=True)
class RentBand:
    """収入分位 and 家賃算定基礎額 (令2条2項)."""

    bracket: int
    income_min: int
    income_max: int | None
    base_amount: int


def bracket_for(seirei_getsushu: int, bands: Sequence[RentBand]) -> RentBand:
    """The 収入分位 whose range holds the 政令月収."""
    for band in bands:
        if seirei_getsushu >= band.income_min and (
            band.income_max is None or seirei_getsushu <= band.income_max
        ):
            return band
    raise ValueError(f"no 収入分位 covers {seirei_getsushu}")
