"""Attacks from the outside on the staff edit URLs /staff/household/<hid>/<thing>/<record_id>/...

- IDOR: a URL naming household A with a record of household B answers 404 and writes nothing.
- 支援措置: a protected household assigned to another staff user is 404 on every edit URL.
- Mass assignment: extra posted fields never change protected columns.
- My Number: never in an HTML response or an audit entry after registering one.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random

import pytest
from playhouse.shortcuts import model_to_dict

from extensions import db
from models import (
    ArrearsAction,
    AuditEntry,
    BankTransfer,
    Charge,
    Guarantor,
    IncomeDeclaration,
    Inquiry,
    InstallmentPlan,
    MemberIncome,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Payment,
    Person,
    RentReduction,
    Vehicle,
    WelfarePeriod,
)
from rules import mynumber as mynumber_rules
from rules.filters import today_tokyo
from tests.conftest import csrf_token_of
from tests.factories import (
    make_account,
    make_assignment,
    make_estate,
    make_household,
    make_person,
    make_tenancy,
)

HX = {"HX-Request": "true"}
FY = 2026
TODAY = today_tokyo()
TABLES = (
    Person,
    WelfarePeriod,
    Guarantor,
    BankTransfer,
    Charge,
    Payment,
    RentReduction,
    ArrearsAction,
    InstallmentPlan,
    Inquiry,
    ParkingContract,
    ParkingSpace,
    Vehicle,
    IncomeDeclaration,
    MemberIncome,
)


class Inside:
    def __init__(self, app):
        self.app = app

    def __enter__(self):
        self.ctx = self.app.app_context()
        self.ctx.push()
        db.connect(reuse_if_open=True)

    def __exit__(self, *exc):
        if not db.is_closed():
            db.close()
        self.ctx.pop()


def seed_household(app, *, code: str, **household_kw) -> dict:
    """A household with one record of every kind a staff edit URL names: {kind: id}."""
    with Inside(app):
        h = make_household(**household_kw)
        make_tenancy(h)
        clerk = make_account("staff")
        head = make_person(h)
        spouse = make_person(
            h, name="川崎\u3000花子", name_kana="カワサキ\u3000ハナコ", kana_key="カワサキハナコ", sex="female",
            relation="spouse", is_head=False, birth_date=dt.date(1972, 5, 5),
        )  # fmt: skip
        period = WelfarePeriod.create(person=spouse, start_date=dt.date(2020, 4, 1))
        guarantor = Guarantor.create(
            household=h, kind="guarantor", name="幸\u3000一郎", name_kana="サイワイ\u3000イチロウ", relation="兄",
            postal_code="2108577", address="神奈川県川崎市川崎区宮本町1", phone="0442002948",
            appointed_on=dt.date(2015, 4, 1),
        )  # fmt: skip
        transfer = BankTransfer.create(
            household=h, purpose="rent", bank_code="0001", branch_code="001", account_number="1234567",
            holder_kana="ｶﾜｻｷ ﾀﾛｳ", valid_from=dt.date(2016, 1, 1),
        )  # fmt: skip
        month = TODAY.replace(day=1)
        charge = Charge.create(
            household=h, kind="rent", period=month, source_key="rent", amount=38_600, due_date=month
        )
        paid = Charge.create(
            household=h, kind="rent", period=dt.date(2020, 4, 1), source_key="rent", amount=1_000,
            due_date=dt.date(2020, 4, 30),
        )  # fmt: skip
        payment = Payment.create(
            charge=paid, amount=1, receipt_date=TODAY, posted_date=TODAY, method="counter"
        )
        reduction = RentReduction.create(
            household=h, reason="income_drop", amount=5_000, start_date=dt.date(FY, 4, 1),
            end_date=dt.date(FY + 1, 3, 31), status="requested",
        )  # fmt: skip
        action = ArrearsAction.create(household=h, kind="phone", action_date=TODAY, note="約束", staff=clerk)
        plan = InstallmentPlan.create(
            household=h,
            total_amount=10,
            monthly_amount=10,
            start_month=month,
            months=1,
            acknowledged_on=TODAY,
        )
        inquiry = Inquiry.create(
            household=h, channel="phone", received_at=dt.datetime(2026, 1, 5, 1, 0), subject="件名",
            content="内容", recorded_by=clerk,
        )  # fmt: skip
        lot = ParkingLot.create(
            estate=make_estate(), code=f"P{code}", name=f"第{code}駐車場", monthly_fee=6_000
        )
        space = ParkingSpace.create(lot=lot, space_no="1", monthly_fee=6_000, status="contracted")
        contract = ParkingContract.create(
            space=space, household=h, user_person=head, start_date=dt.date(2018, 4, 1), monthly_fee=6_000
        )
        vehicle = Vehicle.create(
            contract=contract, registration_no="川崎 500 あ 12-34", model="プリウス", chassis_no="ZVW30-1234567",
            owner_name="川崎 太郎", user_name="川崎 太郎", inspection_expiry=TODAY + dt.timedelta(days=200),
            valid_from=dt.date(2018, 4, 1),
        )  # fmt: skip
        declaration = IncomeDeclaration.create(
            household=h, fiscal_year=FY, income_year=FY - 1, status="submitted"
        )
        MemberIncome.create(declaration=declaration, person=head, salary_revenue=3_500_000)
        MemberIncome.create(declaration=declaration, person=spouse)
        return {
            "household": h.id, "head": head.id, "spouse": spouse.id, "period": period.id,
            "guarantor": guarantor.id, "transfer": transfer.id, "charge": charge.id, "payment": payment.id,
            "reduction": reduction.id, "action": action.id, "plan": plan.id, "inquiry": inquiry.id,
            "contract": contract.id, "vehicle": vehicle.id, "declaration": declaration.id,
        }  # fmt: skip


@pytest.fixture
def a(app):
    return seed_household(app, code="A")


@pytest.fixture
def b(app):
    return seed_household(app, code="B")


def record_urls(hid: int, r: dict) -> list[str]:
    """Every URL that names a record, built with household hid and the records r."""
    base = f"/staff/household/{hid}"
    return [
        f"{base}/members/{r['spouse']}/edit",
        f"{base}/members/{r['spouse']}/welfare/new",
        f"{base}/members/{r['spouse']}/welfare/{r['period']}/edit",
        f"{base}/members/{r['spouse']}/welfare/{r['period']}/end",
        f"{base}/members/{r['spouse']}/my-number",
        f"{base}/events/leave/{r['spouse']}",
        f"{base}/events/death/{r['spouse']}",
        f"{base}/guarantors/{r['guarantor']}/edit",
        f"{base}/guarantors/{r['guarantor']}/dismiss",
        f"{base}/transfers/{r['transfer']}/end",
        f"{base}/charges/{r['charge']}/correct",
        f"{base}/charges/{r['charge']}/cancel",
        f"{base}/payments/{r['payment']}/reverse",
        f"{base}/reductions/{r['reduction']}/edit",
        f"{base}/reductions/{r['reduction']}/decide",
        f"{base}/reductions/{r['reduction']}/end",
        f"{base}/installments/{r['plan']}/edit",
        f"{base}/installments/{r['plan']}/status",
        f"{base}/inquiries/{r['inquiry']}/edit",
        f"{base}/inquiries/{r['inquiry']}/close",
        f"{base}/parking/contracts/{r['contract']}/edit",
        f"{base}/parking/contracts/{r['contract']}/end",
        f"{base}/parking/contracts/{r['contract']}/vehicles/new",
        f"{base}/parking/vehicles/{r['vehicle']}/edit",
        f"{base}/parking/vehicles/{r['vehicle']}/inspection",
        f"{base}/parking/vehicles/{r['vehicle']}/end",
    ]


def all_edit_urls(r: dict) -> list[str]:
    """The record URLs of a household plus its 'new' forms and the household edit itself."""
    base = f"/staff/household/{r['household']}"
    return [
        *record_urls(r["household"], r),
        f"{base}/edit",
        f"{base}/events/join",
        f"{base}/events/birth",
        f"{base}/events/leave",
        f"{base}/events/death",
        f"{base}/events/succession",
        f"{base}/events/transfer",
        f"{base}/events/transfer/units",
        f"{base}/events/move-out",
        f"{base}/guarantors/new",
        f"{base}/transfers/new",
        f"{base}/reductions/new",
        f"{base}/payments/new",
        f"{base}/arrears/new",
        f"{base}/installments/new",
        f"{base}/inquiries/new",
        f"{base}/income/new",
        f"{base}/income/{FY}/edit",
        f"{base}/parking/contracts/new",
    ]


def snapshot(app) -> dict:
    with Inside(app):
        return {
            model.__name__: sorted(
                json.dumps(model_to_dict(row, recurse=False), default=str, sort_keys=True)
                for row in model.select()
            )
            for model in TABLES
        }


def writes(app) -> int:
    """Audit entries of anything but views and denials (a write always leaves one)."""
    with Inside(app):
        return (
            AuditEntry.select()
            .where(
                ~AuditEntry.action.in_(["household.view", "access.denied"]) & (AuditEntry.outcome != "denied")
            )
            .count()
        )


def hostile_post(client, url: str, r: dict) -> object:
    """A POST that would do harm if the record were found: plausible values for many forms."""
    data = {
        "csrf_token": csrf_token_of(client),
        "version": "1",
        "step": "",
        "person": str(r["spouse"]),
        "event_date": TODAY.isoformat(),
        "leave_reason": "moved_out",
        "reason": "攻撃",
        "end_date": TODAY.isoformat(),
        "dismissed_on": TODAY.isoformat(),
        "household_id": str(r["household"]),
    }
    for prefix in ("member_", "guarantor_", "transfer_", "reduction_", "decision_", "end_", "correct_", "cancel_",
                   "reverse_", "plan_", "plan_status_", "inquiry_", "close_", "contract_", "vehicle_",
                   "inspection_", "welfare_"):  # fmt: skip
        data.update(
            {
                f"{prefix}version": "1",
                f"{prefix}reason": "攻撃",
                f"{prefix}end_date": TODAY.isoformat(),
                f"{prefix}status": "completed",
                f"{prefix}decision": "approve",
            }
        )
    return client.post(url, data=data, headers=HX)


OFFICER_ONLY = ("/decide", "/end")


def _expected(client, url, method="GET") -> set[int]:
    """404 everywhere; a staff user is refused 403 by the policy on officer-only URLs before any lookup.
    The member in an event URL (転出/死亡 of …) only preselects the form on GET: a POST ignores it and
    picks from the household's own members, so a foreign one is refused as an invalid choice (422)."""
    if client.user.role == "staff" and "/reductions/" in url and url.endswith(OFFICER_ONLY):
        return {403}
    if method == "POST" and "/events/" in url:
        return {404, 422}
    return {404}


