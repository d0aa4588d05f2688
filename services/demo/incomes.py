"""The incomes of a demo household: revenues aimed at a 政令月収, declarations, certifications, welfare."""

from __future__ import annotations

import datetime as dt
import json

from models import (
    Certification,
    EvictionRequest,
    IncomeDeclaration,
    MemberIncome,
    RentDecision,
    WelfarePeriod,
)
from rules import rent as rent_rules
from rules import wareki
from rules.income import Member, age_at
from services.demo.base import Mem, add_months, disability_level
from services.demo.city import ELDERLY_KINDS
from services.demo.money import explanation_json, masters_json

# 生活保護 住宅扶助 の上限額 (川崎市, 1級地-1) by household size; the aid is the rent up to this amount.
HOUSING_AID_LIMIT = {1: 53_700, 2: 64_000, 3: 69_800, 4: 69_800, 5: 69_800, 6: 75_000}
# Target 収入分位 weights (1..8) for households that live on pensions, working households, single parents.
BRACKETS_ELDERLY = (92, 4, 2, 1, 0.5, 0.3, 0.1, 0.1)
BRACKETS_WORKING = (56, 14, 12, 9, 4, 2, 2, 1)
BRACKETS_SINGLE_PARENT = (75, 10, 7, 5, 2, 1, 0, 0)


