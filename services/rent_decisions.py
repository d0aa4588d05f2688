"""家賃決定 of one household for a fiscal year: what the file says, what the rules decide, the record.

    computation = rent_decisions.compute(household, 2027)          # reads only; Incomplete when it cannot
    computation.result.rent, computation.result.status, computation.explanation, computation.masters_used
    decision = rent_decisions.write_decision(household, computation, "correction", supersedes=old)

The one place that turns the tenant file into a rent (the yearly run, a correction 更正, a decision
after an objection 意見申出 all call it), so every decision of a year is computed the same way:

- the dwelling: the tenancy covering 1 April of the fiscal year (or the given day), its unit's facts
  for that year (services.masters.unit_facts: 近傍同種家賃 and 利便性係数 must be entered);
- 政令月収: the 収入申告 of the previous fiscal year (incomes of two calendar years before) when its
  status holds figures (提出済, 税情報で認定, 法34条調査); 送付済, 未提出, 督促済 mean 未申告 (→ 近傍同種家賃).
  A household that moved in after that declaration was sent has none: the 政令月収 of its move-in
  decision stands in for it;
- the earlier years' 政令月収 (newest first, consecutive years with figures) for 高額所得者 and for the
  years over the limit; the years over as certified last year (Certification.years_over) when on file;
- 入居年数: full years from 当初入居日 to the day (the 3- and 5-year rules count from it, across
  transfers);
- the masters in force on 1 April of the fiscal year (services.masters.rent_masters).

load_facts reads all of that for many households in a few queries (the yearly run reads a batch at a
time); compute reads it for one. Neither writes anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from models import (
    Building,
    Certification,
    Household,
    IncomeDeclaration,
    RentDecision,
    Tenancy,
    Unit,
    UnitYearFigure,
)
from rules import certification as certification_rules
from rules import rent as rules
from rules import wareki
from rules.income import age_at
from services import masters as masters_service

__all__ = [
    "FIGURE_STATUSES",
    "Computation",
    "Facts",
    "Incomplete",
    "compute",
    "compute_from",
    "decision_in_force",
    "load_facts",
    "write_decision",
]

FIGURE_STATUSES = frozenset({"submitted", "tax_certified", "investigation"})
UNDECLARED_STATUSES = frozenset({"sent", "not_submitted", "reminded"})
DECLARATION_LABELS = {
    "sent": "送付済(未提出)",
    "submitted": "提出済",
    "not_submitted": "未提出",
    "reminded": "督促済(未提出)",
    "investigation": "法34条調査",
    "tax_certified": "税情報で認定",
}
CATEGORY_LABELS = {"general": "一般", "special": "特認(裁量階層)"}


class Incomplete(Exception):
    """The household's rent cannot be computed from the file: code (models.rent_runs.PROBLEMS) and why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Facts:
    """What the file holds about one household for the rent of a fiscal year (see load_facts)."""

    household: Household
    tenancy: Tenancy | None = None
    unit: Unit | None = None
    building: Building | None = None
    figure: UnitYearFigure | None = None
    declarations: dict[int, IncomeDeclaration] = field(default_factory=dict)  # by fiscal year
    years_over_before: int | None = None
    in_force: RentDecision | None = None  # the approved decision in force the year before
    decided: RentDecision | None = None  # an approved decision of this fiscal year from the same day
    move_in: RentDecision | None = None  # the move-in decision in_force is, or corrects (see _move_in_of)

    @property
    def estate_id(self) -> int | None:
        return self.building.estate_id if self.building is not None else None


@dataclass
class Computation:
    """The rent of one household for a fiscal year, with every input used, ready to be recorded."""

    household_id: int
    fiscal_year: int
    effective_from: dt.date
    tenancy_id: int
    unit_id: int
    estate_id: int
    housing_code: str
    category: str
    years_resided: int
    first_move_in_date: dt.date
    declaration_id: int | None
    declaration_status: str | None
    seirei_source: str | None  # "declaration", "move_in" or None (未申告)
    previous: tuple[int, ...]
    years_over_before: int | None
    unit: rules.UnitFacts
    masters: rules.RentMasters
    result: rules.RentResult
    explanation: list[str]
    masters_used: dict[str, str]
    in_force: RentDecision | None = None
    over_income_test: certification_rules.Test | None = None
    high_income_test: certification_rules.Test | None = None

    @property
    def resident_three_years(self) -> bool:
        """Owed a 収入超過者認定通知書 (法28条: resident the minimum years on 1 April)."""
        return self.years_resided >= self.masters.over_income_min_years

    def decision_values(self) -> dict:
        """The RentDecision columns this computation fills (kind, state and approval apart)."""
        r = self.result
        return {
            "household": self.household_id,
            "tenancy": self.tenancy_id,
            "unit": self.unit_id,
            "fiscal_year": self.fiscal_year,
            "effective_from": self.effective_from,
            "seirei_getsushu": r.seirei_getsushu,
            "bracket": r.bracket,
            "base_amount": r.base_amount,
            "standard_rent": r.standard_rent,
            "market_rent": r.market_rent,
            "rent_status": r.status,
            "years_over": r.years_over,
            "rent": r.rent,
            "masters_used": json.dumps(self.masters_used, ensure_ascii=False, sort_keys=True),
            "explanation": json.dumps(self.explanation, ensure_ascii=False),
        }