# --- 1. IDOR -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role_client", ["staff_client", "officer_client"])
def test_household_a_with_a_record_of_household_b_is_404_and_writes_nothing(app, request, role_client, a, b):
    client = request.getfixturevalue(role_client)
    # Sanity: the same URLs with A's own records are reachable (not 404), so a 404 below means the check.
    for url in record_urls(a["household"], a):
        assert client.get(url, headers=HX).status_code != 404, url
    before, written = snapshot(app), writes(app)
    for url in record_urls(a["household"], b):
        assert client.get(url, headers=HX).status_code in _expected(client, url), url
        assert hostile_post(client, url, b).status_code in _expected(client, url, "POST"), url
    assert snapshot(app) == before
    assert writes(app) == written


def test_a_welfare_period_of_another_member_is_404(app, staff_client, a):
    with Inside(app):
        head_period = WelfarePeriod.create(person=a["head"], start_date=dt.date(2021, 4, 1)).id
    before = snapshot(app)
    for what in ("edit", "end"):
        url = f"/staff/household/{a['household']}/members/{a['spouse']}/welfare/{head_period}/{what}"
        assert staff_client.get(url, headers=HX).status_code == 404
        assert hostile_post(staff_client, url, a).status_code == 404
    assert snapshot(app) == before


def test_an_income_declaration_cannot_write_rows_for_another_households_member(app, staff_client, a, b):
    url = f"/staff/household/{a['household']}/income/{FY}/edit"
    with Inside(app):
        version = IncomeDeclaration.get_by_id(a["declaration"]).version
    data = {
        "csrf_token": csrf_token_of(staff_client), "version": str(version), "status": "submitted",
        "source": "self", "submitted_on": "令和8年7月15日",
        "members-0-person_id": str(b["head"]), "members-0-salary_revenue": "9,999,999",
        "members-0-disability": "none",
        "members-1-person_id": str(b["spouse"]), "members-1-salary_revenue": "8,888,888",
        "members-1-disability": "none",
    }  # fmt: skip
    staff_client.post(url, data=data, headers=HX)
    with Inside(app):
        foreign = MemberIncome.select().where(MemberIncome.person.in_([b["head"], b["spouse"]]))
        assert {m.declaration_id for m in foreign} == {b["declaration"]}
        assert 9_999_999 not in {m.salary_revenue for m in MemberIncome.select()}


