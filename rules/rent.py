"""家賃 (公営住宅法16条, 施行令2条) and the rent of 収入超過者 (法28条, 令8条) and 高額所得者 (法29条).

Pure functions: the masters in force for the fiscal year come in as a RentMasters (services/masters.py
loads it), the unit's facts as UnitFacts; every result carries its explanation (the steps with their
inputs, in Japanese) for the screen and the notice.

    masters = services.masters.rent_masters(2027)
    result = decide(125_833, unit, category="general", years_resided=12, previous=(130_000,),
                    masters=masters)
    result.rent, result.status, result.explanation
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from rules.income import RentBand, bracket_for

STRUCTURES = {
    "fire_resistant": "耐火構造",
    "quasi_fire_resistant": "準耐火構造",
    "wooden": "木造",
}
CATEGORIES = {"general": "一般", "special": "特認(裁量階層)"}
STATUSES = {
    "normal": "通常",
    "over_income": "収入超過者",
    "high_income": "高額所得者",
    "undeclared": "収入未申告",
}


@dataclass(frozen=True)
class OverIncomeBand:
    """A column of 令8条2項's table: a range of 政令月収 and the share of the gap for each year over."""

    band: int
    income_min: int
    income_max: int | None
    shares: dict[int, tuple[int, int]]  # year over (1, 2, …) → (numerator, denominator)

    def share(self, year_over: int) -> tuple[int, int]:
        """The share for a year over; the last year listed applies to every later year."""
        return self.shares[min(year_over, max(self.shares))]


@dataclass(frozen=True)
class RentMasters:
    """Every figure the rent of a fiscal year needs, as in force on 1 April of that year."""

    fiscal_year: int
    bands: tuple[RentBand, ...]
    location_coefficient: Decimal
    age_rates: dict[str, Decimal]  # structure → yearly reduction of 経過年数係数
    standard_floor_area: Decimal
    convenience_min: Decimal
    convenience_max: Decimal
    convenience_cap_numerator: Decimal
    rounding_unit: int
    over_income_rounding_unit: int
    over_income_uses_rounded_standard: bool
    over_income_count_resets: bool
    over_income_bands: tuple[OverIncomeBand, ...]
    deposit_months: Decimal
    income_limits: dict[str, int]  # "general" / "special": 入居収入基準
    high_income_limit: int
    over_income_min_years: int
    high_income_min_years: int
    high_income_consecutive_years: int
    used: dict[str, str] = field(default_factory=dict)  # which master rows (for the decision record)

    def income_limit(self, category: str) -> int:
        """The 入居収入基準 of a household category (一般 158,000 / 特認 214,000 by default)."""
        if category not in self.income_limits:
            raise ValueError(f"household category must be one of {tuple(self.income_limits)}")
        return self.income_limits[category]

    def convenience_bounds(self) -> tuple[Decimal, Decimal]:
        """利便性係数 range (令2条1項5号): min ≤ R ≤ min(max, cap numerator ÷ 立地係数)."""
        cap = self.convenience_cap_numerator / self.location_coefficient
        return self.convenience_min, min(self.convenience_max, cap)


@dataclass(frozen=True)
class UnitFacts:
    """What the rent formula needs of a unit for a fiscal year."""

    floor_area: Decimal
    structure: str
    age_years: int
    convenience_coefficient: Decimal
    market_rent: int


@dataclass
class StandardRent:
    """本来家賃 (法16条1項): the formula's value, the cap at 近傍同種家賃, the rounded rent, the steps."""

    bracket: int
    base_amount: int
    computed: Decimal  # before the cap and rounding
    rent: int
    capped: bool
    explanation: list[str]


@dataclass
class RentResult:
    """The rent decided for a household for a fiscal year, with its status and the explanation."""

    status: str  # normal / over_income / high_income / undeclared
    seirei_getsushu: int | None
    bracket: int | None
    base_amount: int | None
    standard_rent: int | None
    market_rent: int
    rent: int
    years_over: int
    over_income: bool
    high_income: bool
    explanation: list[str]

    @property
    def status_label(self) -> str:
        """The status in Japanese."""
        return STATUSES[self.status]


def _floor_to(value: Decimal, unit: int) -> int:
    whole = int(value.to_integral_value(rounding=ROUND_FLOOR))
    return whole // unit * unit


def _coef(value: Decimal) -> str:
    """A coefficient as shown in the steps: up to 6 decimals, no trailing zeros."""
    shown = value.quantize(Decimal("0.000001"))
    text = f"{shown:f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _yen(value: int) -> str:
    return f"{value:,}円"


