"""家賃試算 (rent quote): what would a household's rent be, from facts typed in — nothing is stored.

Used by `flask rent quote` (a JSON household on stdin, the figures as JSON on stdout) and by the staff
rent calculator (/staff/rent/quote). The masters are those in force for the fiscal year (the income
tables by income year); a location coefficient given with the quote replaces the city's value for it.

The JSON contract (every field required unless marked optional; unknown fields are refused, so that a
misspelt field is not silently ignored; amounts are whole yen as JSON integers — 3500000, never 3500000.0
or "3,500,000"; true/false are never accepted for numbers, nor numbers for true/false):

    {"fiscal_year": 2026, "income_year": 2025,            # income_year = fiscal_year − 1
     "household_category": "general" | "special",
     "members": [{"relation": "本人"|"配偶者"|"子"|"父母"|"その他",   # the first member is the head (本人)
                  "birth_date": "YYYY-MM-DD",
                  "salary_income": int,       # 給与収入 (revenue: the 支払金額 of the 源泉徴収票)
                  "pension_income": int,      # 公的年金等収入 (revenue)
                  "other_income": int,        # other 所得 (already net of expenses)
                  "disability": "none"|"ordinary"|"special",
                  "widow": bool, "single_parent": bool, "dependent": bool}],
     "remote_dependents": [{"birth_date": "YYYY-MM-DD", "disability": "none"|"ordinary"|"special"}],
     "unit": {"floor_area": number, "structure": "fire_resistant"|"quasi_fire_resistant"|"wooden",
              "age_years": int, "convenience_coefficient": number, "market_rent": int},
     "location_coefficient": number,         # 0.7-1.6
     "tenancy": {"years_resided": int, "previous_seirei_getsushu": [int, …],   # newest first
                 "years_over_limit_before": int},                             # optional
     "declared": bool}
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from rules import income as income_rules
from rules import rent as rent_rules

RELATIONS = ("本人", "配偶者", "子", "父母", "その他")
CATEGORIES = ("general", "special")
DISABILITIES = income_rules.DISABILITY
STRUCTURES = tuple(rent_rules.STRUCTURES)
LOCATION_MIN, LOCATION_MAX = Decimal("0.7"), Decimal("1.6")
MAX_AMOUNT = 999_999_999
MAX_MEMBERS = 40
MAX_REMOTE = 20
MAX_PREVIOUS = 20
MAX_AGE_YEARS = 200
MAX_FLOOR_AREA = Decimal(1000)
OLDEST_FISCAL_YEAR, NEWEST_FISCAL_YEAR = 2000, 2100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class QuoteInvalid(ValueError):
    """The input cannot be quoted: (field path, message) pairs, the path like members[1].birth_date."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


@dataclass(frozen=True)
class Quote:
    """A household and a unit to quote, already checked."""

    fiscal_year: int
    income_year: int
    category: str
    members: tuple[income_rules.Member, ...]
    remote_dependents: tuple[income_rules.RemoteDependent, ...]
    unit: rent_rules.UnitFacts
    location_coefficient: Decimal | None
    years_resided: int
    previous: tuple[int, ...] = ()
    years_over_before: int | None = None
    declared: bool = True


@dataclass
class QuoteResult:
    """The figures of a quote and the steps that explain them."""

    seirei_getsushu: int
    bracket: int
    base_amount: int
    standard_rent: int
    status: str
    rent: int
    deposit: int
    eligible: bool
    income_limit: int
    category: str
    market_rent: int
    years_over: int
    explanation: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return rent_rules.STATUSES[self.status]

    def as_json(self) -> dict:
        """The output contract of `flask rent quote`."""
        return {
            "seirei_getsushu": self.seirei_getsushu,
            "bracket": self.bracket,
            "base_amount": self.base_amount,
            "standard_rent": self.standard_rent,
            "status": self.status,
            "rent": self.rent,
            "deposit": self.deposit,
            "eligible": self.eligible,
            "explanation": list(self.explanation),
        }


# --- reading the JSON ------------------------------------------------------------------------------


