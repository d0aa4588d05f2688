"""世帯の異動 as dated events: the pure rules (日割り, 敷金精算, 使用承継), every event's happy path and
refusals through the screens (422 beside the fields, 409, nothing half-written), the audit entries,
the history table, access, and one active tenancy per unit under concurrent transfers."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import threading
from contextlib import contextmanager

import pytest
from flask import current_app

from extensions import db
from models import (
    AuditEntry,
    BankTransfer,
    Charge,
    Household,
    HouseholdEvent,
    IncomeDeclaration,
    MemberIncome,
    MoveProcedure,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Payment,
    Person,
    RentDecision,
    Tenancy,
    Unit,
)
from rules import household as rules
from rules.filters import today_tokyo
from services import household_events as events
from tests.conftest import csrf_token_of
from tests.factories import (
    make_account,
    make_assignment,
    make_building,
    make_estate,
    make_household,
    make_person,
    make_tenancy,
    make_unit,
)

HX = {"HX-Request": "true"}
TODAY = today_tokyo()


@contextmanager
def opened(app):
    with app.app_context(), db.connection_context():
        yield


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month_15th(day: dt.date) -> dt.date:
    return (month_start(day) - dt.timedelta(days=1)).replace(day=15)


# --- the pure rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # SPEC §4.6 E1's rent 38,600: move out on the 15th of a 30-day month → 38,600 × 15 ÷ 30.
        (dt.date(2026, 6, 1), dt.date(2026, 6, 15), 19_300),
        # 31-day month, 20 days: 38,600 × 20 ÷ 31 = 24,903.2… → 24,903 (1円未満切り捨て).
        (dt.date(2026, 1, 1), dt.date(2026, 1, 20), 24_903),
        # Leap February (29 days), 10 days: 13,310.3… → 13,310.
        (dt.date(2028, 2, 1), dt.date(2028, 2, 10), 13_310),
        # Common February (28 days), 14 days: exactly half.
        (dt.date(2027, 2, 1), dt.date(2027, 2, 14), 19_300),
        # Moved in and out in the same month: 10th to 25th of April = 16 of 30 days → 20,586.6… → 20,586.
        (dt.date(2026, 4, 10), dt.date(2026, 4, 25), 20_586),
        # The whole month is the monthly rent itself.
        (dt.date(2026, 7, 1), dt.date(2026, 7, 31), 38_600),
    ],
)
def test_proration_worked_examples(start, end, expected):
    result = rules.prorate(38_600, start, end)
    assert result.amount == expected
    assert result.days == (end - start).days + 1
    assert f"{expected:,}円" in result.explanation


def test_proration_explains_each_figure_and_refuses_nonsense():
    result = rules.prorate(38_600, dt.date(2026, 1, 1), dt.date(2026, 1, 20))
    assert result.explanation.startswith("38,600円 × 20日 ÷ 31日 = 24,903円")
    assert "切り捨て" in result.explanation
    assert rules.final_month(dt.date(2020, 4, 1), dt.date(2026, 1, 20)) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 20),
    )
    assert rules.final_month(dt.date(2026, 1, 10), dt.date(2026, 1, 20))[0] == dt.date(2026, 1, 10)
    with pytest.raises(ValueError):
        rules.prorate(38_600, dt.date(2026, 1, 20), dt.date(2026, 2, 3))
    with pytest.raises(ValueError):
        rules.prorate(-1, dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    with pytest.raises(ValueError):
        rules.prorate(38_600, dt.date(2026, 1, 20), dt.date(2026, 1, 3))


def test_deposit_settlement_refund_due_and_credit():
    # E1's deposit (3 months of 38,600 = 115,800) against 12,300 unpaid and 30,000 of repairs.
    refund = rules.settle_deposit(115_800, 12_300, 30_000)
    assert (refund.refund, refund.due, refund.balance) == (73_500, 0, 73_500)
    assert refund.explanation == ["敷金 115,800円 − 未納額 12,300円 − 修繕費 30,000円 = 返還額 73,500円"]
    due = rules.settle_deposit(115_800, 12_300, 150_000)
    assert (due.refund, due.due) == (0, 46_500)
    assert "不足額 46,500円" in due.explanation[0]
    # A whole month paid before the proration comes back through the settlement.
    credit = rules.settle_deposit(115_800, 0, 0, credit=19_300)
    assert credit.refund == 135_100
    with pytest.raises(ValueError):
        rules.settle_deposit(115_800, -1, 0)


def candidate(relation, *, born=dt.date(1980, 1, 1), since=dt.date(2015, 4, 1), current=True):
    return rules.Candidate(relation=relation, birth_date=born, member_from=since, current=current)


def test_succession_spouse_or_relative_with_period_and_approval():
    on = dt.date(2026, 5, 1)
    assert rules.succession(candidate("spouse"), on, approved=False).allowed
    assert rules.succession(candidate("child"), on, approved=True).allowed
    no_approval = rules.succession(candidate("child"), on, approved=False)
    assert not no_approval.allowed and "使用承継申請の承認" in no_approval.reasons[0]
    recent = rules.succession(candidate("parent", since=dt.date(2025, 8, 1)), on, approved=True)
    assert not recent.allowed and "1年に満たません" in recent.reasons[0]
    assert "2026年8月1日以降" in recent.reasons[0]
    # Exactly one year of living together is enough.
    assert rules.succession(candidate("parent", since=dt.date(2025, 5, 1)), on, approved=True).allowed
    assert not rules.succession(candidate("other"), on, approved=True).allowed
    minor = rules.succession(candidate("child", born=dt.date(2010, 1, 1)), on, approved=True)
    assert not minor.allowed and "18歳未満" in minor.reasons[0]
    assert not rules.succession(candidate("spouse", current=False), on, approved=False).allowed
    assert rules.former_head_relation("spouse") == "spouse"
    assert rules.former_head_relation("child") == "parent"
    assert rules.former_head_relation("child_in_law") == "parent_in_law"


# --- a family to change ------------------------------------------------------------------------------------


def make_family(app, **household_fields) -> dict:
    """SPEC §4.6 E1: head (給与収入 3,500,000 in 2025), spouse without income, a child; rent 38,600,
    deposit 115,800; two vacant units in another estate; the ids by name."""
    with opened(app):
        estate = make_estate(name="市営テスト住宅")
        unit = make_unit(make_building(estate), status="occupied", layout="2DK")
        other = make_estate(name="市営さくら住宅")
        building = make_building(other, number="3")
        vacant = make_unit(building, status="vacant", room_number="201", layout="3DK")
        vacant2 = make_unit(building, status="vacant", room_number="202")
        household = make_household(first_move_in_date=dt.date(2015, 4, 1), **household_fields)
        tenancy = make_tenancy(household, unit, move_in_date=dt.date(2015, 4, 1), deposit=115_800)
        head = make_person(household, birth_date=dt.date(1980, 5, 1), member_from=dt.date(2015, 4, 1))
        spouse = make_person(
            household,
            name="川崎 花子",
            name_kana="カワサキ ハナコ",
            kana_key="カワサキハナコ",
            birth_date=dt.date(1982, 6, 1),
            sex="female",
            relation="spouse",
            is_head=False,
            member_from=dt.date(2015, 4, 1),
        )
        child = make_person(
            household,
            name="川崎 一郎",
            name_kana="カワサキ イチロウ",
            kana_key="カワサキイチロウ",
            birth_date=dt.date(2016, 3, 1),
            relation="child",
            is_head=False,
            member_from=dt.date(2016, 3, 1),
        )
        declaration = IncomeDeclaration.create(
            household=household, fiscal_year=2026, income_year=2025, status="submitted"
        )
        MemberIncome.create(declaration=declaration, person=head, salary_revenue=3_500_000)
        MemberIncome.create(declaration=declaration, person=spouse)
        MemberIncome.create(declaration=declaration, person=child)
        RentDecision.create(
            household=household,
            tenancy=tenancy,
            unit=unit,
            fiscal_year=2026,
            effective_from=dt.date(2026, 4, 1),
            seirei_getsushu=125_833,
            bracket=3,
            market_rent=88_000,
            rent_status="normal",
            rent=38_600,
            state="approved",
            masters_used="{}",
            explanation="[]",
        )
        return {
            "hid": household.id,
            "tenancy": tenancy.id,
            "unit": unit.id,
            "vacant": vacant.id,
            "vacant2": vacant2.id,
            "estate2": other.id,
            "head": head.id,
            "spouse": spouse.id,
            "child": child.id,
        }


@pytest.fixture
def family(app):
    return make_family(app)


def post(client, url, data, *, htmx=True):
    payload = {"csrf_token": csrf_token_of(client), **data}
    return client.post(url, data=payload, headers=HX if htmx else {})


def toast(response) -> str:
    """The toast message an htmx answer triggers."""
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def snapshot(app, hid) -> dict:
    """Everything an event may write, to check that a refusal wrote nothing."""
    with opened(app):
        return {
            "household": Household.get_by_id(hid).__data__,
            "people": [
                p.__data__ for p in Person.select().where(Person.household == hid).order_by(Person.id)
            ],
            "tenancies": [
                t.__data__ for t in Tenancy.select().where(Tenancy.household == hid).order_by(Tenancy.id)
            ],
            "units": [u.__data__ for u in Unit.select().order_by(Unit.id)],
            "events": HouseholdEvent.select().where(HouseholdEvent.household == hid).count(),
            "charges": [
                c.__data__ for c in Charge.select().where(Charge.household == hid).order_by(Charge.id)
            ],
            "contracts": [c.__data__ for c in ParkingContract.select().order_by(ParkingContract.id)],
            "transfers": [b.__data__ for b in BankTransfer.select().order_by(BankTransfer.id)],
            "writes": AuditEntry.select().where(AuditEntry.action.startswith("household_event.")).count(),
        }


def event_entries(app, hid, kind) -> list[AuditEntry]:
    with opened(app):
        return list(
            AuditEntry.select()
            .where((AuditEntry.action == f"household_event.{kind}") & (AuditEntry.target_ids == f"[{hid}]"))
            .order_by(AuditEntry.id)
        )


def fields_of(entries) -> set[str]:
    return {name for entry in entries for name in json.loads(entry.fields)}


def events_of(app, hid) -> list[HouseholdEvent]:
    with opened(app):
        return list(
            HouseholdEvent.select().where(HouseholdEvent.household == hid).order_by(HouseholdEvent.id)
        )


def field_errors(page: str, field: str) -> str:
    """The error list rendered beside one field (render_field: <ul id="<field>-error">)."""
    match = re.search(rf'<ul class="field__errors" id="{field}-error">(.*?)</ul>', page, re.S)
    return match.group(1) if match else ""


# --- 同居承認 -----------------------------------------------------------------------------------------------


def join_data(**overrides) -> dict:
    data = {
        "event_date": TODAY.isoformat(),
        "name": "川崎　次郎",
        "name_kana": "かわさき じろう",
        "birth_date": "昭和30年1月10日",
        "sex": "male",
        "relation": "parent",
        "nationality": "日本",
        "salary_revenue": "1,200,000",
        "pension_revenue": "",
        "other_income": "",
        "disability": "none",
        "note": "",
    }
    data.update(overrides)
    return data


def test_join_within_the_limit_adds_the_member_and_explains_the_figure(app, staff_client, family):
    hid = family["hid"]
    response = post(staff_client, f"/staff/household/{hid}/events/join", join_data())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#members"
    page = text_of(response)
    # E1's household (1,510,000 net) + 給与所得 550,000 − 控除イ 380,000 − ヘ 100,000 → 1,580,000 / 12.
    assert "同居後の政令月収 131,666円（入居収入基準（一般）158,000円 以下）" in page
    assert "政令月収 = (2,920,000円 − 1,340,000円) ÷ 12 = 131,666円" in page
    assert "川崎\u3000次郎" in page and "カワサキ\u3000ジロウ" in page
    assert 'hx-swap-oob="true" class="section file-section" id="history"' in page
    assert (
        json.loads(response.headers["HX-Trigger"])["toast"]["message"]
        == "川崎\u3000次郎さんの同居を登録しました。"
    )
    with opened(app):
        person = Person.get(Person.household == hid, Person.name == "川崎\u3000次郎")
        assert (person.member_from, person.relation, person.is_head) == (TODAY, "parent", False)
        assert person.birth_date == dt.date(1955, 1, 10) and person.kana_key
    [event] = events_of(app, hid)
    assert (event.kind, event.event_date, event.person_id) == ("member_join", TODAY, person.id)
    assert "131,666円" in event.detail and "給与収入 1,200,000円" in event.detail
    assert event.recorded_by_id == staff_client.user.id
    names = fields_of(event_entries(app, hid, "member_join"))
    assert {"person.name", "person.member_from", "household_event.kind", "household_event.detail"} <= names


def test_join_over_the_limit_is_refused_with_the_figure_and_nothing_written(app, staff_client, family):
    hid = family["hid"]
    before = snapshot(app, hid)
    response = post(staff_client, f"/staff/household/{hid}/events/join", join_data(salary_revenue="3000000"))
    assert response.status_code == 422
    page = text_of(response)
    # 給与所得 2,020,000 (E2) − 480,000 → (4,390,000 − 1,340,000) / 12 = 254,166 > 158,000.
    assert (
        "同居後の政令月収 254,166円 が入居収入基準（一般）158,000円 を超えるため、同居を承認できません。"
        in page
    )
    assert "政令月収 = (4,390,000円 − 1,340,000円) ÷ 12 = 254,166円" in page
    assert "入居収入基準（一般）158,000円" in page and "超過" in page
    assert snapshot(app, hid) == before


def test_join_uses_the_special_limit_for_a_special_household(app, staff_client):
    family = make_family(app, category="special", special_reason="elderly")
    # 政令月収 with 給与収入 2,000,000: 給与所得 1,320,000 (2025: 2,000,000 × 70% − 80,000) − 480,000 → +840,000
    # → (1,510,000 + 840,000) / 12 = 195,833: over 一般 158,000 but within 特認 214,000.
    response = post(
        staff_client, f"/staff/household/{family['hid']}/events/join", join_data(salary_revenue="2000000")
    )
    assert response.status_code == 200, text_of(response)
    assert "195,833円（入居収入基準（特認）214,000円 以下）" in text_of(response)


def test_join_needs_a_declaration_and_valid_input(app, staff_client):
    with opened(app):
        household = make_household()
        make_person(household)
        make_tenancy(household)
        hid = household.id
    before = snapshot(app, hid)
    response = post(staff_client, f"/staff/household/{hid}/events/join", join_data())
    assert response.status_code == 422
    assert "収入申告（世帯員ごとの収入）が登録されていないため" in text_of(response)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/join",
        join_data(name="", name_kana="Kawasaki", birth_date="令和99年13月1日", sex="x", salary_revenue="-5"),
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "入力してください。" in field_errors(page, "name")
    assert "カタカナ" in field_errors(page, "name_kana")
    assert field_errors(page, "birth_date")
    assert "一覧から選んでください。" in field_errors(page, "sex")
    assert "0以上の整数" in field_errors(page, "salary_revenue")
    assert 'aria-invalid="true"' in page
    assert snapshot(app, hid) == before


def test_join_refuses_a_second_spouse_and_a_future_date(app, staff_client, family):
    hid = family["hid"]
    before = snapshot(app, hid)
    response = post(staff_client, f"/staff/household/{hid}/events/join", join_data(relation="spouse"))
    assert response.status_code == 422
    assert "配偶者はすでに世帯員として登録されています。" in field_errors(text_of(response), "relation")
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    response = post(staff_client, f"/staff/household/{hid}/events/join", join_data(event_date=tomorrow))
    assert response.status_code == 422
    assert "今日より後の日付は入力できません。" in field_errors(text_of(response), "event_date")
    assert snapshot(app, hid) == before


# --- 出生 ----------------------------------------------------------------------------------------------------


def test_birth_adds_a_child_from_the_birth_date(app, staff_client, family):
    hid = family["hid"]
    born = TODAY - dt.timedelta(days=3)
    data = {
        "name": "川崎 さくら",
        "name_kana": "カワサキ サクラ",
        "birth_date": born.isoformat(),
        "sex": "female",
    }
    response = post(staff_client, f"/staff/household/{hid}/events/birth", {**data, "relation": "child"})
    assert response.status_code == 200, text_of(response)
    assert toast(response) == "川崎\u3000さくらさんの出生を登録しました。"
    with opened(app):
        child = Person.get(Person.household == hid, Person.name == "川崎\u3000さくら")
        assert (child.member_from, child.birth_date, child.relation) == (born, born, "child")
    [event] = events_of(app, hid)
    assert (event.kind, event.event_date, event.person_id) == ("birth", born, child.id)

    before = snapshot(app, hid)
    future = {**data, "birth_date": (TODAY + dt.timedelta(days=1)).isoformat(), "relation": "child"}
    response = post(staff_client, f"/staff/household/{hid}/events/birth", future)
    assert response.status_code == 422
    assert "今日より後の日付は入力できません。" in field_errors(text_of(response), "birth_date")
    response = post(staff_client, f"/staff/household/{hid}/events/birth", {**data, "relation": "spouse"})
    assert response.status_code == 422
    assert snapshot(app, hid) == before


# --- 転出 and 死亡 ------------------------------------------------------------------------------------------


def test_member_leave_ends_the_membership(app, staff_client, family):
    hid, child = family["hid"], family["child"]
    day = TODAY - dt.timedelta(days=10)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/leave/{child}",
        {"person": str(child), "event_date": day.isoformat(), "leave_reason": "marriage"},
    )
    assert response.status_code == 200, text_of(response)
    page = text_of(response)
    assert toast(response) == "川崎 一郎さんの転出を登録しました。"
    with opened(app):
        person = Person.get_by_id(child)
        assert (person.member_to, person.leave_reason) == (day, "marriage")
    [event] = events_of(app, hid)
    assert (event.kind, event.person_id) == ("member_leave", child)
    assert {"person.member_to", "person.leave_reason"} <= fields_of(event_entries(app, hid, "member_leave"))
    # The history section (out of band) lists it; so does the page.
    page = text_of(staff_client.get(f"/staff/household/{hid}"))
    history = page[page.index('id="history"') :]
    assert "転出" in history and "川崎 一郎（子）が世帯から婚姻。" in history

    # The same member cannot leave twice.
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/leave",
        {"person": str(child), "event_date": TODAY.isoformat(), "leave_reason": "moved_out"},
    )
    assert response.status_code == 422


def test_the_head_cannot_just_leave(app, staff_client, family):
    hid = family["hid"]
    before = snapshot(app, hid)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/leave",
        {"person": str(family["head"]), "event_date": TODAY.isoformat(), "leave_reason": "moved_out"},
    )
    assert response.status_code == 422
    assert "名義人は転出の登録ができません。先に使用承継で新しい名義人を登録してください。" in field_errors(
        text_of(response), "person"
    )
    # A member of another household is not offered, and its id is refused.
    with opened(app):
        stranger = make_person(make_household(), is_head=False, relation="child").id
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/leave",
        {"person": str(stranger), "event_date": TODAY.isoformat(), "leave_reason": "moved_out"},
    )
    assert response.status_code == 422
    assert staff_client.get(f"/staff/household/{hid}/events/leave/{stranger}").status_code == 404
    assert snapshot(app, hid) == before


def test_death_of_the_head_then_succession_by_the_spouse(app, staff_client, family):
    hid, head, spouse = family["hid"], family["head"], family["spouse"]
    day = TODAY - dt.timedelta(days=5)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/death/{head}",
        {"person": str(head), "event_date": day.isoformat()},
    )
    assert response.status_code == 200, text_of(response)
    page = text_of(response)
    assert "名義人が亡くなりました。使用承継（新しい名義人）を登録してください。" in page
    assert "名義人がいません" in page  # the section now asks for a 使用承継
    with opened(app):
        person = Person.get_by_id(head)
        assert (person.deceased_on, person.member_to, person.leave_reason) == (day, day, "death")

    response = post(
        staff_client,
        f"/staff/household/{hid}/events/succession",
        {"person": str(spouse), "event_date": TODAY.isoformat()},
    )
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/staff/household/{hid}"
    with opened(app):
        new_head, old_head = Person.get_by_id(spouse), Person.get_by_id(head)
        assert (new_head.is_head, new_head.relation) == (True, "head")
        assert old_head.is_head is False and old_head.relation == "head"  # the former head's record stays
    kinds = [e.kind for e in events_of(app, hid)]
    assert kinds == ["death", "head_change"]
    detail = events_of(app, hid)[-1].detail
    assert "名義人を川崎 太郎から川崎 花子（配偶者）に変更。" in detail
    assert "他の世帯員の続柄は旧名義人から見たままです。" in detail
    assert {"person.is_head", "person.relation"} <= fields_of(event_entries(app, hid, "head_change"))
    page = text_of(staff_client.get(f"/staff/household/{hid}"))
    assert "川崎 花子世帯" in page and "名義人がいません" not in page


def test_succession_while_the_head_stays_and_its_refusals(app, staff_client, family):
    hid, head, child = family["hid"], family["head"], family["child"]
    with opened(app):
        adult = make_person(
            Household.get_by_id(hid),
            name="川崎 正子",
            name_kana="カワサキ マサコ",
            kana_key="カワサキマサコ",
            birth_date=dt.date(1950, 2, 2),
            sex="female",
            relation="parent",
            is_head=False,
            member_from=TODAY - dt.timedelta(days=100),
        ).id
    before = snapshot(app, hid)
    url = f"/staff/household/{hid}/events/succession"
    minor = post(staff_client, url, {"person": str(child), "event_date": TODAY.isoformat(), "approved": "y"})
    assert minor.status_code == 422 and "18歳未満です" in field_errors(text_of(minor), "person")
    recent = post(staff_client, url, {"person": str(adult), "event_date": TODAY.isoformat(), "approved": "y"})
    assert recent.status_code == 422 and "同居期間が1年に満たません" in field_errors(
        text_of(recent), "person"
    )
    assert snapshot(app, hid) == before

    with opened(app):
        Person.update(member_from=TODAY - dt.timedelta(days=800)).where(Person.id == adult).execute()
    unapproved = post(staff_client, url, {"person": str(adult), "event_date": TODAY.isoformat()})
    assert unapproved.status_code == 422 and "承認が必要です" in field_errors(text_of(unapproved), "person")
    approved = post(
        staff_client, url, {"person": str(adult), "event_date": TODAY.isoformat(), "approved": "y"}
    )
    assert approved.status_code == 200
    with opened(app):
        new_head, old_head = Person.get_by_id(adult), Person.get_by_id(head)
        assert (new_head.is_head, new_head.relation) == (True, "head")
        # The former head stays, as the new head's child (the new head was the former head's parent).
        assert (old_head.is_head, old_head.relation, old_head.member_to) == (False, "child", None)
        assert Person.get_by_id(family["spouse"]).relation == "spouse"  # others keep their relation
        assert Person.select().where((Person.household == hid) & Person.is_head).count() == 1


# --- 住替え --------------------------------------------------------------------------------------------------


def transfer_data(family, **overrides) -> dict:
    data = {
        "estate": str(family["estate2"]),
        "unit": str(family["vacant"]),
        "move_out_date": (TODAY - dt.timedelta(days=1)).isoformat(),
        "move_in_date": TODAY.isoformat(),
        "deposit": "",
        "old_unit_status": "repair",
        "note": "",
    }
    data.update(overrides)
    return data


def test_transfer_keeps_the_household_and_its_first_move_in_date(app, staff_client, family):
    hid = family["hid"]
    form = staff_client.get(f"/staff/household/{hid}/events/transfer", headers=HX)
    assert form.status_code == 200 and "市営さくら住宅" in text_of(form)
    units = staff_client.get(
        f"/staff/household/{hid}/events/transfer/units?estate={family['estate2']}", headers=HX
    )
    assert "3号棟 201号室" in text_of(units) and "3号棟 202号室" in text_of(units)

    response = post(staff_client, f"/staff/household/{hid}/events/transfer", transfer_data(family))
    assert response.status_code == 200, text_of(response)
    assert response.headers["HX-Redirect"] == f"/staff/household/{hid}"
    with opened(app):
        household = Household.get_by_id(hid)
        assert household.first_move_in_date == dt.date(2015, 4, 1) and household.status == "active"
        old = Tenancy.get_by_id(family["tenancy"])
        assert (old.status, old.move_out_date) == ("ended", TODAY - dt.timedelta(days=1))
        new = Tenancy.get((Tenancy.household == hid) & (Tenancy.status == "active"))
        assert (new.unit_id, new.move_in_date, new.reason, new.deposit) == (
            family["vacant"],
            TODAY,
            "transfer",
            115_800,
        )
        assert Unit.get_by_id(family["vacant"]).status == "occupied"
        assert Unit.get_by_id(family["unit"]).status == "repair"
    [event] = events_of(app, hid)
    assert event.kind == "transfer" and "当初入居日 平成27年4月1日 は変わりません" in event.detail
    names = fields_of(event_entries(app, hid, "transfer"))
    assert {"tenancy.status", "tenancy.move_out_date", "tenancy.unit", "unit.status"} <= names
    page = text_of(staff_client.get(f"/staff/household/{hid}"))
    assert "住替え" in page and "3DK" in page


def test_transfer_refusals(app, staff_client, family):
    hid = family["hid"]
    before = snapshot(app, hid)
    url = f"/staff/household/{hid}/events/transfer"
    same = post(staff_client, url, transfer_data(family, unit=str(family["unit"])))
    assert same.status_code == 422
    assert "現在の住戸とは別の住戸を選んでください。" in field_errors(text_of(same), "unit")
    nowhere = post(staff_client, url, transfer_data(family, unit="999999"))
    assert nowhere.status_code == 422
    assert "住替え先の住戸を選んでください。" in field_errors(text_of(nowhere), "unit")
    backwards = post(
        staff_client, url, transfer_data(family, move_in_date=(TODAY - dt.timedelta(days=3)).isoformat())
    )
    assert backwards.status_code == 422
    assert "新しい住戸の入居日は元の住戸の退去日以降にしてください。" in field_errors(
        text_of(backwards), "move_in_date"
    )
    assert snapshot(app, hid) == before
    # The unit chosen is let (here: set aside) before the form is posted: 409, the reason beside it.
    with opened(app):
        Unit.update(status="policy_vacant").where(Unit.id == family["vacant2"]).execute()
    before = snapshot(app, hid)
    taken = post(staff_client, url, transfer_data(family, unit=str(family["vacant2"])))
    assert taken.status_code == 409
    assert "この住戸は空家ではありません（政策空家）。ほかの住戸を選んでください。" in field_errors(
        text_of(taken), "unit"
    )
    assert snapshot(app, hid) == before


def test_transfer_without_javascript_lists_units_then_redirects(app, staff_client, family):
    hid = family["hid"]
    page = staff_client.get(f"/staff/household/{hid}/events/transfer")
    assert page.status_code == 200 and "<html" in text_of(page) and "この団地の空家を表示" in text_of(page)
    listed = post(
        staff_client,
        f"/staff/household/{hid}/events/transfer",
        {"estate": str(family["estate2"]), "step": "units"},
        htmx=False,
    )
    assert listed.status_code == 200 and "3号棟 201号室" in text_of(listed)
    done = post(staff_client, f"/staff/household/{hid}/events/transfer", transfer_data(family), htmx=False)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/staff/household/{hid}#household")
    assert "住替えを登録しました" in text_of(staff_client.get(done.headers["Location"]))


def concurrent_transfers(app, households, unit_id, today):
    """Transfer every household into the same unit at once; the outcome of each attempt."""
    barrier = threading.Barrier(len(households))
    results = []
    lock = threading.Lock()

    def attempt(hid):
        barrier.wait()
        try:
            with app.app_context(), db.connection_context():
                events.transfer(hid, unit_id, today - dt.timedelta(days=1), today, today=today)
                outcome = "ok"
        except events.EventConflict as exc:
            with app.test_request_context():
                outcome = str(exc.message)
        except Exception as exc:  # anything else is a failure of the test, reported with the results
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(hid,)) for hid in households]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_transfers_into_one_unit_leave_exactly_one(engine_db):
    """Eight households ask for the same vacant unit at the same moment (SQLite and PostgreSQL)."""
    today = dt.date(2026, 5, 10)
    estate = make_estate()
    target = make_unit(make_building(estate), status="vacant")
    households = []
    for _ in range(8):
        household = make_household()
        make_person(household)
        make_tenancy(household, make_unit(status="occupied"), move_in_date=dt.date(2020, 4, 1))
        households.append(household.id)
    db.close()
    results = concurrent_transfers(current_app._get_current_object(), households, target.id, today)
    assert results.count("ok") == 1, results
    losers = [r for r in results if r != "ok"]
    assert len(losers) == 7
    assert all(
        "先に入居が決まりました" in message or "空家ではありません（入居中）" in message for message in losers
    ), losers
    with db.connection_context():
        active = Tenancy.select().where((Tenancy.unit == target.id) & (Tenancy.status == "active"))
        assert active.count() == 1
        winner = active.get().household_id
        # The losers are untouched: still in their own unit, no event, no ended tenancy.
        for hid in households:
            if hid == winner:
                continue
            assert (
                Tenancy.select().where((Tenancy.household == hid) & (Tenancy.status == "active")).count() == 1
            )
            assert (
                Tenancy.select().where((Tenancy.household == hid) & (Tenancy.status == "ended")).count() == 0
            )
            assert HouseholdEvent.select().where(HouseholdEvent.household == hid).count() == 0
        assert Unit.get_by_id(target.id).status == "occupied"


# --- 退去 ---------------------------------------------------------------------------------------------------


def with_billing(app, family, *, last_day):
    """The last month's rent charged in full and paid, the next month's charged and unpaid, an earlier
    month partly unpaid; a parking contract; bank transfers for rent and parking."""
    with opened(app):
        hid = family["hid"]
        period = month_start(last_day)
        following = month_start(period + dt.timedelta(days=40))
        earlier = month_start(period - dt.timedelta(days=1))
        last = Charge.create(
            household=hid, kind="rent", period=period, source_key="rent", amount=38_600, due_date=period
        )
        Payment.create(
            charge=last, amount=38_600, receipt_date=period, posted_date=period, method="bank_transfer"
        )
        Charge.create(
            household=hid, kind="rent", period=following, source_key="rent", amount=38_600, due_date=following
        )
        old = Charge.create(
            household=hid, kind="rent", period=earlier, source_key="rent", amount=38_600, due_date=earlier
        )
        Payment.create(charge=old, amount=26_300, receipt_date=earlier, posted_date=earlier, method="counter")
        lot = ParkingLot.create(estate=make_estate(), code="P1", name="第1駐車場", monthly_fee=6_000)
        space = ParkingSpace.create(lot=lot, space_no="12", monthly_fee=6_000, status="contracted")
        contract = ParkingContract.create(
            space=space,
            household=hid,
            user_person=family["head"],
            start_date=dt.date(2018, 4, 1),
            monthly_fee=6_000,
        )
        for purpose in ("rent", "parking"):
            BankTransfer.create(
                household=hid,
                purpose=purpose,
                bank_code="0001",
                branch_code="001",
                account_number="1234567",
                holder_kana="ｶﾜｻｷ ﾀﾛｳ",
                valid_from=dt.date(2016, 1, 1),
            )
        return {"contract": contract.id, "space": space.id, "last": last.id, "earlier": old.id}


def move_out_data(last_day, **overrides):
    data = {
        "last_day": last_day.isoformat(),
        "repair_cost": "30,000",
        "unit_status": "repair",
        "keys_returned_on": last_day.isoformat(),
        "inspection_on": "",
        "repair_needs": "襖の張替え",
        "note": "",
    }
    data.update(overrides)
    return data


def test_move_out_preview_computes_the_figures_and_saves_nothing(app, staff_client, family):
    hid = family["hid"]
    last_day = previous_month_15th(TODAY)
    with_billing(app, family, last_day=last_day)
    before = snapshot(app, hid)
    days = rules.days_in_month(last_day)
    rent = 38_600 * 15 // days
    parking = 6_000 * 15 // days
    response = post(staff_client, f"/staff/household/{hid}/events/move-out", move_out_data(last_day))
    assert response.status_code == 200, text_of(response)
    page = text_of(response)
    assert "退去の確認" in page
    assert f"38,600円 × 15日 ÷ {days}日 = {rent:,}円" in page
    assert f"6,000円 × 15日 ÷ {days}日 = {parking:,}円" in page
    # Unpaid: 12,300 of the earlier month + the new parking charge; credit: the last month paid in full.
    unpaid = 12_300 + parking
    credit = 38_600 - rent
    balance = 115_800 + credit - unpaid - 30_000
    assert f"返還額 {balance:,}円" in page
    assert re.search(r'data-testid="settlement-refund">¥' + f"{balance:,}", page)
    assert 'name="digest"' in page
    assert snapshot(app, hid) == before


def test_move_out_confirm_writes_everything_in_one_go(app, staff_client, family):
    hid = family["hid"]
    last_day = previous_month_15th(TODAY)
    billing = with_billing(app, family, last_day=last_day)
    preview = post(staff_client, f"/staff/household/{hid}/events/move-out", move_out_data(last_day))
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.get_data(as_text=True)).group(1)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/move-out/confirm",
        {**move_out_data(last_day), "digest": digest},
    )
    assert response.status_code == 200, text_of(response)
    assert response.headers["HX-Redirect"] == f"/staff/household/{hid}"
    days = rules.days_in_month(last_day)
    rent, parking = 38_600 * 15 // days, 6_000 * 15 // days
    balance = 115_800 + (38_600 - rent) - (12_300 + parking) - 30_000
    with opened(app):
        household = Household.get_by_id(hid)
        tenancy = Tenancy.get_by_id(family["tenancy"])
        assert household.status == "moved_out"
        assert (tenancy.status, tenancy.move_out_date, tenancy.deposit_settled_on) == (
            "ended",
            last_day,
            TODAY,
        )
        assert (tenancy.repair_cost, tenancy.deposit_refund, tenancy.settlement_due) == (30_000, balance, 0)
        assert Unit.get_by_id(family["unit"]).status == "repair"
        assert Charge.get_by_id(billing["last"]).amount == rent
        later = Charge.select().where((Charge.household == hid) & (Charge.period > month_start(last_day)))
        assert [c.cancelled for c in later] == [True]
        new_parking = Charge.get((Charge.household == hid) & (Charge.kind == "parking"))
        assert (new_parking.amount, new_parking.period, new_parking.parking_contract_id) == (
            parking,
            month_start(last_day),
            billing["contract"],
        )
        contract = ParkingContract.get_by_id(billing["contract"])
        assert (contract.status, contract.end_date) == ("ended", last_day)
        assert ParkingSpace.get_by_id(billing["space"]).status == "available"
        assert [b.valid_to for b in BankTransfer.select().where(BankTransfer.household == hid)] == [
            last_day
        ] * 2
        people = list(Person.select().where(Person.household == hid))
        assert {(p.member_to, p.leave_reason) for p in people} == {(last_day, "household_moved_out")}
        procedure = MoveProcedure.get(MoveProcedure.tenancy == family["tenancy"])
        assert (procedure.kind, procedure.keys_handed_on, procedure.repair_needs) == (
            "move_out",
            last_day,
            "襖の張替え",
        )
    [event] = events_of(app, hid)
    assert event.kind == "move_out" and event.event_date == last_day
    assert f"返還額 {balance:,}円" in event.detail
    names = fields_of(event_entries(app, hid, "move_out"))
    assert {
        "household.status",
        "tenancy.move_out_date",
        "tenancy.deposit_refund",
        "charge.amount",
        "charge.cancelled",
        "parking_contract.end_date",
        "bank_transfer.valid_to",
        "person.member_to",
        "unit.status",
    } <= names
    page = text_of(staff_client.get(f"/staff/household/{hid}"))
    assert "退去を登録しました（返還額" in page  # the flash after the reload
    assert "退去済" in page
    # A moved-out household takes no more events.
    again = post(staff_client, f"/staff/household/{hid}/events/move-out", move_out_data(last_day))
    assert again.status_code == 422 and "退去済みの世帯" in text_of(again)


def test_move_out_with_a_shortfall_and_a_stale_confirmation(app, staff_client, family):
    hid = family["hid"]
    last_day = previous_month_15th(TODAY)
    billing = with_billing(app, family, last_day=last_day)
    data = move_out_data(last_day, repair_cost="250000")
    preview = post(staff_client, f"/staff/household/{hid}/events/move-out", data)
    page = preview.get_data(as_text=True)
    assert "不足額（請求）" in html.unescape(page)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', page).group(1)
    # A payment is posted after the preview: the figures change, the confirmation is refused.
    with opened(app):
        earlier = Charge.get_by_id(billing["earlier"])
        Payment.create(charge=earlier, amount=12_300, receipt_date=TODAY, posted_date=TODAY, method="counter")
    before = snapshot(app, hid)
    stale = post(staff_client, f"/staff/household/{hid}/events/move-out/confirm", {**data, "digest": digest})
    assert stale.status_code == 409
    assert "確認画面を表示した後に" in text_of(stale)
    assert snapshot(app, hid) == before
    fresh = re.search(r'name="digest" value="([0-9a-f]+)"', stale.get_data(as_text=True)).group(1)
    assert fresh != digest
    done = post(staff_client, f"/staff/household/{hid}/events/move-out/confirm", {**data, "digest": fresh})
    assert done.status_code == 200
    with opened(app):
        tenancy = Tenancy.get_by_id(family["tenancy"])
        assert tenancy.deposit_refund == 0 and tenancy.settlement_due > 0


def test_move_out_refusals_and_plain_form(app, staff_client, family):
    hid = family["hid"]
    before = snapshot(app, hid)
    url = f"/staff/household/{hid}/events/move-out"
    future = post(staff_client, url, move_out_data(TODAY + dt.timedelta(days=2)))
    assert future.status_code == 422 and "今日より後の日付は入力できません。" in field_errors(
        text_of(future), "last_day"
    )
    early = post(staff_client, url, move_out_data(dt.date(2015, 3, 31)))
    assert early.status_code == 422 and "入居日（平成27年4月1日）以降" in field_errors(
        text_of(early), "last_day"
    )
    bad = post(staff_client, url, move_out_data(TODAY, repair_cost="三万円", unit_status="occupied"))
    assert bad.status_code == 422
    assert field_errors(text_of(bad), "repair_cost") and field_errors(text_of(bad), "unit_status")
    # Confirming without having seen the figures shows them (409) and commits nothing.
    blind = post(staff_client, f"{url}/confirm", move_out_data(TODAY))
    assert blind.status_code == 409 and "退去の確認" in text_of(blind)
    assert snapshot(app, hid) == before
    page = staff_client.get(url)
    assert page.status_code == 200 and "<html" in text_of(page) and "精算額を確認" in text_of(page)
    # 入力に戻る on the confirmation page: the form again with what was typed.
    back = post(staff_client, url, {**move_out_data(TODAY), "step": "edit"})
    assert back.status_code == 200 and 'value="30,000"' in back.get_data(as_text=True)
    assert "精算額を確認" in text_of(back)
    assert snapshot(app, hid) == before


# --- access ---------------------------------------------------------------------------------------------


URLS = [
    ("GET", "/staff/household/{hid}/events/join"),
    ("POST", "/staff/household/{hid}/events/join"),
    ("GET", "/staff/household/{hid}/events/birth"),
    ("POST", "/staff/household/{hid}/events/leave"),
    ("GET", "/staff/household/{hid}/events/death"),
    ("POST", "/staff/household/{hid}/events/succession"),
    ("GET", "/staff/household/{hid}/events/transfer"),
    ("GET", "/staff/household/{hid}/events/transfer/units"),
    ("POST", "/staff/household/{hid}/events/move-out"),
    ("POST", "/staff/household/{hid}/events/move-out/confirm"),
]


@pytest.mark.parametrize(("method", "url"), URLS)
def test_contractor_is_refused(app, contractor_client, family, method, url):
    target = url.format(hid=family["hid"])
    before = snapshot(app, family["hid"])
    if method == "GET":
        response = contractor_client.get(target)
    else:
        response = post(
            contractor_client, target, {"person": str(family["child"]), "event_date": TODAY.isoformat()}
        )
    assert response.status_code == 403
    assert snapshot(app, family["hid"]) == before


@pytest.mark.parametrize(("method", "url"), URLS)
def test_out_of_scope_and_unknown_households_are_404(app, staff_client, method, url):
    with opened(app):
        protected = make_household(support_measure=True)
        make_person(protected)
        make_tenancy(protected)
        make_assignment(protected, make_account("staff"))  # assigned to someone else
        hid = protected.id
    before = snapshot(app, hid)
    for target in (url.format(hid=hid), url.format(hid=999_999)):
        if method == "GET":
            response = staff_client.get(target)
        else:
            response = post(staff_client, target, {"event_date": TODAY.isoformat()})
        assert response.status_code == 404, target
    assert snapshot(app, hid) == before


def test_action_links_on_the_household_page(app, staff_client, family):
    page = text_of(staff_client.get(f"/staff/household/{family['hid']}"))
    for path in ("events/transfer", "events/move-out", "events/join", "events/birth", "events/succession"):
        assert f"/staff/household/{family['hid']}/{path}" in page
    assert f"events/leave/{family['child']}" in page and f"events/death/{family['head']}" in page
    assert f"events/leave/{family['head']}" not in page  # the head has no 転出 link
    assert 'id="member-event-slot"' in page
    # A member event's form opens as a fragment into the slot.
    form = staff_client.get(f"/staff/household/{family['hid']}/events/leave/{family['child']}", headers=HX)
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    assert f'<option selected value="{family["child"]}">' in form.get_data(as_text=True)


def test_audit_entries_are_filed_under_the_household_and_name_columns(app, staff_client, family):
    hid = family["hid"]
    post(staff_client, f"/staff/household/{hid}/events/join", join_data())
    for entry in event_entries(app, hid, "member_join"):
        assert entry.target_table == "household" and entry.outcome == "allowed"
        assert all("." in name for name in json.loads(entry.fields))
        assert entry.actor_id == staff_client.user.id


def test_free_text_never_carries_a_my_number_and_amounts_are_bounded(app, staff_client, family):
    import random

    from rules import mynumber

    number = mynumber.generate(random.Random(7))
    hid = family["hid"]
    before = snapshot(app, hid)
    response = post(
        staff_client,
        f"/staff/household/{hid}/events/join",
        join_data(note=f"本人の番号 {number}", salary_revenue="123,456,789,012"),
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "個人番号と思われる12桁の数字は入力できません。" in field_errors(page, "note")
    assert "金額は10億円未満で入力してください。" in field_errors(page, "salary_revenue")
    assert snapshot(app, hid) == before


def test_a_member_event_without_javascript(app, staff_client, family):
    hid, child = family["hid"], family["child"]
    page = staff_client.get(f"/staff/household/{hid}/events/death/{child}")
    assert page.status_code == 200 and "<html" in text_of(page) and "死亡を登録" in text_of(page)
    day = TODAY - dt.timedelta(days=2)
    done = post(
        staff_client,
        f"/staff/household/{hid}/events/death",
        {"person": str(child), "event_date": day.isoformat()},
        htmx=False,
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/staff/household/{hid}#members")
    assert "川崎 一郎さんの死亡を登録しました。" in text_of(staff_client.get(done.headers["Location"]))
    with opened(app):
        person = Person.get_by_id(child)
        assert (person.deceased_on, person.leave_reason) == (day, "death")