def age_coefficient(structure: str, age_years: int, masters: RentMasters) -> tuple[Decimal, str]:
    """経過年数係数 (令2条1項4号): 1 − rate × years (耐火 0.0039, 準耐火・木造 0.0087)."""
    if structure not in masters.age_rates:
        raise ValueError(f"structure must be one of {tuple(masters.age_rates)}")
    if age_years < 0:
        raise ValueError("経過年数は0以上の整数です")
    rate = masters.age_rates[structure]
    value = max(Decimal(0), 1 - rate * age_years)
    return value, (
        f"経過年数係数 = 1 − {_coef(rate)} × {age_years}年({STRUCTURES[structure]}) = {_coef(value)}"
    )


def standard_rent(seirei_getsushu: int, unit: UnitFacts, masters: RentMasters) -> StandardRent:
    """本来家賃 = min(基礎額 × 立地係数 × 規模係数 × 経過年数係数 × 利便性係数, 近傍同種家賃), rounded down."""
    if seirei_getsushu < 0:
        raise ValueError("政令月収は0以上の整数です")
    if unit.floor_area <= 0:
        raise ValueError("床面積は0より大きい値です")
    if unit.market_rent < 0:
        raise ValueError("近傍同種家賃は0以上の整数です")
    low, high = masters.convenience_bounds()
    if not low <= unit.convenience_coefficient <= high:
        raise ValueError(f"利便性係数は{_coef(low)}以上{_coef(high)}以下です(令2条1項5号)")
    band = bracket_for(seirei_getsushu, masters.bands)
    upper = f"{band.income_max:,}円" if band.income_max is not None else ""
    steps = [
        f"収入分位 {band.bracket}(政令月収 {band.income_min:,}円〜{upper})→ 家賃算定基礎額 {_yen(band.base_amount)}"
    ]
    size = unit.floor_area / masters.standard_floor_area
    steps.append(
        f"規模係数 = 床面積 {_coef(unit.floor_area)}㎡ ÷ {_coef(masters.standard_floor_area)}㎡ = {_coef(size)}"
    )
    age, age_step = age_coefficient(unit.structure, unit.age_years, masters)
    steps.append(age_step)
    computed = (
        Decimal(band.base_amount) * masters.location_coefficient * size * age * unit.convenience_coefficient
    )
    steps.append(
        f"{band.base_amount:,}円 × 立地係数 {_coef(masters.location_coefficient)} × 規模係数 {_coef(size)}"
        f" × 経過年数係数 {_coef(age)} × 利便性係数 {_coef(unit.convenience_coefficient)}"
        f" = {computed.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}円"
    )
    capped = computed > unit.market_rent
    if capped:
        steps.append(f"近傍同種家賃 {_yen(unit.market_rent)} を超えるため近傍同種家賃とする(法16条1項)")
        value = Decimal(unit.market_rent)
    else:
        value = computed
    rent = _floor_to(value, masters.rounding_unit)
    steps.append(f"本来家賃 {_yen(rent)}({masters.rounding_unit:,}円未満切り捨て)")
    return StandardRent(band.bracket, band.base_amount, computed, rent, capped, steps)


def count_years_over(
    seirei_getsushu: int,
    limit: int,
    previous: Sequence[int],
    years_resided: int,
    masters: RentMasters,
    years_over_before: int | None = None,
) -> int:
    """Which year over the limit this is (1, 2, …), or 0 when not over this year.

    years_over_before, when known (from the certifications on file), is the count up to last year;
    otherwise it is counted from the previous 政令月収 (newest first): the consecutive years over the
    limit while resident at least the minimum years (or every such year when a year back under the
    limit does not reset the count).
    """
    if seirei_getsushu <= limit or years_resided < masters.over_income_min_years:
        return 0
    if years_over_before is not None:
        if years_over_before < 0:
            raise ValueError("超過年数は0以上の整数です")
        return years_over_before + 1
    count = 0
    for back, value in enumerate(previous, start=1):
        if years_resided - back < masters.over_income_min_years:
            break
        if value > limit:
            count += 1
        elif masters.over_income_count_resets:
            break
    return count + 1


def over_income_rent(
    standard: StandardRent, market_rent: int, seirei_getsushu: int, year_over: int, masters: RentMasters
) -> tuple[int, list[str]]:
    """収入超過者の家賃 (令8条2項): 本来家賃 + (近傍同種家賃 − 本来家賃) × share, rounded down."""
    if year_over < 1:
        raise ValueError("超過年数は1以上です")
    for band in masters.over_income_bands:
        if seirei_getsushu >= band.income_min and (
            band.income_max is None or seirei_getsushu <= band.income_max
        ):
            break
    else:
        raise ValueError(f"no 収入超過者 band covers {seirei_getsushu}")
    numerator, denominator = band.share(year_over)
    base = (
        Decimal(standard.rent)
        if masters.over_income_uses_rounded_standard
        else min(standard.computed, Decimal(market_rent))
    )
    value = base + (Decimal(market_rent) - base) * numerator / denominator
    rent = min(market_rent, _floor_to(value, masters.over_income_rounding_unit))
    share = "1" if numerator == denominator else f"{numerator}/{denominator}"
    steps = [
        f"収入超過{year_over}年目・政令月収 {_yen(seirei_getsushu)} の区分の率 {share}(令8条2項)",
        f"{_yen(int(base)) if base == int(base) else f'{base:,.1f}円'} + (近傍同種家賃 {_yen(market_rent)} − "
        f"本来家賃) × {share} = {value.quantize(Decimal('0.1'), rounding=ROUND_FLOOR):,}円 → "
        f"{_yen(rent)}({masters.over_income_rounding_unit:,}円未満切り捨て)",
    ]
    return rent, steps