def test_events_cannot_pick_a_member_of_another_household(app, staff_client, a, b):
    before = snapshot(app)
    for what in ("leave", "death"):
        url = f"/staff/household/{a['household']}/events/{what}"
        response = hostile_post(staff_client, url, b)
        assert response.status_code == 422, what  # the choice is the household's own members
        named = f"/staff/household/{a['household']}/events/{what}/{b['head']}"
        assert staff_client.get(named, headers=HX).status_code == 404, what
        assert hostile_post(staff_client, named, b).status_code == 404, what
    assert snapshot(app) == before


# --- 2. 支援措置 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "officer"])
def test_a_protected_household_is_404_on_every_edit_url_to_an_unassigned_user(app, make_user, login, role):
    intruder = app.test_client()
    intruder.user = make_user(role)
    login(intruder, intruder.user)
    staff_client = intruder
    other = make_user("staff")
    p = seed_household(app, code="S", support_measure=True)
    with Inside(app):
        make_assignment(p["household"], other)
    assigned = app.test_client()
    assigned.user = other
    login(assigned, other)
    # The assigned staff user reaches the forms (the 404s below are the scope, not broken URLs).
    assert (
        assigned.get(
            f"/staff/household/{p['household']}/guarantors/{p['guarantor']}/edit", headers=HX
        ).status_code
        == 200
    )
    before, written = snapshot(app), writes(app)
    for url in all_edit_urls(p):
        assert staff_client.get(url, headers=HX).status_code in _expected(staff_client, url), url
        if not url.endswith("/units"):  # GET only
            assert hostile_post(staff_client, url, p).status_code in _expected(staff_client, url), url
    assert staff_client.get(f"/staff/household/{p['household']}").status_code == 404
    assert snapshot(app) == before
    assert writes(app) == written


