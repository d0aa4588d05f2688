"""Canary: on the demo city, a 公社 contractor visits every portal page and fragment (every GET route with
real ids of its office's households, with and without htmx, and the search) and none of what the portal
must never show appears: a My Number (whole, spaced, or masked to its last digits), the income amounts
of the declarations, 政令月収, 生活保護 (the word, its amounts or case numbers), disability grades, the
宛名番号, or a bank account number beyond its last 3 digits.
"""

from __future__ import annotations

import datetime as dt
import re

from peewee import fn

from extensions import db
from models import (
    BankTransfer,
    Building,
    Estate,
    Household,
    HouseholdApplication,
    IncomeDeclaration,
    Inquiry,
    MemberIncome,
    MoveProcedure,
    Office,
    ParkingContract,
    Person,
    PersonalNumber,
    RepairRequest,
    Tenancy,
    Unit,
    Vehicle,
    Ward,
    WelfarePeriod,
)
from services import mynumber
from services.vault import keyring_for
from tests.conftest import csrf_token_of
from tests.test_canary import spaced
from tests.test_household_page import app, demo_template  # noqa: F401 (fixtures: the demo city)

HOUSEHOLDS = 6  # households of the office visited, chosen to carry every kind of sensitive data
# Words that only a detail the portal must not show would bring (the income entry form names 個人番号,
# 所得 and 政令月収 as labels of what is typed or computed later; what it must never show is a value).
WORDS = (
    "生活保護",
    "住宅扶助",
    "ケース番号",
    "障害者手帳",
    "宛名番号",
    "収入超過",
    "高額所得",
)


def _sensitive_households(office_id: int) -> list[int]:
    """Households of the office's scope with My Numbers, incomes, welfare, disability and accounts."""
    scope = (
        Household.select(Household.id)
        .join(Tenancy, on=(Tenancy.household == Household.id) & (Tenancy.status == "active"))
        .join(Unit)
        .join(Building)
        .join(Estate)
        .join(Ward)
        .where((Ward.office == office_id) & ~Household.support_measure)
    )
    kinds = [
        Person.select(Person.household).join(WelfarePeriod),
        Person.select(Person.household).where(Person.disability_grade.is_null(False)),
        IncomeDeclaration.select(IncomeDeclaration.household).join(MemberIncome),
        BankTransfer.select(BankTransfer.household),
        ParkingContract.select(ParkingContract.household).join(Vehicle),
    ]
    chosen: list[int] = []
    for kind in kinds:
        for (hid,) in scope.where(Household.id.in_(kind)).order_by(Household.id).limit(2).tuples():
            if hid not in chosen:
                chosen.append(hid)
    return chosen[:HOUSEHOLDS]


def _forbidden(application, household_ids: list[int]) -> re.Pattern:
    keyring = keyring_for(application.config)
    members = [p.id for p in Person.select(Person.id).where(Person.household.in_(household_ids))]
    patterns = set(WORDS)
    for person_id in members:
        number = mynumber.masked(person_id, keyring)
        if number:
            patterns.add(number)  # the masked form: not even that
    for row in PersonalNumber.select().where(PersonalNumber.person.in_(members)):
        patterns.update(spaced(mynumber.decrypt_row(row, keyring)))
    amounts = set()
    for income in (
        MemberIncome.select().join(IncomeDeclaration).where(IncomeDeclaration.household.in_(household_ids))
    ):
        for name in ("salary_revenue", "pension_revenue", "non_taxable_revenue", "salary_income", "pension_income",
                     "other_income", "income_amount", "deduction_amount"):  # fmt: skip
            value = getattr(income, name, None)
            if isinstance(value, int) and value >= 100_000:
                amounts.add(value)
    for declaration in IncomeDeclaration.select().where(IncomeDeclaration.household.in_(household_ids)):
        for name in ("seirei_getsushu", "total_income", "total_deduction"):
            value = getattr(declaration, name, None)
            if isinstance(value, int) and value >= 10_000:
                amounts.add(value)
    for period in WelfarePeriod.select().join(Person).where(Person.household.in_(household_ids)):
        if period.housing_aid:
            amounts.add(period.housing_aid)
        if period.case_number:
            patterns.add(period.case_number)
    for amount in amounts:
        patterns.update({f"{amount:,}", f"¥{amount:,}", f"{amount:,}円"})
    for person in Person.select(Person.atena_no).where(Person.household.in_(household_ids)):
        if person.atena_no:
            patterns.add(person.atena_no)
    for transfer in BankTransfer.select().where(BankTransfer.household.in_(household_ids)):
        patterns.add(transfer.account_number)
        patterns.add(transfer.account_number[-4:] + "</")  # a 4th digit shown before a tag
    return re.compile("|".join(map(re.escape, sorted(patterns, key=len, reverse=True))))


