"""One household of the demo city with everything the tenant file keeps about it.

Members with names, kana and ages that fit their relations; tenancies (with transfers), events,
guarantors, bank-transfer registrations, parking, two years of income declarations, certifications,
a year of charges and payments (with arrears and the actions taken), and each member's My Number
stored only as ciphertext and blind index.
"""

from __future__ import annotations

import datetime as dt

from faker import Faker

from models import (
    BankTransfer,
    Guarantor,
    Household,
    HouseholdEvent,
    ParkingContract,
    Person,
    PersonalNumber,
    Tenancy,
    Vehicle,
)
from rules import mynumber
from rules.income import age_at
from rules.kana import search_key, to_bank_kana
from services import mynumber as mynumber_service
from services.demo import places
from services.demo.base import IDEOGRAPHIC_SPACE, Mem, add_months, add_years, qualifies_special
from services.demo.billing import BillingMixin
from services.demo.city import ELDERLY_KINDS, City, CityPlan, UnitInfo
from services.demo.incomes import IncomeMixin
from services.demo.money import Money
from services.demo.writer import BulkWriter

# Where a My Number's ciphertext is bound (associated data table|column|row id|key id, services/vault.py):
# the personal_number row's own id.

# Chance that a household of each kind keeps a car.
CAR_CHANCE = {
    "elderly_single": 0.08,
    "elderly_couple": 0.3,
    "single": 0.25,
    "couple": 0.55,
    "family": 0.6,
    "single_parent": 0.4,
    "three_generation": 0.7,
    "elderly_with_child": 0.45,
    "large_family": 0.7,
}
WELFARE_CHANCE = {
    "elderly_single": 0.22,
    "single": 0.25,
    "single_parent": 0.25,
    "elderly_couple": 0.08,
    "elderly_with_child": 0.1,
}