def deposit(rent: int, masters: RentMasters) -> tuple[int, str]:
    """敷金 (法18条): the months of rent the master says (3 by default)."""
    amount = _floor_to(Decimal(rent) * masters.deposit_months, 1)
    return amount, f"敷金 = 家賃 {_yen(rent)} × {_coef(masters.deposit_months)}か月 = {_yen(amount)}"


def decide(
    seirei_getsushu: int | None,
    unit: UnitFacts,
    *,
    category: str,
    years_resided: int,
    previous: Sequence[int],
    masters: RentMasters,
    years_over_before: int | None = None,
    declared: bool = True,
) -> RentResult:
    """The rent of a household for the fiscal year of the masters.

    - not declared (and no 法34条 answer) → 近傍同種家賃 (法16条1項 ただし書き);
    - 高額所得者: resident at least 5 years and 政令月収 above 313,000 this year and each of the
      previous (consecutive years − 1) years → 近傍同種家賃 (法29条, 令9条);
    - 収入超過者: resident at least 3 years and above the category's 入居収入基準 → 令8条2項;
    - otherwise 本来家賃.
    previous holds the 政令月収 of earlier years, newest first.
    """
    if years_resided < 0:
        raise ValueError("入居年数は0以上の整数です")
    limit = masters.income_limit(category)
    market = unit.market_rent
    if not declared or seirei_getsushu is None:
        return RentResult(
            status="undeclared",
            seirei_getsushu=seirei_getsushu,
            bracket=None,
            base_amount=None,
            standard_rent=None,
            market_rent=market,
            rent=market,
            years_over=0,
            over_income=False,
            high_income=False,
            explanation=[
                "収入の申告がないため、近傍同種家賃とする(法16条1項ただし書き)",
                f"家賃 {_yen(market)}",
            ],
        )
    if any(value < 0 for value in previous):
        raise ValueError("過去の政令月収は0以上の整数です")
    standard = standard_rent(seirei_getsushu, unit, masters)
    steps = list(standard.explanation)
    over_years = count_years_over(seirei_getsushu, limit, previous, years_resided, masters, years_over_before)
    needed = masters.high_income_consecutive_years - 1
    high = (
        years_resided >= masters.high_income_min_years
        and seirei_getsushu > masters.high_income_limit
        and len(previous) >= needed
        and all(value > masters.high_income_limit for value in previous[:needed])
    )
    label = CATEGORIES.get(category, category)
    if high:
        steps.append(
            f"入居{years_resided}年(5年以上)、政令月収が最近{masters.high_income_consecutive_years}年間"
            f"続けて {_yen(masters.high_income_limit)} を超えるため高額所得者(法29条1項、令9条)"
        )
        steps.append(f"家賃は近傍同種家賃 {_yen(market)}(法29条)")
        return RentResult(
            "high_income", seirei_getsushu, standard.bracket, standard.base_amount, standard.rent,
            market, market, over_years, True, True, steps,
        )  # fmt: skip
    if over_years:
        steps.append(
            f"入居{years_resided}年({masters.over_income_min_years}年以上)、政令月収が{label}の入居収入基準"
            f" {_yen(limit)} を超えるため収入超過者(法28条1項)"
        )
        rent, over_steps = over_income_rent(standard, market, seirei_getsushu, over_years, masters)
        steps.extend(over_steps)
        return RentResult(
            "over_income", seirei_getsushu, standard.bracket, standard.base_amount, standard.rent,
            market, rent, over_years, True, False, steps,
        )  # fmt: skip
    if seirei_getsushu > limit:
        steps.append(
            f"政令月収が{label}の入居収入基準 {_yen(limit)} を超えるが、入居{years_resided}年"
            f"({masters.over_income_min_years}年未満)のため収入超過者ではない"
        )
    steps.append(f"家賃 {_yen(standard.rent)}")
    return RentResult(
        "normal", seirei_getsushu, standard.bracket, standard.base_amount, standard.rent,
        market, standard.rent, 0, False, False, steps,
    )  # fmt: skip