class IncomeMixin:
    """Part of HouseholdMaker: incomes, 収入申告, 収入超過者・高額所得者 certification, 生活保護."""

    def target_seirei(self, kind: str, forced: str | None, welfare: bool) -> int | None:
        """The 政令月収 aimed at for the latest income year, or None to let pensions decide."""
        rng = self.rng
        if welfare:
            return 0
        if forced == "high":
            return rng.randint(335_000, 450_000)
        if forced and forced.startswith("b"):
            bracket = int(forced[1:])
        else:
            weights = BRACKETS_ELDERLY if kind in ELDERLY_KINDS else BRACKETS_WORKING
            if kind == "single_parent":
                weights = BRACKETS_SINGLE_PARENT
            bracket = rng.choices(range(1, 9), weights)[0]
            if bracket == 1 and kind in ELDERLY_KINDS:
                return None
        band = self.money.bands[bracket - 1]
        low = band.income_min + 2_000 if bracket > 1 else 15_000
        high = (band.income_max or 305_000) - 2_000
        return rng.randint(low, high)

    def assign_incomes(self, kind, members: list[Mem], target: int | None, welfare: bool, forced) -> None:
        """Revenues for both income years: everyone's natural income, then the head's to meet the target."""
        rng = self.rng
        as_of = self.as_of
        first_year, last_year = self.fy - 2, self.fy - 1
        for member in members[1:]:
            age = age_at(member.birth, as_of)
            if age >= 65:
                member.pension = rng.randrange(600_000, 1_500_000, 1000)
            elif member.relation == "spouse" and self.chance(0.4):
                member.salary = rng.randrange(600_000, 1_300_000, 1000)  # part-time (パート)
            elif member.relation == "child" and 19 <= age <= 22 and self.chance(0.5):
                member.salary = rng.randrange(300_000, 900_000, 1000)  # student side job
            elif member.relation == "child" and age >= 23:
                member.salary = rng.randrange(1_500_000, 4_200_000, 1000)
            if (
                member.disability
                and member.disability[1] in ("1", "2", "A1", "A2")
                and age >= 20
                and self.chance(0.5)
            ):
                member.non_taxable = rng.randrange(800_000, 1_000_000, 1000)  # 障害年金 (non-taxable)
        head = members[0]
        head_age = age_at(head.birth, as_of)
        working_head = head_age < 65 or (head_age < 75 and self.chance(0.2))
        if head_age >= 65:
            base = 1_200_000 if head.sex == "male" else 700_000
            head.pension = rng.randrange(base, base + 1_400_000, 1000)
            if kind == "elderly_single" and head.sex == "female" and self.chance(0.4):
                head.non_taxable = rng.randrange(600_000, 1_400_000, 1000)  # 遺族年金 (non-taxable)
        if welfare:
            head.salary = 0
            head.pension = min(head.pension, rng.randrange(0, 900_000, 1000))
            for member in members[1:]:
                member.salary = min(member.salary, 500_000)
        elif target is not None:
            self.meet_target(members, target, working_head or head_age < 65)
        elif head_age < 65:
            head.salary = rng.randrange(1_000_000, 2_600_000, 1000)
        # The earlier income year: wages a little lower, pensions before the 2025 increase (+2.7%).
        steady = forced == "high"
        for member in members:
            drift = rng.uniform(0.99, 1.01) if steady else rng.uniform(0.93, 1.03)
            member.incomes[last_year] = (member.salary, member.pension, member.other, member.non_taxable)
            member.incomes[first_year] = (
                int(member.salary * drift) // 1000 * 1000,
                int(member.pension / 1.027) // 1000 * 1000,
                int(member.other * drift) // 1000 * 1000,
                member.non_taxable,
            )

    def meet_target(self, members: list[Mem], target: int, by_salary: bool) -> None:
        """Set the head's revenue so the household's 政令月収 lands near target (the rules have the last word)."""
        rng = self.rng
        head = members[0]
        income_year = self.fy - 1
        year = self.money.years[income_year]
        age = age_at(head.birth, year.masters.reference_date())
        if by_salary and age < 65:
            head.pension = 0
        side = 0
        if self.chance(0.05):  # some of it as 事業・不動産所得
            side = rng.randrange(100_000, 800_000, 1000)
        trial = self.compute(members, income_year, head_revenue=(0, 0))
        others = sum(r.income for r in trial.members[1:])
        # The head's own 控除ヘ (and ホ, capped at his income) appear once he has an income.
        needed = target * 12 + rng.randint(0, 11) + trial.total_deduction + 100_000 - others
        for _ in range(3):
            if needed <= 0:
                head.salary, head.other = 0, 0
                return
            head.other = min(side, needed // 3)
            rest = needed - head.other
            if by_salary:
                pension = year.pension_income(head.pension, age) if head.pension else 0
                head.salary = year.salary_for(max(0, rest - pension))
            else:
                head.pension = year.pension_for(rest, age)
            gap = target - self.compute(members, income_year).seirei_getsushu
            if abs(gap) <= 1_000:
                return
            needed += gap * 12

    def rules_members(self, members: list[Mem], income_year: int, head_revenue=None) -> list[Member]:
        """The household as rules/income.py sees it for an income year (the head first)."""
        year = self.money.years[income_year]
        reference = year.masters.reference_date()
        out = []
        for index, member in enumerate(members):
            salary, pension, other, _ = member.incomes.get(
                income_year, (member.salary, member.pension, member.other, member.non_taxable)
            )
            if index == 0 and head_revenue is not None:
                salary, pension = head_revenue
            age = age_at(member.birth, reference)
            income = year.salary_income(salary) + year.pension_income(pension, age) + other
            head = members[0]
            single_parent = (
                index == 0
                and any(m.relation == "child" and age_at(m.birth, reference) < 20 for m in members)
                and not any(m.relation == "spouse" for m in members)
                and income <= 5_000_000
            )
            widow = index == 0 and not single_parent and head.sex == "female" and head.widowed
            out.append(
                Member(
                    relation=member.relation,
                    birth_date=member.birth,
                    salary_revenue=salary,
                    pension_revenue=pension,
                    other_income=other,
                    disability=disability_level(member.disability),
                    widow=widow and income <= 5_000_000,
                    single_parent=single_parent,
                    dependent=index > 0 and income <= year.dependent_limit,
                )
            )
        return out

    def move_in_bracket(self, members: list[Mem]) -> int:
        """収入分位 from the latest incomes, for a household that moved in after the last declaration."""
        return self.money.bracket(self.move_in_seirei(members)).bracket

    def move_in_seirei(self, members: list[Mem]) -> int:
        """政令月収 from the latest incomes (what the application declared at move-in)."""
        return self.compute(members, self.fy - 1).seirei_getsushu

    def decide_rent(self, unit, in_force, members, category, first_move_in, over, high, years_over, latest):
        """This fiscal year's rent by rules/rent.py from the declaration in force (or the move-in incomes).

        The status follows the certifications made above: the certified years over carry into the rules,
        and a 高額所得者 (certified on its latest declaration, also above the limit) has that as the other year.
        """
        masters = self.money.rent_masters
        facts = rent_rules.UnitFacts(
            floor_area=unit.area,
            structure=unit.structure,
            age_years=max(0, self.fy - unit.year_built),
            convenience_coefficient=unit.convenience,
            market_rent=unit.market,
        )
        seirei = in_force[0]
        if in_force[2] == "move_in":
            seirei = self.move_in_seirei(members)
        years = max(0, age_at(first_move_in, dt.date(self.fy, 4, 1)))  # 0 when it moved in since
        return rent_rules.decide(
            seirei if in_force[1] is not None else None,
            facts,
            category=category,
            years_resided=years,
            previous=(latest,) if high else (),
            masters=masters,
            years_over_before=years_over - 1 if over else None,
            declared=in_force[1] is not None,
        )

    def rent_decision(self, household_id, tenancy_id, unit, result, in_force) -> None:
        """The approved 家賃決定 in force this fiscal year: the annual one, or the move-in one when the
        household moved in (or transferred) after 1 April."""
        fy_start = dt.date(self.fy, 4, 1)
        moved_in = self.current_move_in
        kind = "move_in" if moved_in > fy_start else "annual"
        effective = max(fy_start, moved_in)
        decided_on = moved_in - dt.timedelta(days=14) if kind == "move_in" else dt.date(self.fy, 2, 10)
        masters = self.money.rent_masters
        source = (
            "入居時の申告"
            if in_force[2] == "move_in"
            else f"{wareki.fiscal_year_label(self.fy - 1)}の収入申告"
        )
        steps = [
            f"{wareki.fiscal_year_label(self.fy)}の家賃(適用開始 {wareki.to_wareki(effective)})",
            f"住戸: 近傍同種家賃 {unit.market:,}円、利便性係数 {unit.convenience}",
        ]
        if result.seirei_getsushu is not None:
            steps.append(f"政令月収 {result.seirei_getsushu:,}円({source})")
        used = dict(masters.used)
        used["unit_year_figure"] = f"unit={unit.id} fiscal_year={self.fy}"
        self.writer.add(
            RentDecision,
            household=household_id,
            tenancy=tenancy_id,
            unit=unit.id,
            fiscal_year=self.fy,
            kind=kind,
            effective_from=effective,
            seirei_getsushu=result.seirei_getsushu,
            bracket=result.bracket,
            base_amount=result.base_amount,
            standard_rent=result.standard_rent,
            market_rent=result.market_rent,
            rent_status=result.status,
            years_over=result.years_over,
            rent=max(result.rent, 100),
            deposit=rent_rules.deposit(result.rent, masters)[0] if kind == "move_in" else None,
            state="approved",
            decided_on=decided_on,
            objection_deadline=decided_on + dt.timedelta(days=30),
            masters_used=json.dumps(used, ensure_ascii=False, sort_keys=True),
            explanation=json.dumps(steps + result.explanation, ensure_ascii=False),
        )

    def compute(self, members: list[Mem], income_year: int, head_revenue=None):
        """The rules' HouseholdIncome for the members in an income year."""
        return self.money.years[income_year].compute(self.rules_members(members, income_year, head_revenue))

    def declarations(self, household_id, members, category, forced, head, former) -> dict:
        """IncomeDeclaration and MemberIncome rows for the two fiscal years: {fy: (seirei, bracket, status)}."""
        rng = self.rng
        out = {}
        for fiscal_year in self.declaration_years:
            income_year = fiscal_year - 1
            sent_on = dt.date(fiscal_year, 6, 20)
            if sent_on > self.as_of or head.member_from > sent_on:
                continue  # not sent yet, or the household moved in afterwards (rent decided at move-in)
            if forced:
                status = "submitted"
            elif fiscal_year == self.fy:
                status = rng.choices(
                    ("submitted", "tax_certified", "reminded", "not_submitted"), (88, 3, 5, 4)
                )[0]
            else:
                status = rng.choices(("submitted", "tax_certified", "not_submitted"), (95, 4, 1))[0]
            submitted_on = reminded_on = None
            if status == "submitted":
                submitted_on = self.day_between(dt.date(fiscal_year, 7, 1), dt.date(fiscal_year, 7, 31))
                if submitted_on > self.as_of:
                    status, submitted_on = "sent", None
            elif status in ("reminded", "tax_certified"):
                reminded_on = dt.date(fiscal_year, 8, 20)
                if reminded_on > self.as_of:
                    status, reminded_on = "sent", None
            declaration_id = self.writer.new_id(IncomeDeclaration)
            row = {
                "id": declaration_id,
                "household": household_id,
                "fiscal_year": fiscal_year,
                "income_year": income_year,
                "status": status,
                "sent_on": sent_on,
                "submitted_on": submitted_on,
                "reminded_on": reminded_on,
            }
            seirei = bracket = None
            if status in ("submitted", "tax_certified"):
                included = [m for m in members if m.member_from <= sent_on]
                rules_members = self.rules_members(included, income_year)
                result = self.money.years[income_year].compute(rules_members)
                band = self.money.bracket(result.seirei_getsushu)
                seirei, bracket = result.seirei_getsushu, band.bracket
                computed = submitted_on or dt.date(fiscal_year, 9, 10)
                row.update(
                    source="self" if status == "submitted" else "tax",
                    total_income=result.total_income,
                    total_deduction=result.total_deduction,
                    seirei_getsushu=seirei,
                    bracket=bracket,
                    masters_used=masters_json(self.money.years[income_year].masters),
                    explanation=explanation_json(result),
                    computed_at=dt.datetime(computed.year, computed.month, computed.day, 1, 30),  # 10:30 JST
                )
                for member, given, figures in zip(included, rules_members, result.members, strict=True):
                    self.writer.add(
                        MemberIncome,
                        declaration=declaration_id,
                        person=member.id,
                        salary_revenue=given.salary_revenue,
                        pension_revenue=given.pension_revenue,
                        other_income=given.other_income,
                        non_taxable_revenue=member.incomes[income_year][3],
                        salary_income=figures.salary_income,
                        pension_income=figures.pension_income,
                        income_amount=figures.income,
                        deduction_amount=figures.deduction,
                        is_dependent=given.dependent,
                        is_widow=given.widow,
                        is_single_parent=given.single_parent,
                        disability=given.disability,
                    )
            self.writer.add(IncomeDeclaration, **row)
            out[fiscal_year] = (seirei, bracket, status)
        return out

    def certify(self, household_id, declarations, category, first_move_in, forced):
        """収入超過者 (法28条) and 高額所得者 (法29条) certifications for this fiscal year, from the declarations.

        The certification in force for fiscal year N rests on the declaration of fiscal year N−1 (incomes
        of N−2), made the winter before; 高額所得者 also needs the latest declaration above the limit.
        """
        previous = declarations.get(self.fy - 1, (None, None, None))[0]
        latest = declarations.get(self.fy, (None, None, None))[0]
        if previous is None:
            return False, False, 0, 0
        fy_start = dt.date(self.fy, 4, 1)
        resident_years = age_at(first_move_in, fy_start)
        over = previous > self.money.income_limit(category) and resident_years >= 3
        high = (
            over
            and resident_years >= 5
            and previous > self.money.limit_high
            and latest is not None
            and latest > self.money.limit_high
        )
        if not over:
            return False, False, 0, previous
        years_over = self.rng.randint(2 if high else 1, min(6, resident_years - 2))
        certified_on = dt.date(self.fy, 1, 25)
        self.writer.add(
            Certification,
            household=household_id,
            fiscal_year=self.fy,
            kind="over_income",
            seirei_getsushu=previous,
            years_over=years_over,
            state="certified",
            certified_on=certified_on,
        )
        self.stats["over_income"] += 1
        if high:
            self.writer.add(
                Certification,
                household=household_id,
                fiscal_year=self.fy,
                kind="high_income",
                seirei_getsushu=previous,
                years_over=years_over,
                state="certified",
                certified_on=certified_on,
            )
            self.stats["high_income"] += 1
            requested = dt.date(self.fy, 6, 15)
            if requested <= self.as_of and self.chance(0.5):
                # 法29条3項: the deadline is at least 6 months after the day after the request.
                self.writer.add(
                    EvictionRequest,
                    household=household_id,
                    ground="high_income",
                    requested_on=requested,
                    deadline=add_months(requested + dt.timedelta(days=1), 6),
                    status="requested",
                )
        return over, high, years_over, previous

    def welfare(self, head: Mem, members: list[Mem], first_move_in: dt.date, rent: int) -> bool:
        """A 生活保護 period on the head; welfare pays the rent directly (代理納付) for about half."""
        rng = self.rng
        start = self.day_between(max(first_move_in, dt.date(2000, 4, 1)), self.as_of - dt.timedelta(days=60))
        ended = self.chance(0.2) and start < self.as_of - dt.timedelta(days=240)
        end = (
            self.day_between(start + dt.timedelta(days=180), self.as_of - dt.timedelta(days=30))
            if ended
            else None
        )
        proxy = not ended and self.chance(0.5)
        size = min(6, sum(1 for m in members if m.current()))
        self.writer.add(
            WelfarePeriod,
            person=head.id,
            start_date=start,
            end_date=end,
            housing_aid=min(rent, HOUSING_AID_LIMIT[size]),
            proxy_payment=proxy,
            case_number=f"{rng.randint(1, 7):02d}-{rng.randrange(10**5):05d}",
        )
        return proxy