# --- reading the file -----------------------------------------------------------------------------------


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_facts(
    households: Iterable[Household], fiscal_year: int, on: dt.date | None = None
) -> dict[int, Facts]:
    """The facts of many households for the rent of fiscal_year from day on (1 April by default), by id."""
    on = on or masters_service.fiscal_year_start(fiscal_year)
    facts = {h.id: Facts(h) for h in households}
    ids = list(facts)
    for chunk in _chunks(ids):
        covering = (
            Tenancy.select(Tenancy, Unit, Building)
            .join(Unit)
            .join(Building)
            .where(
                Tenancy.household.in_(chunk)
                & (Tenancy.move_in_date <= on)
                & (Tenancy.move_out_date.is_null() | (Tenancy.move_out_date >= on))
            )
            .order_by(Tenancy.move_in_date, Tenancy.id)
        )
        for tenancy in covering:  # the latest covering tenancy wins (a transfer on the day itself)
            item = facts[tenancy.household_id]
            item.tenancy, item.unit, item.building = tenancy, tenancy.unit, tenancy.unit.building
        units = {f.unit.id for f in (facts[h] for h in chunk) if f.unit is not None}
        figures = {
            row.unit_id: row
            for row in UnitYearFigure.select().where(
                UnitYearFigure.unit.in_(list(units)) & (UnitYearFigure.fiscal_year == fiscal_year)
            )
        }
        for hid in chunk:
            item = facts[hid]
            if item.unit is not None:
                item.figure = figures.get(item.unit.id)
        for row in IncomeDeclaration.select(
            IncomeDeclaration.id,
            IncomeDeclaration.household,
            IncomeDeclaration.fiscal_year,
            IncomeDeclaration.income_year,
            IncomeDeclaration.status,
            IncomeDeclaration.seirei_getsushu,
        ).where(IncomeDeclaration.household.in_(chunk) & (IncomeDeclaration.fiscal_year < fiscal_year)):
            facts[row.household_id].declarations[row.fiscal_year] = row
        for row in Certification.select(Certification.household, Certification.years_over).where(
            Certification.household.in_(chunk)
            & (Certification.fiscal_year == fiscal_year - 1)
            & (Certification.kind == "over_income")
            & (Certification.state == "certified")
        ):
            facts[row.household_id].years_over_before = row.years_over
        for row in (
            RentDecision.select()
            .where(
                RentDecision.household.in_(chunk)
                & (RentDecision.state == "approved")
                & (RentDecision.fiscal_year.between(fiscal_year - 1, fiscal_year))
            )
            .order_by(RentDecision.effective_from, RentDecision.id)
        ):
            item = facts[row.household_id]
            if row.effective_from < on and row.fiscal_year == fiscal_year - 1:
                item.in_force = row
            elif row.effective_from == on:
                item.decided = row
        _move_in_of([facts[hid] for hid in chunk])
    return facts


def _move_in_of(items: list[Facts]) -> None:
    """Facts.move_in: the decision in force when it is a move-in decision, or the move-in decision it
    replaces through its supersedes chain (a correction 更正 of the move-in decision still stands for
    the 政令月収 at move-in, so the next run must not report the household as having none)."""
    waiting: dict[int, list[Facts]] = {}
    for item in items:
        decision = item.in_force
        if decision is None:
            continue
        if decision.kind == "move_in":
            item.move_in = decision
        elif decision.supersedes_id is not None:
            waiting.setdefault(decision.supersedes_id, []).append(item)
    seen: set[int] = set()
    while waiting:
        seen |= set(waiting)
        rows = RentDecision.select(RentDecision.id, RentDecision.kind, RentDecision.supersedes).where(
            RentDecision.id.in_(list(waiting))
        )
        following: dict[int, list[Facts]] = {}
        for row in rows:
            if row.kind == "move_in":
                for item in waiting[row.id]:
                    item.move_in = row
            elif row.supersedes_id is not None and row.supersedes_id not in seen:
                following.setdefault(row.supersedes_id, []).extend(waiting[row.id])
        waiting = following