class _Reader:
    """Walks the decoded JSON collecting problems by field path; the first problem is the one reported."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str):
        self.problems.append((path, message))
        raise QuoteInvalid(self.problems)

    def obj(self, value, path: str, required: set[str], optional: set[str] = frozenset()) -> dict:
        where = path or "(入力)"
        if not isinstance(value, dict):
            self.fail(where, "オブジェクト({…})で指定してください")
        for key in value:
            if key not in required and key not in optional:
                self.fail(_join(path, key), "未知の項目です(項目名の誤りを防ぐため受け付けません)")
        for key in sorted(required):
            if key not in value:
                self.fail(_join(path, key), "必須の項目がありません")
        return value

    def integer(self, value, path: str, low: int = 0, high: int = MAX_AMOUNT) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "整数で指定してください(小数・文字列・真偽値は不可)")
        if value < low:
            self.fail(path, f"{low:,}以上の整数で指定してください" if low else "負の値は指定できません")
        if value > high:
            self.fail(path, f"{high:,}以下の整数で指定してください")
        return value

    def number(self, value, path: str, low: Decimal, high: Decimal, *, open_low: bool = False) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(path, "数値で指定してください")
        number = Decimal(value)
        if not number.is_finite() or number > high or number < low or (open_low and number == low):
            bound = f"{low}より大きく" if open_low else f"{low}以上"
            self.fail(path, f"{bound}{high}以下の数値で指定してください")
        return number

    def boolean(self, value, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "true か false で指定してください")
        return value

    def choice(self, value, path: str, choices) -> str:
        if not isinstance(value, str) or value not in choices:
            self.fail(path, "次のいずれかで指定してください: " + " / ".join(choices))
        return value

    def date(self, value, path: str) -> dt.date:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            self.fail(path, "日付は YYYY-MM-DD の文字列で指定してください")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(path, "存在しない日付です")

    def array(self, value, path: str, maximum: int, minimum: int = 0) -> list:
        if not isinstance(value, list):
            self.fail(path, "配列([…])で指定してください")
        if len(value) < minimum:
            self.fail(path, f"{minimum}件以上指定してください")
        if len(value) > maximum:
            self.fail(path, f"{maximum}件以下で指定してください")
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


MEMBER_FIELDS = {
    "relation",
    "birth_date",
    "salary_income",
    "pension_income",
    "other_income",
    "disability",
    "widow",
    "single_parent",
    "dependent",
}


def parse(data) -> Quote:
    """A Quote from the decoded JSON (floats decoded as Decimal), or QuoteInvalid naming the field."""
    r = _Reader()
    top = r.obj(
        data,
        "",
        {
            "fiscal_year",
            "income_year",
            "household_category",
            "members",
            "remote_dependents",
            "unit",
            "location_coefficient",
            "tenancy",
            "declared",
        },
    )
    fiscal_year = r.integer(top["fiscal_year"], "fiscal_year", OLDEST_FISCAL_YEAR, NEWEST_FISCAL_YEAR)
    income_year = r.integer(top["income_year"], "income_year", OLDEST_FISCAL_YEAR - 1, NEWEST_FISCAL_YEAR)
    if income_year != fiscal_year - 1:
        r.fail("income_year", f"年度 {fiscal_year} の家賃は前年 {fiscal_year - 1} 年分の収入で算定します")
    category = r.choice(top["household_category"], "household_category", CATEGORIES)
    members = []
    rows = r.array(top["members"], "members", MAX_MEMBERS, minimum=1)
    for index, row in enumerate(rows):
        path = f"members[{index}]"
        m = r.obj(row, path, MEMBER_FIELDS)
        relation = r.choice(m["relation"], f"{path}.relation", RELATIONS)
        if index == 0 and relation != "本人":
            r.fail(f"{path}.relation", "最初の世帯員は名義人(本人)です")
        if index > 0 and relation == "本人":
            r.fail(f"{path}.relation", "本人は最初の世帯員だけです")
        members.append(
            income_rules.Member(
                relation=relation,
                birth_date=r.date(m["birth_date"], f"{path}.birth_date"),
                salary_revenue=r.integer(m["salary_income"], f"{path}.salary_income"),
                pension_revenue=r.integer(m["pension_income"], f"{path}.pension_income"),
                other_income=r.integer(m["other_income"], f"{path}.other_income"),
                disability=r.choice(m["disability"], f"{path}.disability", DISABILITIES),
                widow=r.boolean(m["widow"], f"{path}.widow"),
                single_parent=r.boolean(m["single_parent"], f"{path}.single_parent"),
                dependent=r.boolean(m["dependent"], f"{path}.dependent"),
            )
        )
        if members[-1].widow and members[-1].single_parent:
            r.fail(f"{path}.single_parent", "寡婦とひとり親は同時に指定できません(どちらか一方)")
    remote = []
    for index, row in enumerate(r.array(top["remote_dependents"], "remote_dependents", MAX_REMOTE)):
        path = f"remote_dependents[{index}]"
        d = r.obj(row, path, {"birth_date", "disability"})
        remote.append(
            income_rules.RemoteDependent(
                birth_date=r.date(d["birth_date"], f"{path}.birth_date"),
                disability=r.choice(d["disability"], f"{path}.disability", DISABILITIES),
            )
        )
    u = r.obj(
        top["unit"],
        "unit",
        {"floor_area", "structure", "age_years", "convenience_coefficient", "market_rent"},
    )
    unit = rent_rules.UnitFacts(
        floor_area=r.number(u["floor_area"], "unit.floor_area", Decimal(0), MAX_FLOOR_AREA, open_low=True),
        structure=r.choice(u["structure"], "unit.structure", STRUCTURES),
        age_years=r.integer(u["age_years"], "unit.age_years", 0, MAX_AGE_YEARS),
        convenience_coefficient=r.number(
            u["convenience_coefficient"], "unit.convenience_coefficient", Decimal(0), Decimal(10)
        ),
        market_rent=r.integer(u["market_rent"], "unit.market_rent"),
    )
    location = r.number(top["location_coefficient"], "location_coefficient", LOCATION_MIN, LOCATION_MAX)
    t = r.obj(
        top["tenancy"], "tenancy", {"years_resided", "previous_seirei_getsushu"}, {"years_over_limit_before"}
    )
    years_resided = r.integer(t["years_resided"], "tenancy.years_resided", 0, 200)
    previous = tuple(
        r.integer(value, f"tenancy.previous_seirei_getsushu[{index}]")
        for index, value in enumerate(
            r.array(t["previous_seirei_getsushu"], "tenancy.previous_seirei_getsushu", MAX_PREVIOUS)
        )
    )
    before = None
    if "years_over_limit_before" in t:
        before = r.integer(t["years_over_limit_before"], "tenancy.years_over_limit_before", 0, 200)
    declared = r.boolean(top["declared"], "declared")
    return Quote(
        fiscal_year=fiscal_year,
        income_year=income_year,
        category=category,
        members=tuple(members),
        remote_dependents=tuple(remote),
        unit=unit,
        location_coefficient=location,
        years_resided=years_resided,
        previous=previous,
        years_over_before=before,
        declared=declared,
    )


def parse_json(text: str) -> Quote:
    """parse() of a JSON text; bad JSON is a QuoteInvalid too (path "(入力)")."""
    import json

    def constant(name):
        raise ValueError(f"{name} is not a number")

    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=constant)
    except (ValueError, InvalidOperation) as exc:
        raise QuoteInvalid([("(入力)", f"JSONとして読めません({exc})")]) from None
    return parse(data)


# --- the computation -------------------------------------------------------------------------------


def compute(quote: Quote) -> QuoteResult:
    """政令月収, 本来家賃, the status and the rent, the deposit and eligibility, with the masters in force.

    Raises QuoteInvalid for facts the law's ranges refuse (利便性係数 outside its bounds) and
    services.masters.MasterMissing when no masters are in force for the years asked."""
    from services import masters as master_data

    income_masters = master_data.income_masters(quote.income_year)
    rent_masters = master_data.rent_masters(quote.fiscal_year)
    if quote.location_coefficient is not None:
        rent_masters = replace(rent_masters, location_coefficient=quote.location_coefficient)
    low, high = rent_masters.convenience_bounds()
    if not low <= quote.unit.convenience_coefficient <= high:
        raise QuoteInvalid(
            [
                (
                    "unit.convenience_coefficient",
                    f"利便性係数は{low.normalize()}以上{high.quantize(Decimal('0.0001')).normalize()}以下です"
                    f"(令2条1項5号: 0.5以上、1.3と1.6÷立地係数の小さい方以下)",
                )
            ]
        )
    household = income_rules.household_income(quote.members, quote.remote_dependents, income_masters)
    seirei = household.seirei_getsushu
    standard = rent_rules.standard_rent(seirei, quote.unit, rent_masters)
    decided = rent_rules.decide(
        seirei,
        quote.unit,
        category=quote.category,
        years_resided=quote.years_resided,
        previous=quote.previous,
        masters=rent_masters,
        years_over_before=quote.years_over_before,
        declared=quote.declared,
    )
    deposit, deposit_step = rent_rules.deposit(decided.rent, rent_masters)
    limit = rent_masters.income_limit(quote.category)
    eligible = seirei <= limit
    label = rent_rules.CATEGORIES[quote.category]
    explanation = [*household.explanation]
    if decided.status == "undeclared":
        explanation.extend(standard.explanation)
    explanation.extend(decided.explanation)
    explanation.append(deposit_step)
    explanation.append(
        f"入居収入基準({label}) {limit:,}円: 政令月収 {seirei:,}円は"
        + ("基準以内(収入の条件を満たす)" if eligible else "基準を超える(収入の条件を満たさない)")
    )
    return QuoteResult(
        seirei_getsushu=seirei,
        bracket=standard.bracket,
        base_amount=standard.base_amount,
        standard_rent=standard.rent,
        status=decided.status,
        rent=decided.rent,
        deposit=deposit,
        eligible=eligible,
        income_limit=limit,
        category=quote.category,
        market_rent=quote.unit.market_rent,
        years_over=decided.years_over,
        explanation=explanation,
    )