class HouseholdMaker(IncomeMixin, BillingMixin):
    """Makes households one by one into a BulkWriter; all randomness from one seeded Random and Faker."""

    def __init__(
        self, plan: CityPlan, city: City, money: Money, writer: BulkWriter, keyring, rng, fake: Faker
    ):
        self.plan = plan
        self.city = city
        self.money = money
        self.writer = writer
        self.keyring = keyring
        self.rng = rng
        self.fake = fake
        self.as_of = plan.as_of
        self.fy = plan.fiscal_year
        self.declaration_years = (self.fy - 1, self.fy)  # fiscal years; income years one earlier
        last = self.as_of.replace(day=1)
        self.months = [add_months(last, -k) for k in range(11, -1, -1)]  # the year of charges
        self.my_numbers: set[str] = set()
        self.banks, self.bank_weights = places.bank_branches()
        self.kanagawa, self.tokyo = places.region_places()
        vehicles = places.VEHICLES
        self.vehicles = vehicles
        self.vehicle_weights = [v[3] for v in vehicles]
        self.stats = {"over_income": 0, "high_income": 0, "arrears": 0}

    # --- small helpers --------------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.rng.random() < p

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        """A random day from start to end (start when the range is empty)."""
        if end <= start:
            return start
        return start + dt.timedelta(days=self.rng.randint(0, (end - start).days))

    def near(self, day: dt.date, years: int) -> dt.date:
        """A day about `years` from another (a random day of that year): birthdays of relatives differ."""
        return add_years(day, years) + dt.timedelta(days=self.rng.randint(-180, 180))

    def birth_for_age(self, age: int) -> dt.date:
        """A birth date for someone this old on as_of."""
        return self.as_of - dt.timedelta(days=round(age * 365.2425) + self.rng.randint(0, 364))

    def mobile(self) -> str:
        """A mobile number, digits only."""
        return self.rng.choice(("090", "080", "070")) + f"{self.rng.randrange(10**8):08d}"

    def landline(self) -> str:
        """A Kawasaki (044) landline number, digits only."""
        return f"044{self.rng.randint(200, 999)}{self.rng.randrange(10**4):04d}"

    def given_name(self, sex: str, foreign) -> tuple[str, str]:
        """A given name (漢字 or Latin, カナ) for the sex and nationality."""
        if foreign is not None and foreign[3] is not None:
            return self.rng.choice(foreign[3])
        first, kana, _ = (
            self.fake.first_name_male_pair() if sex == "male" else self.fake.first_name_female_pair()
        )
        return first, kana

    def family_name(self, foreign) -> tuple[str, str]:
        """A family name (漢字 or Latin, カナ) for the nationality."""
        if foreign is not None:
            return self.rng.choice(foreign[2])
        last, kana, _ = self.fake.last_name_pair()
        return last, kana

    def my_number(self) -> str:
        """A valid My Number not yet given to anyone in this build."""
        while True:
            number = mynumber.generate(self.rng)
            if number not in self.my_numbers:
                self.my_numbers.add(number)
                return number

    # --- one household --------------------------------------------------------------------------------
    def make(self, index: int) -> None:
        """Buffer every row of household `index` of the plan in the writer."""
        kind, n_current, former = self.plan.households[index]
        forced = self.plan.forced.get(index)
        unit = self.city.occupied[index]
        estate = self.city.estates[unit.estate]
        rng = self.rng
        as_of = self.as_of

        foreign = None
        if forced is None and self.chance(0.03):
            nationalities = places.FOREIGN
            foreign = rng.choices(nationalities, [n[1] for n in nationalities])[0]
        family = self.family_name(foreign)

        long_resident = forced in ("high", "b5", "b6", "b7", "b8")
        members = self.compose(kind, n_current, foreign, min_head_age=42 if long_resident else 0)
        head = members[0]

        # 当初入居日: 1975 or later, the head an adult; households with a story before the charges began
        # (former members, transfers, long-resident forced cases) moved in earlier.
        earliest = max(dt.date(1975, 4, 1), add_years(head.birth, 20))
        latest = as_of - dt.timedelta(days=40)
        if former or long_resident:
            latest = min(latest, dt.date(self.fy - 7, 3, 31))
        if kind in ELDERLY_KINDS:
            latest = min(latest, max(earliest, add_years(head.birth, 78)))
        if forced == "fixed":
            earliest = max(earliest, add_years(as_of, -8))
        first_move_in = self.day_between(earliest, max(earliest, latest))
        for member in members:
            member.member_from = max(first_move_in, member.birth)
        # Some spouses and parents joined later (同居承認).
        joined = [m for m in members[1:] if m.relation in ("spouse", "parent") and self.chance(0.1)]
        for member in joined:
            member.member_from = self.day_between(first_move_in, as_of - dt.timedelta(days=400))

        formers = self.formers(former, head, family, foreign, first_move_in)
        head.widowed = "spouse_deceased" in former
        everyone = members + formers
        for member in everyone:
            if member.disability is None and member.birth <= as_of - dt.timedelta(days=3 * 365):
                member.disability = self.disability(member)

        # 特認 (裁量階層), DV support, 定期使用許可.
        category, reason, support = "general", None, False
        reasons = []
        head_age = age_at(head.birth, as_of)
        others = members[1:]
        if head_age >= 60 and all(
            age_at(m.birth, as_of) >= 60 or age_at(m.birth, as_of) < 18 for m in others
        ):
            reasons.append("elderly")
        if any(qualifies_special(m.disability) for m in members):
            reasons.append("disability")
        if any(age_at(m.birth, as_of) < 15 for m in members):
            reasons.append("child")
        if forced == "dv":
            category, reason, support = "special", "dv_victim", True
        elif reasons and forced is None and self.chance(0.3):
            category, reason = "special", rng.choice(reasons)
        permit, permit_end = "normal", None
        if forced == "fixed":
            permit, permit_end = "fixed_term", add_years(first_move_in, 10)  # 子育て世帯向け期限付き入居

        welfare = forced is None and self.chance(WELFARE_CHANCE.get(kind, 0.03))
        transfer_on = None
        if forced is None and first_move_in < dt.date(self.fy - 3, 1, 1) and self.chance(0.06):
            transfer_on = self.day_between(add_years(first_move_in, 1), add_months(self.months[0], -2))

        household_id = self.writer.new_id(Household)
        for member in everyone:
            member.id = self.writer.new_id(Person)

        # Incomes of the two declarations, then rent and certifications.
        target = self.target_seirei(kind, forced, welfare)
        self.assign_incomes(kind, members, target, welfare, forced)
        declarations = self.declarations(household_id, members, category, forced, head, former)
        over, high, years_over, seirei_cert = self.certify(
            household_id, declarations, category, first_move_in, forced
        )
        # This year's rent rests on last year's declaration; a household that moved in since then had its
        # rent decided at move-in from the incomes it declared with its application.
        in_force = declarations.get(self.fy - 1)
        if in_force is None:
            in_force = (None, self.move_in_bracket(members), "move_in")
        # The rent by rules/rent.py: 未申告 → 近傍同種家賃 (SPEC §3.3), else 本来家賃, 収入超過者 or 高額所得者 as
        # certified above (the certified years over carried into the rules).
        latest = declarations.get(self.fy, (None,))[0]
        decided = self.decide_rent(
            unit, in_force, members, category, first_move_in, over, high, years_over, latest
        )
        rent = max(decided.rent, 100)
        current_decl = declarations.get(self.fy)
        declaration_category = "declared"
        if current_decl is not None and current_decl[1] is None and current_decl[2] != "sent":
            declaration_category = "undeclared"
        elif current_decl is not None and current_decl[2] == "tax_certified":
            declaration_category = "investigated"

        proxy = False
        if welfare:
            proxy = self.welfare(head, members, first_move_in, rent)

        # Mailing address elsewhere for a few (a relative or guardian handles the post).
        mail = {}
        if forced is None and not support and self.chance(0.02):
            place = rng.choice(self.kanagawa)
            relative = (
                f"{family[0]}{IDEOGRAPHIC_SPACE}{self.given_name(rng.choice(('male', 'female')), foreign)[0]}"
            )
            mail = {
                "mail_name": relative,
                "mail_postal_code": place.postal_code,
                "mail_address": place.address(rng.randint(1, 5), rng.randint(1, 30), rng.randint(1, 20)),
            }
        self.writer.add(
            Household,
            id=household_id,
            household_no=f"{household_id:08d}",
            first_move_in_date=first_move_in,
            category=category,
            special_reason=reason,
            permit_type=permit,
            permit_end_date=permit_end,
            contact_phone=head.phone,
            proxy_payment=proxy,
            declaration_category=declaration_category,
            over_income=over,
            high_income=high,
            support_measure=support,
            status="active",
            **mail,
        )
        address = f"{estate.address}{IDEOGRAPHIC_SPACE}{estate.name}{unit.building_no}号棟{unit.room}号室"
        for member in everyone:
            self.write_person(household_id, member, family, foreign, estate.place.postal_code, address)

        tenancy_id = self.tenancies(household_id, unit, first_move_in, transfer_on, rent)
        self.rent_decision(household_id, tenancy_id, unit, decided, in_force)
        self.events(household_id, head, members, formers, first_move_in, transfer_on)
        self.guarantors(household_id, head, family, first_move_in, support)
        rent_transfer = self.bank_transfers(household_id, head, members, first_move_in, proxy)
        contracts = self.parking(household_id, kind, members, estate, first_move_in, rent_transfer)
        self.charges(household_id, rent, proxy, rent_transfer, contracts, forced)

    # --- members ---------------------------------------------------------------------------------------
    def compose(self, kind: str, n_current: int, foreign, min_head_age: int = 0) -> list[Mem]:
        """The current members of a household of this kind, the head first."""
        rng = self.rng

        def head_age(low, high):
            return max(min_head_age, rng.randint(low, high))

        def person(relation, sex, age):
            return Mem(
                relation=relation, sex=sex, birth=self.birth_for_age(age), given=self.given_name(sex, foreign)
            )

        def children(head_age, count, youngest_parent_age=20, max_age=40):
            kids = []
            for _ in range(count):
                oldest = min(max_age, head_age - youngest_parent_age)
                age = rng.randint(0, max(0, oldest))
                kids.append(person("child", rng.choice(("male", "female")), age))
            return sorted(kids, key=lambda m: m.birth)

        members: list[Mem] = []
        if kind == "elderly_single":
            age = max(min_head_age, min(98, int(rng.triangular(65, 97, 78))))
            members.append(person("head", "female" if self.chance(0.65) else "male", age))
        elif kind in ("elderly_couple", "couple", "family", "three_generation", "large_family"):
            low, high = {
                "elderly_couple": (67, 92),
                "couple": (26, 64),
                "family": (27, 55),
                "three_generation": (34, 55),
                "large_family": (32, 50),
            }[kind]
            age = head_age(low, high)
            male_head = self.chance(0.85)
            head = person("head", "male" if male_head else "female", age)
            spouse_age = max(20, age + rng.randint(-6, 3) * (1 if male_head else -1))
            members += [head, person("spouse", "female" if male_head else "male", spouse_age)]
            if kind == "three_generation":
                members.append(
                    person("parent", rng.choice(("male", "female")), min(95, age + rng.randint(24, 34)))
                )
                members += children(age, n_current - 3, max_age=22)
            elif kind in ("family", "large_family"):
                members += children(age, n_current - 2, max_age=22)
        elif kind == "single":
            members.append(person("head", "male" if self.chance(0.6) else "female", head_age(30, 64)))
        elif kind == "single_parent":
            age = head_age(24, 55)
            members.append(person("head", "female" if self.chance(0.88) else "male", age))
            members += children(age, n_current - 1, max_age=19)
        elif kind == "elderly_with_child":
            age = head_age(66, 92)
            members.append(person("head", "female" if self.chance(0.6) else "male", age))
            for _ in range(n_current - 1):
                members.append(
                    person("child", rng.choice(("male", "female")), max(30, age - rng.randint(24, 36)))
                )
        members[0].is_head = True
        for member in members:
            adult = age_at(member.birth, self.as_of) >= 18
            if member.is_head:
                member.phone = self.landline() if self.chance(0.4) else self.mobile()
            elif adult and self.chance(0.5):
                member.phone = self.mobile()
        return members

    def formers(self, former, head: Mem, family, foreign, first_move_in: dt.date) -> list[Mem]:
        """Members who left or died before the income years (they appear in the history, not the incomes)."""
        rng = self.rng
        cutoff = dt.date(self.fy - 2, 12, 31)  # before the first income year's declaration
        out = []
        for what in former:
            if what in ("spouse_deceased", "spouse_left"):
                sex = "male" if head.sex == "female" else "female"
                birth = self.near(head.birth, rng.randint(-5, 3))
                member = Mem("spouse", sex, birth, self.given_name(sex, foreign), member_from=first_move_in)
                member.member_to = self.day_between(add_years(first_move_in, 1), cutoff)
                if what == "spouse_deceased":
                    member.leave_reason, member.deceased_on = "death", member.member_to
                    # Half the widowed heads took over the tenancy from the spouse (使用承継).
                    member.is_head = self.chance(0.5)
                else:
                    member.leave_reason = "other"
            elif what == "parent_deceased":
                sex = rng.choice(("male", "female"))
                birth = self.near(head.birth, -rng.randint(24, 34))
                member = Mem("parent", sex, birth, self.given_name(sex, foreign), member_from=first_move_in)
                member.member_to = self.day_between(add_years(first_move_in, 1), cutoff)
                member.leave_reason, member.deceased_on, member.is_head = "death", member.member_to, True
            else:  # child_left: a grown child, or for a young head a brother or sister, who moved out
                sex = rng.choice(("male", "female"))
                oldest_child = age_at(head.birth, cutoff) - 20  # born when the head was 20 or older
                if oldest_child >= 19:
                    birth = self.near(head.birth, rng.randint(20, min(34, 20 + oldest_child - 19)))
                    member = Mem("child", sex, birth, self.given_name(sex, foreign))
                else:
                    birth = self.near(head.birth, rng.randint(-6, 6))
                    member = Mem("sibling", sex, birth, self.given_name(sex, foreign))
                member.member_from = max(first_move_in, birth)
                leaving_from = max(member.member_from + dt.timedelta(days=1), add_years(birth, 18))
                member.member_to = self.day_between(leaving_from, max(leaving_from, cutoff))
                member.leave_reason = rng.choice(("moved_out", "moved_out", "marriage"))
                if self.chance(0.5):
                    member.family = self.family_name(foreign) if member.leave_reason == "marriage" else None
            if member.member_to is not None and member.member_to < member.member_from:
                member.member_to = member.member_from
                if member.deceased_on is not None:
                    member.deceased_on = member.member_to
            out.append(member)
        return out

    def disability(self, member: Mem) -> tuple[str, str] | None:
        """A 障害者手帳 (kind, grade) for some members, None for most."""
        rng = self.rng
        age = age_at(member.birth, self.as_of)
        if not self.chance(0.12 if age >= 65 else 0.06 if age >= 18 else 0.03):
            return None
        kind = rng.choices(
            ("physical", "mental", "intellectual"), (60, 25, 15) if age >= 18 else (25, 15, 60)
        )[0]
        if kind == "physical":
            grade = rng.choices(("1", "2", "3", "4", "5", "6"), (25, 15, 20, 25, 8, 7))[0]
        elif kind == "mental":
            grade = rng.choices(("1", "2", "3"), (15, 55, 30))[0]
        else:
            grade = rng.choices(("A1", "A2", "B1", "B2"), (15, 20, 30, 35))[0]
        return kind, grade

    def write_person(self, household_id, member: Mem, family, foreign, postal_code, address) -> None:
        """The Person row and its PersonalNumber (ciphertext and blind index only)."""
        last, last_kana = member.family or family
        first, first_kana = member.given
        latin = last.isascii()
        member.name = f"{last} {first}" if latin else f"{last}{IDEOGRAPHIC_SPACE}{first}"
        member.kana = f"{last_kana}{IDEOGRAPHIC_SPACE}{first_kana}"
        kind, grade = member.disability or (None, None)
        moved_away = member.leave_reason in ("moved_out", "marriage", "other")
        self.writer.add(
            Person,
            id=member.id,
            household=household_id,
            name=member.name,
            name_kana=member.kana,
            kana_key=search_key(member.kana),
            birth_date=member.birth,
            sex=member.sex,
            nationality=foreign[0] if foreign else "日本",
            postal_code=None if moved_away else postal_code,
            address=None if moved_away else address,
            phone=member.phone,
            relation=member.relation,
            is_head=member.is_head,
            member_from=member.member_from,
            member_to=member.member_to,
            leave_reason=member.leave_reason,
            deceased_on=member.deceased_on,
            disability_kind=kind,
            disability_grade=grade,
            # 宛名番号: 10 digits, unique (an injective scramble of the person id).
            atena_no=str((member.id * 7_919 + 1_234_567) % 9_000_000_000 + 1_000_000_000),
        )
        number_id = self.writer.new_id(PersonalNumber)
        number = self.my_number()
        blob, key_id = mynumber_service.encrypt_for(self.keyring, number, member.id)
        self.writer.add(
            PersonalNumber,
            id=number_id,
            person=member.id,
            ciphertext=blob,
            key_id=key_id,
            blind_index=self.keyring.blind_index(number),
            checked_against_document=self.chance(0.9),
        )

    # --- tenancy, events, guarantors, bank -------------------------------------------------------------
    def tenancies(self, household_id, unit: UnitInfo, first_move_in, transfer_on, rent) -> int:
        """The active tenancy, after an ended one on another unit for a household that transferred (住替え)."""
        deposit = self.money.deposit(rent)
        if transfer_on is not None:
            other = self.rng.choice(self.city.units)
            while other.id == unit.id:
                other = self.rng.choice(self.city.units)
            move_out = transfer_on - dt.timedelta(days=1)
            self.writer.add(
                Tenancy,
                household=household_id,
                unit=other.id,
                move_in_date=first_move_in,
                move_out_date=max(first_move_in, move_out),
                status="ended",
                reason="new",
                deposit=self.money.deposit(min(rent, other.market)),
                deposit_settled_on=move_out + dt.timedelta(days=45),
            )
            self.transfer_from = other.housing_code
        self.current_move_in = transfer_on or first_move_in
        return self.writer.add(
            Tenancy,
            household=household_id,
            unit=unit.id,
            move_in_date=transfer_on or first_move_in,
            status="active",
            reason="transfer" if transfer_on else "new",
            deposit=deposit,
        )

    def events(self, household_id, head: Mem, members, formers, first_move_in, transfer_on) -> None:
        """HouseholdEvent rows: move-in, transfer, births, joins, departures, deaths, 承継."""
        add = self.writer.add
        add(HouseholdEvent, household=household_id, kind="move_in", event_date=first_move_in, person=head.id)
        if transfer_on:
            add(
                HouseholdEvent,
                household=household_id,
                kind="transfer",
                event_date=transfer_on,
                person=head.id,
                detail=f"住宅コード{self.transfer_from}から住替え",
            )
        for member in members[1:] + formers:
            if member.member_from > first_move_in:
                kind = "birth" if member.member_from == member.birth else "member_join"
                add(
                    HouseholdEvent,
                    household=household_id,
                    kind=kind,
                    event_date=member.member_from,
                    person=member.id,
                )
            if member.member_to is not None:
                kind = "death" if member.deceased_on else "member_leave"
                add(
                    HouseholdEvent,
                    household=household_id,
                    kind=kind,
                    event_date=member.member_to,
                    person=member.id,
                )
                if member.is_head:
                    add(
                        HouseholdEvent,
                        household=household_id,
                        kind="head_change",
                        event_date=member.member_to + dt.timedelta(days=self.rng.randint(20, 90)),
                        person=head.id,
                        detail="名義人の死亡により使用承継",
                    )

    def guarantors(self, household_id, head: Mem, family, first_move_in, support) -> None:
        """A 連帯保証人 for most, an 緊急連絡人 for many, nobody for a few; some replaced once."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.06:
            return  # nobody: the file shows the missing guarantor
        head_age = age_at(head.birth, self.as_of)
        kinds = []
        if roll < 0.9 and not support:
            kinds.append("guarantor")
        if self.chance(0.6) or not kinds:
            kinds.append("emergency")
        for kind in kinds:
            appointed = first_move_in if kind == "guarantor" else self.day_between(first_move_in, self.as_of)
            if kind == "guarantor" and self.chance(0.1):
                replaced = self.day_between(add_years(first_move_in, 2), self.as_of - dt.timedelta(days=90))
                if replaced > first_move_in:
                    self.guarantor(household_id, kind, head, head_age, family, first_move_in, replaced)
                    appointed = replaced
            self.guarantor(household_id, kind, head, head_age, family, appointed, None)

    def guarantor(self, household_id, kind, head, head_age, family, appointed, dismissed) -> None:
        """One guarantor or emergency contact, a relative or acquaintance living in or near the city."""
        rng = self.rng
        relations = list(places.GUARANTOR_RELATIONS)
        if head_age < 50:
            relations += ["父", "母", "父", "母"]
        relation = rng.choice(relations)
        sex = "female" if relation in ("長女", "次女", "姉", "妹", "姪", "叔母", "母") else "male"
        if relation == "知人" or relation in ("長女", "次女", "姪") and self.chance(0.6):
            last, last_kana, _ = self.fake.last_name_pair()
        else:
            last, last_kana = family
            if not last_kana or last.isascii():
                last, last_kana, _ = self.fake.last_name_pair()
        first, first_kana, _ = (
            self.fake.first_name_male_pair() if sex == "male" else self.fake.first_name_female_pair()
        )
        offset = {
            "長男": 28,
            "長女": 28,
            "次男": 31,
            "次女": 31,
            "甥": 30,
            "姪": 30,
            "父": -28,
            "母": -26,
            "叔父": -20,
            "叔母": -20,
        }.get(relation, rng.randint(-8, 8))
        birth = self.near(head.birth, offset + rng.randint(-2, 2))
        birth = min(birth, add_years(self.as_of, -20))
        roll = rng.random()
        if roll < 0.5:
            place = rng.choice(rng.choice(list(places.ward_places().values())))
        elif roll < 0.85:
            place = rng.choice(self.kanagawa)
        else:
            place = rng.choice(self.tokyo)
        self.writer.add(
            Guarantor,
            household=household_id,
            kind=kind,
            name=f"{last}{IDEOGRAPHIC_SPACE}{first}",
            name_kana=f"{last_kana}{IDEOGRAPHIC_SPACE}{first_kana}",
            birth_date=birth,
            relation=relation,
            postal_code=place.postal_code,
            address=place.address(rng.randint(1, 5), rng.randint(1, 30), rng.randint(1, 25)),
            phone=self.mobile(),
            appointed_on=appointed,
            dismissed_on=dismissed,
        )

    def account(self) -> tuple[str, str, str, str]:
        """(bank code, branch code, account type, account number) of a real local branch."""
        rng = self.rng
        bank, branches = rng.choices(self.banks, self.bank_weights)[0]
        account_type = "ordinary"
        if bank != "9900":
            account_type = rng.choices(("ordinary", "savings", "current"), (96, 3, 1))[0]
        return bank, rng.choice(branches), account_type, f"{rng.randrange(10**7):07d}"

    def bank_transfers(self, household_id, head: Mem, members, first_move_in, proxy) -> tuple | None:
        """口座振替 for rent (about 70%, none when welfare pays directly); a few with an earlier account."""
        if proxy or not self.chance(0.74):
            return None
        holder = head
        spouse = next((m for m in members if m.relation == "spouse"), None)
        if spouse is not None and self.chance(0.1):
            holder = spouse
        holder_kana = to_bank_kana(holder.kana)[:30]
        start = self.day_between(first_move_in + dt.timedelta(days=30), self.as_of - dt.timedelta(days=90))
        start = start.replace(day=1)
        if self.chance(0.08) and start > first_move_in + dt.timedelta(days=800):
            earlier = self.day_between(first_move_in, start - dt.timedelta(days=400)).replace(day=1)
            earlier = max(earlier, first_move_in)
            bank, branch, account_type, number = self.account()
            self.writer.add(
                BankTransfer,
                household=household_id,
                purpose="rent",
                bank_code=bank,
                branch_code=branch,
                account_type=account_type,
                account_number=number,
                holder_kana=holder_kana,
                valid_from=earlier,
                valid_to=start - dt.timedelta(days=1),
            )
        account = self.account()
        bank, branch, account_type, number = account
        self.writer.add(
            BankTransfer,
            household=household_id,
            purpose="rent",
            bank_code=bank,
            branch_code=branch,
            account_type=account_type,
            account_number=number,
            holder_kana=holder_kana,
            valid_from=start,
        )
        return account + (holder_kana, start)

    # --- parking ---------------------------------------------------------------------------------------
    def parking(self, household_id, kind, members, estate, first_move_in, rent_transfer) -> list[tuple]:
        """A contract and a vehicle for households with a car, while the estate's lot has space."""
        rng = self.rng
        if not estate.spaces or not self.chance(CAR_CHANCE[kind]):
            return []
        drivers = [m for m in members if 18 <= age_at(m.birth, self.as_of) <= 84]
        if not drivers:
            return []
        user = drivers[0] if self.chance(0.8) else rng.choice(drivers)
        space_id, fee = estate.spaces.pop()
        start = self.day_between(
            max(first_move_in, user.member_from, add_years(user.birth, 18), add_years(self.as_of, -15)),
            self.as_of - dt.timedelta(days=30),
        )
        # 駐車場使用料の減免 for a household with a severe physical disability (half the fee).
        reduction = 0
        if any(m.disability and m.disability[0] == "physical" and m.disability[1] in "1234" for m in members):
            reduction = fee // 2 if self.chance(0.6) else 0
        contract_id = self.writer.add(
            ParkingContract,
            space=space_id,
            household=household_id,
            user_person=user.id,
            start_date=start,
            monthly_fee=fee,
            reduction_amount=reduction,
            status="active",
        )
        model, (low, high), chassis_prefix, _ = rng.choices(self.vehicles, self.vehicle_weights)[0]
        kei = low == 580  # 軽自動車
        region = rng.choices([r for r, _ in places.PLATE_REGIONS], [w for _, w in places.PLATE_REGIONS])[0]
        kana = rng.choice(places.PLATE_KANA_KEI if kei else places.PLATE_KANA)
        number = rng.randint(1, 9999)
        # 一連指定番号: "12-34"; below 1000 the empty places are dots ("・123", "・・12").
        plate = f"{number // 100}-{number % 100:02d}" if number >= 1000 else f"{number:・>4}"
        if self.chance(0.07):
            expiry = self.as_of - dt.timedelta(days=rng.randint(1, 200))  # 車検切れ
        else:
            expiry = self.as_of + dt.timedelta(days=rng.randint(1, 760))
        user_name = user.name
        owner = rng.choice(places.FINANCE_OWNERS) if self.chance(0.15) else user_name
        self.writer.add(
            Vehicle,
            contract=contract_id,
            registration_no=f"{region} {rng.randint(low, high)} {kana} {plate}",
            model=model,
            chassis_no=f"{chassis_prefix}-{rng.randrange(10**6, 10**7)}",
            owner_name=owner,
            user_name=user_name,
            inspection_expiry=expiry,
            valid_from=start,
        )
        transfer = None
        if rent_transfer is not None and self.chance(0.85):
            bank, branch, account_type, number_, holder_kana, _ = rent_transfer
            transfer = (bank, branch, account_type, number_, holder_kana)
        elif rent_transfer is None and self.chance(0.2):
            transfer = self.account() + (to_bank_kana(user.kana)[:30],)
        if transfer is not None:
            bank, branch, account_type, number_, holder_kana = transfer
            self.writer.add(
                BankTransfer,
                household=household_id,
                purpose="parking",
                bank_code=bank,
                branch_code=branch,
                account_type=account_type,
                account_number=number_,
                holder_kana=holder_kana,
                valid_from=start.replace(day=1),
            )
        return [(contract_id, start, fee, reduction, transfer is not None)]