def decision_in_force(household, on: dt.date) -> RentDecision | None:
    """The approved decision in force on a day (the latest that took effect on or before it)."""
    return (
        RentDecision.select()
        .where(
            (RentDecision.household == household)
            & (RentDecision.state == "approved")
            & (RentDecision.effective_from <= on)
        )
        .order_by(RentDecision.effective_from.desc(), RentDecision.id.desc())
        .first()
    )


# --- computing ------------------------------------------------------------------------------------------


def _date(day: dt.date) -> str:
    return f"{wareki.to_wareki(day)}({day.isoformat()})"


def _coef(value) -> str:
    text = f"{value:f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def compute(
    household: Household,
    fiscal_year: int,
    *,
    on: dt.date | None = None,
    masters: rules.RentMasters | None = None,
) -> Computation:
    """The rent of household for fiscal_year from day on (1 April by default); nothing is written.

    Incomplete when the file does not allow it (no dwelling on the day, the unit's figures for the
    year missing, no declaration at all); masters.MasterMissing when the year's masters are missing.
    """
    masters = masters or masters_service.rent_masters(fiscal_year)
    facts = load_facts([household], fiscal_year, on)[household.id]
    return compute_from(facts, fiscal_year, masters, on=on)


def compute_from(
    facts: Facts, fiscal_year: int, masters: rules.RentMasters, *, on: dt.date | None = None
) -> Computation:
    """compute() on facts already loaded (load_facts): the yearly run computes a batch this way."""
    on = on or masters_service.fiscal_year_start(fiscal_year)
    household = facts.household
    if facts.tenancy is None:
        raise Incomplete("no_tenancy", f"{_date(on)}に入居中の住戸がありません")
    unit, building = facts.unit, facts.building
    if facts.figure is None:
        raise Incomplete(
            "no_figures",
            f"住戸 {unit.housing_code} の{wareki.fiscal_year_label(fiscal_year)}の近傍同種家賃・利便性係数が"
            "登録されていません",
        )
    facts_of_unit = rules.UnitFacts(
        floor_area=unit.floor_area,
        structure=building.structure,
        age_years=max(0, fiscal_year - building.year_built),
        convenience_coefficient=facts.figure.convenience_coefficient,
        market_rent=facts.figure.market_rent,
    )
    years_resided = age_at(household.first_move_in_date, on)
    category = household.category

    # 政令月収: last year's declaration, else the move-in decision's, else 未申告.
    declaration = facts.declarations.get(fiscal_year - 1)
    seirei, source, declared = None, None, True
    in_force = facts.in_force
    move_in = facts.move_in or (in_force if in_force is not None and in_force.kind == "move_in" else None)
    if declaration is not None and declaration.status in FIGURE_STATUSES:
        if declaration.seirei_getsushu is None:
            raise Incomplete(
                "no_figures_declared",
                f"{wareki.fiscal_year_label(fiscal_year - 1)}の収入申告は"
                f"{DECLARATION_LABELS[declaration.status]}ですが政令月収が計算されていません",
            )
        seirei, source = declaration.seirei_getsushu, "declaration"
    elif declaration is not None:
        declared = False
    elif in_force is not None and move_in is not None and in_force.seirei_getsushu is not None:
        seirei, source = in_force.seirei_getsushu, "move_in"
    else:
        raise Incomplete(
            "no_declaration",
            f"{wareki.fiscal_year_label(fiscal_year - 1)}の収入申告の記録も入居時の政令月収もありません",
        )

    previous: list[int] = []
    back = fiscal_year - 2
    while (row := facts.declarations.get(back)) is not None and row.seirei_getsushu is not None:
        if row.status not in FIGURE_STATUSES:
            break
        previous.append(row.seirei_getsushu)
        back -= 1

    try:
        result = rules.decide(
            seirei,
            facts_of_unit,
            category=category,
            years_resided=years_resided,
            previous=tuple(previous),
            masters=masters,
            years_over_before=facts.years_over_before,
            declared=declared,
        )
    except ValueError as exc:
        raise Incomplete("invalid_facts", f"住戸 {unit.housing_code}: {exc}") from None

    steps = [
        f"{wareki.fiscal_year_label(fiscal_year)}の家賃(適用開始 {_date(on)})",
        f"住戸: 床面積 {_coef(unit.floor_area)}㎡、{rules.STRUCTURES[building.structure]}、"
        f"建設 {building.year_built}年度(経過年数 {facts_of_unit.age_years}年)、"
        f"利便性係数 {_coef(facts_of_unit.convenience_coefficient)}、近傍同種家賃 {facts_of_unit.market_rent:,}円",
        f"世帯区分 {CATEGORY_LABELS.get(category, category)}、当初入居日 {_date(household.first_move_in_date)}、"
        f"入居{years_resided}年({on.month}月{on.day}日現在)",
    ]
    if source == "declaration":
        steps.append(
            f"政令月収 {seirei:,}円({wareki.fiscal_year_label(fiscal_year - 1)}の収入申告・"
            f"{declaration.income_year}年分の収入、{DECLARATION_LABELS[declaration.status]})"
        )
    elif source == "move_in" and in_force.id != move_in.id:
        steps.append(
            f"政令月収 {seirei:,}円(入居時の家賃決定を更正した決定による。入居後の収入申告はまだありません)"
        )
    elif source == "move_in":
        steps.append(f"政令月収 {seirei:,}円(入居時の家賃決定による。入居後の収入申告はまだありません)")
    else:
        steps.append(
            f"{wareki.fiscal_year_label(fiscal_year - 1)}の収入申告: {DECLARATION_LABELS[declaration.status]}"
        )
    relevant = result.status in ("over_income", "high_income") or (seirei or 0) > masters.income_limit(
        category
    )
    if previous and relevant:
        earlier = "、".join(
            f"{wareki.fiscal_year_label(fiscal_year - 2 - index)}申告 {value:,}円"
            for index, value in enumerate(previous[:4])
        )
        steps.append(f"前年までの政令月収: {earlier}")
    if facts.years_over_before is not None and relevant:
        steps.append(
            f"{wareki.fiscal_year_label(fiscal_year - 1)}の収入超過者認定: 超過{facts.years_over_before}年目"
        )
    steps.extend(result.explanation)

    used = dict(masters.used)
    used["unit_year_figure"] = f"id={facts.figure.id} unit={unit.id} fiscal_year={fiscal_year}"
    if declaration is not None:
        used["income_declaration"] = f"id={declaration.id} fiscal_year={declaration.fiscal_year}"
    elif source == "move_in" and in_force.id != move_in.id:
        used["rent_decision"] = f"id={in_force.id} (correction of move_in id={move_in.id})"
    elif source == "move_in":
        used["rent_decision"] = f"id={in_force.id} (move_in)"

    over_test = high_test = None
    if seirei is not None:
        over_test = certification_rules.over_income(seirei, category, years_resided, masters)
        high_test = certification_rules.high_income(seirei, previous, years_resided, masters)
    return Computation(
        household_id=household.id,
        fiscal_year=fiscal_year,
        effective_from=on,
        tenancy_id=facts.tenancy.id,
        unit_id=unit.id,
        estate_id=building.estate_id,
        housing_code=unit.housing_code,
        category=category,
        years_resided=years_resided,
        first_move_in_date=household.first_move_in_date,
        declaration_id=declaration.id if declaration is not None else None,
        declaration_status=declaration.status if declaration is not None else None,
        seirei_source=source,
        previous=tuple(previous),
        years_over_before=facts.years_over_before,
        unit=facts_of_unit,
        masters=masters,
        result=result,
        explanation=steps,
        masters_used=used,
        in_force=in_force,
        over_income_test=over_test,
        high_income_test=high_test,
    )