# --- 3. Mass assignment ---------------------------------------------------------------------------------------


def _row(app, model, rid):
    with Inside(app):
        return model.get_by_id(rid)


def test_member_edit_ignores_household_head_flag_and_version_tampering(app, staff_client, a, b):
    spouse = _row(app, Person, a["spouse"])
    data = {
        "csrf_token": csrf_token_of(staff_client),
        "member_version": str(spouse.version),
        "member_name": "川崎\u3000花子",
        "member_name_kana": "カワサキ\u3000ハナコ",
        "member_birth_date": "1972-05-05",
        "member_sex": "female",
        "member_nationality": spouse.nationality,
        "member_relation": "spouse",
        "member_phone": "0442009999",
        "member_household": str(b["household"]),
        "member_household_id": str(b["household"]),
        "household_id": str(b["household"]),
        "member_is_head": "y",
        "is_head": "y",
        "member_member_to": "2020-01-01",
        "member_kana_key": "ア",
    }
    response = staff_client.post(
        f"/staff/household/{a['household']}/members/{a['spouse']}/edit", data=data, headers=HX
    )
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    after = _row(app, Person, a["spouse"])
    assert (after.household_id, after.is_head, after.member_to) == (a["household"], False, None)
    assert _row(app, Person, a["head"]).is_head is True
    # A forged version far ahead is a 409, never written as the row's version.
    data["member_version"] = str(after.version + 50)
    data["member_phone"] = "0442008888"
    response = staff_client.post(
        f"/staff/household/{a['household']}/members/{a['spouse']}/edit", data=data, headers=HX
    )
    assert response.status_code in (409, 422)
    final = _row(app, Person, a["spouse"])
    assert final.version == after.version and final.phone == after.phone