def _ids_for(household_id: int, contractor) -> dict:
    """Real ids of one household's records, creating the portal's own records where there are none."""
    tenancy = Tenancy.select().where((Tenancy.household == household_id) & (Tenancy.status == "active")).get()
    procedure = MoveProcedure.get_or_none(MoveProcedure.tenancy == tenancy.id) or MoveProcedure.create(
        tenancy=tenancy, kind="move_in", keys_handed_on=tenancy.move_in_date, recorded_by=contractor.id,
        office=contractor.office_id,
    )  # fmt: skip
    application = HouseholdApplication.create(
        household=household_id, kind="non_use", received_on=dt.date(2025, 1, 10), state="returned",
        attachments='["form", "reason"]', details='{"text": "入院"}', office=contractor.office_id,
        submitted_by=contractor.id, comment="期間を記入してください",
    )  # fmt: skip
    inquiry = Inquiry.create(
        household=household_id, channel="phone", received_at=dt.datetime(2025, 2, 1, 1, 0), subject="騒音",
        content="上階の音", recorded_by=contractor.id, office=contractor.office_id,
    )  # fmt: skip
    repair = RepairRequest.create(
        household=household_id, unit=tenancy.unit_id, received_on=dt.date(2025, 3, 1), content="水漏れ",
        recorded_by=contractor.id, office=contractor.office_id,
    )  # fmt: skip
    return {
        "household_id": household_id,
        "procedure_id": procedure.id,
        "application_id": application.id,
        "inquiry_id": inquiry.id,
        "repair_id": repair.id,
        "tenancy_id": tenancy.id,
        "unit_id": tenancy.unit_id,
        "person_id": Person.select(fn.MIN(Person.id)).where(Person.household == household_id).scalar(),
    }


def test_the_portal_never_shows_what_the_agent_must_not_see(app, make_user, login, staff_client):  # noqa: F811
    with app.app_context(), db.connection_context():
        office = Office.get(Office.code == "nanbu")
    contractor = make_user("contractor", office=office)
    client = app.test_client()
    login(client, contractor)
    with app.app_context(), db.connection_context():
        households = _sensitive_households(office.id)
        assert len(households) >= 4
        finder = _forbidden(app, households)
        ids = [_ids_for(hid, contractor) for hid in households]
    # The net catches real leaks: the city's page of these households shows what the portal must not.
    caught_everywhere: set[str] = set()
    for hid in households:
        staff_page = staff_client.get(f"/staff/household/{hid}").get_data(as_text=True)
        caught = {match.group(0) for match in finder.finditer(staff_page)}
        assert any(re.fullmatch(r"\*+[0-9]{4}", text) for text in caught), hid  # a masked My Number
        caught_everywhere |= caught
    assert any(re.search(r"[0-9],[0-9]{3}", text) for text in caught_everywhere)  # an income amount
    assert {"生活保護", "障害者手帳"} <= caught_everywhere

    pages: dict[str, str] = {}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("portal.") and "GET" in r.methods]
    for record_ids in ids:
        for rule in rules:
            if not set(rule.arguments) <= set(record_ids):
                continue
            url = rule.build({name: record_ids[name] for name in rule.arguments})[1]
            for query in ("", "?kind=move_out", "?all=1", "?state=returned"):
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.get(url + query, headers=headers)
                    assert response.status_code == 200, (url + query, response.status_code)
                    pages[f"{url}{query} {headers}"] = response.get_data(as_text=True)
    token = csrf_token_of(client)
    with app.app_context(), db.connection_context():
        heads = [
            p.name_kana
            for p in Person.select(Person.name_kana).where(Person.household.in_(households) & Person.is_head)
        ]
    for query in heads[:3] + ["ア", "山"]:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(
                "/portal/households/", data={"q": query, "csrf_token": token}, headers=headers
            )
            assert response.status_code in (200, 422)
            pages[f"search {query} {headers}"] = response.get_data(as_text=True)

    assert len(pages) > 100
    visited = sum(1 for name in pages if "/portal/households/" in name and "search" not in name)
    assert visited >= 2 * len(households)
    leaks = {name: finder.search(html).group(0) for name, html in pages.items() if finder.search(html)}
    assert leaks == {}