# --- recording ------------------------------------------------------------------------------------------


def write_decision(
    household,
    computation: Computation,
    kind: str,
    *,
    run=None,
    supersedes: RentDecision | None = None,
    state: str = "draft",
    decided_on: dt.date | None = None,
    approved_by=None,
    objection_deadline: dt.date | None = None,
    with_deposit: bool | None = None,
) -> RentDecision:
    """Record a computation as a RentDecision (a draft unless state says otherwise) and return it.

    Call inside the caller's transaction, which also writes the audit entry: this records the row only.
    The unique index (one draft or approved decision per household and start date) raises
    IntegrityError for a second one; a correction first marks the decision it replaces superseded.
    with_deposit: record the 敷金 (default: for a move-in decision).
    """
    if kind not in {"annual", "move_in", "correction", "change"}:
        raise ValueError(f"unknown decision kind {kind!r}")
    if int(getattr(household, "id", household)) != computation.household_id:
        raise ValueError("the computation is of another household")
    values = computation.decision_values()
    if with_deposit if with_deposit is not None else kind == "move_in":
        values["deposit"] = rules.deposit(computation.result.rent, computation.masters)[0]
    return RentDecision.create(
        **values,
        run=run,
        kind=kind,
        state=state,
        supersedes=supersedes,
        decided_on=decided_on,
        approved_by=approved_by,
        objection_deadline=objection_deadline,
    )