def test_guarantor_edit_cannot_move_the_row_to_another_household(app, staff_client, a, b):
    g = _row(app, Guarantor, a["guarantor"])
    data = {
        "csrf_token": csrf_token_of(staff_client),
        "guarantor_version": str(g.version),
        "guarantor_kind": "guarantor",
        "guarantor_name": g.name,
        "guarantor_name_kana": "サイワイ　イチロウ",
        "guarantor_relation": "弟",
        "guarantor_postal_code": g.postal_code,
        "guarantor_address": g.address,
        "guarantor_phone": g.phone,
        "guarantor_appointed_on": "2015-04-01",
        "guarantor_household": str(b["household"]),
        "guarantor_household_id": str(b["household"]),
        "household_id": str(b["household"]),
        "guarantor_id": str(b["guarantor"]),
    }
    url = f"/staff/household/{a['household']}/guarantors/{a['guarantor']}/edit"
    response = staff_client.post(url, data=data, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    after = _row(app, Guarantor, a["guarantor"])
    assert after.relation == "弟" and after.household_id == a["household"]
    assert _row(app, Guarantor, b["guarantor"]).relation == "兄"


def test_reduction_edit_cannot_approve_itself(app, staff_client, a, make_user):
    officer = make_user("officer")
    r = _row(app, RentReduction, a["reduction"])
    data = {
        "csrf_token": csrf_token_of(staff_client),
        "reduction_version": str(r.version),
        "reduction_kind": "reduction",
        "reduction_reason": "income_drop",
        "reduction_amount": "6,000円",
        "reduction_start_date": f"{FY}-04-01",
        "reduction_end_date": f"{FY + 1}-03-31",
        "reduction_status": "approved",
        "status": "approved",
        "reduction_approved_by": str(officer.id),
        "approved_by": str(officer.id),
        "reduction_decided_by": str(officer.id),
        "reduction_household": "999999",
    }
    url = f"/staff/household/{a['household']}/reductions/{a['reduction']}/edit"
    response = staff_client.post(url, data=data, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    after = _row(app, RentReduction, a["reduction"])
    assert after.amount == 6_000 and after.status == "requested" and after.household_id == a["household"]
    assert after.approved_by_id is None and after.approved_at is None


@pytest.mark.parametrize("status", ["active", "cancelled", "deleted", "<script>"])
def test_statuses_outside_the_select_are_refused(app, staff_client, a, status):
    plan = _row(app, InstallmentPlan, a["plan"])
    url = f"/staff/household/{a['household']}/installments/{a['plan']}/status"
    data = {"csrf_token": csrf_token_of(staff_client), "plan_status_version": str(plan.version),
            "plan_status_status": status}  # fmt: skip
    assert staff_client.post(url, data=data, headers=HX).status_code == 422
    assert _row(app, InstallmentPlan, a["plan"]).status == plan.status

    inquiry = _row(app, Inquiry, a["inquiry"])
    url = f"/staff/household/{a['household']}/inquiries/{a['inquiry']}/edit"
    form = staff_client.get(url, headers=HX).get_data(as_text=True)
    assert 'name="' in form
    prefix = "inquiry_" if 'name="inquiry_status"' in form else ""
    data = {
        "csrf_token": csrf_token_of(staff_client), f"{prefix}version": str(inquiry.version),
        f"{prefix}received_on": "2026-01-05", f"{prefix}received_time": "10:00", f"{prefix}channel": "phone",
        f"{prefix}subject": "件名", f"{prefix}content": "内容", f"{prefix}status": status,
        f"{prefix}household": "999999", f"{prefix}recorded_by": "999999",
    }  # fmt: skip
    assert staff_client.post(url, data=data, headers=HX).status_code == 422
    after = _row(app, Inquiry, a["inquiry"])
    assert (after.status, after.household_id, after.version) == (
        inquiry.status,
        a["household"],
        inquiry.version,
    )


# --- 4. My Number never shown -----------------------------------------------------------------------------


def _step_up(client, soft_keys):
    from tests.conftest import post_json

    token = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=token).get_json()
    assertion = soft_keys[client.user.id].get(options)
    response = post_json(client, "/step-up/verify", {"credential": assertion, "next": "/"}, token=token)
    assert response.status_code == 200


def test_my_number_is_never_in_html_or_the_audit_trail(app, staff_client, soft_keys, a):
    number = mynumber_rules.generate(random.Random(4242))
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    _step_up(staff_client, soft_keys)
    url = f"/staff/household/{a['household']}/members/{a['spouse']}/my-number"
    extra = {"mynumber_version": "0", "household_id": "1", "mynumber_person": str(a["head"])}
    bodies = []
    for htmx in (True, False):
        data = {
            "csrf_token": csrf_token_of(staff_client),
            "mynumber_number": number,
            "mynumber_confirmed": "y",
            **extra,
        }
        response = staff_client.post(url, data=data, headers=HX if htmx else {}, follow_redirects=not htmx)
        assert response.status_code == 200, response.get_data(as_text=True)
        bodies.append(response.get_data(as_text=True))
    # Without the confirmation it is a 422 that must not echo the number either.
    data = {"csrf_token": csrf_token_of(staff_client), "mynumber_number": number}
    bodies.append(staff_client.post(url, data=data, headers=HX).get_data(as_text=True))
    hid = a["household"]
    for page in (
        f"/staff/household/{hid}",
        f"/staff/household/{hid}/section/members",
        f"/staff/household/{hid}/section/history",
        url,
        f"/staff/household/{hid}/members/{a['spouse']}/edit",
        f"/staff/household/{hid}/income/{FY}/edit",
    ):
        bodies.append(staff_client.get(page).get_data(as_text=True))
        bodies.append(staff_client.get(page, headers=HX).get_data(as_text=True))
    for body in bodies:
        text = html.unescape(body)
        assert number not in text and spaced not in text
    with Inside(app):
        trail = json.dumps([model_to_dict(e, recurse=False) for e in AuditEntry.select()], default=str)
    assert number not in trail and spaced not in trail
    with Inside(app):
        from models import PersonalNumber

        assert PersonalNumber.select().where(PersonalNumber.person == a["head"]).count() == 0
        assert PersonalNumber.select().where(PersonalNumber.person == a["spouse"]).count() == 1
