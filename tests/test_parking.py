"""Parking (駐車場): contracts and their rules, vehicles and plates, the one-field 車検 edit, lots and
spaces, the 車検切れ list, access, conflicts, the no-JavaScript flow and concurrent contracts."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from flask import current_app

from extensions import db
from models import AuditEntry, ParkingContract, ParkingLot, ParkingSpace, Person, Vehicle
from rules import wareki
from rules.filters import today_tokyo
from services import parking as service
from services.editing import RuleViolation
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
    make_ward,
)
from tests.test_household_page import counting_queries

TODAY = today_tokyo()
HX = {"HX-Request": "true"}


@contextmanager
def opened(app):
    with app.app_context(), db.connection_context():
        yield


def make_lot(estate, *, spaces=3, fee=5000, code="P1", name=None):
    lot = ParkingLot.create(
        estate=estate,
        code=code,
        name=name or f"{estate.name}駐車場",
        residents_association="テスト自治会",
        monthly_fee=fee,
    )
    made = [ParkingSpace.create(lot=lot, space_no=str(n), monthly_fee=fee) for n in range(1, spaces + 1)]
    return lot, made


def resident(estate, **kw):
    """A household living in estate now, with its head (名義人)."""
    household = make_household(**kw)
    make_tenancy(household=household, unit=make_unit(building=make_building(estate=estate)))
    head = make_person(household=household)
    return household, head


def scene(app) -> SimpleNamespace:
    """Estate A with a lot of 3 spaces and a household (head, spouse, a member who left); estate B with a lot."""
    with opened(app):
        estate = make_estate(ward=make_ward(), name="市営小田住宅")
        household, head = resident(estate)
        spouse = make_person(
            household=household, name="川崎 花子", name_kana="カワサキ ハナコ", kana_key="カワサキハナコ",
            relation="spouse", is_head=False, sex="female",
        )  # fmt: skip
        left = make_person(
            household=household, name="川崎 次郎", name_kana="カワサキ ジロウ", kana_key="カワサキジロウ",
            relation="child", is_head=False, member_to=TODAY - dt.timedelta(days=30),
        )  # fmt: skip
        lot, spaces = make_lot(estate)
        other_estate = make_estate(ward=make_ward(), name="市営別団地")
        other_lot, other_spaces = make_lot(other_estate, spaces=1)
        neighbour, neighbour_head = resident(estate)
        return SimpleNamespace(
            estate=estate, household=household, head=head, spouse=spouse, left=left, lot=lot, spaces=spaces,
            other_space=other_spaces[0], neighbour=neighbour, neighbour_head=neighbour_head,
        )  # fmt: skip


def contract_for(s, *, space=None, household=None, person=None, start=dt.date(2024, 4, 1), **kw):
    """A contract written directly (the space marked contracted), for tests about what follows."""
    space = space or s.spaces[0]
    contract = ParkingContract.create(
        space=space, household=household or s.household, user_person=person or s.head,
        start_date=start, monthly_fee=space.monthly_fee, **kw,
    )  # fmt: skip
    ParkingSpace.update(status="contracted").where(ParkingSpace.id == space.id).execute()
    return contract


def vehicle_for(contract, **kw):
    return Vehicle.create(
        **{
            "contract": contract,
            "registration_no": "川崎 500 あ 12-34",
            "model": "プリウス",
            "chassis_no": "ZVW30-1234567",
            "owner_name": "川崎 太郎",
            "user_name": "川崎 太郎",
            "inspection_expiry": TODAY + dt.timedelta(days=200),
            "valid_from": contract.start_date,
            **kw,
        }
    )


def post(client, url, data=None, *, htmx=True):
    body = {"csrf_token": csrf_token_of(client), **(data or {})}
    return client.post(url, data=body, headers=HX if htmx else {})


def text(response) -> str:
    return response.get_data(as_text=True)


def errors_of(html: str, field: str) -> str:
    """The error list rendered beside a field (render_field: <ul id="<field>-error">)."""
    found = re.search(rf'<ul class="field__errors" id="{field}-error">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def new_contract_url(s):
    return f"/staff/household/{s.household.id}/parking/contracts/new"


def contract_data(s, **overrides):
    return {
        "space": str(s.spaces[0].id),
        "user_person": str(s.head.id),
        "start_date": "令和8年4月1日",
        "reduction_amount": "",
        "note": "",
        **overrides,
    }


def last_entry(app, action):
    with opened(app):
        return AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).first()


# --- registration numbers -------------------------------------------------------------------------------

PLATES_OK = [
    ("川崎 500 あ 12-34", "川崎 500 あ 12-34"),
    ("川崎500あ1234", "川崎 500 あ 12-34"),
    ("川崎　５００　あ　１２－３４", "川崎 500 あ 12-34"),
    ("横浜 33 さ 123", "横浜 33 さ ・123"),
    ("品川 300 た ・・12", "品川 300 た ・・12"),
    ("川崎 580 ア 1", "川崎 580 あ ・・・1"),  # katakana typed: the plate's hiragana
    ("湘南 3ca わ 45ー67", "湘南 3CA わ 45-67"),  # 分類番号 with letters, a long-vowel mark as the dash
    ("つくば 500 な 88-88", "つくば 500 な 88-88"),  # a hiragana 地名
    ("尾張小牧 100 ま 99-99", "尾張小牧 100 ま 99-99"),
]

PLATES_REFUSED = [
    ("", "地名・分類番号・ひらがな・一連番号"),
    ("500 あ 12-34", "地名・分類番号・ひらがな・一連番号"),  # no 地名
    ("川崎 あ 12-34", "地名・分類番号・ひらがな・一連番号"),  # no 分類番号
    ("川崎 500 12-34", "地名・分類番号・ひらがな・一連番号"),  # no ひらがな
    ("Kawasaki 500 あ 12-34", "地名（川崎、横浜など）"),
    ("川崎 5000 あ 12-34", "分類番号は1〜3桁"),
    ("川崎 3BB あ 12-34", "分類番号は1〜3桁"),  # B is not a plate letter
    ("川崎 500 AB 12-34", "ひらがなは1文字"),
    ("川崎 500 お 12-34", "「お」「し」「へ」「ん」"),
    ("川崎 500 あ 123-45", "一連番号は1〜4桁"),
    ("川崎 500 あ 0", "一連番号は1〜4桁"),
]


@pytest.mark.parametrize(("typed", "stored"), PLATES_OK)
def test_plates_are_normalised(typed, stored):
    assert service.normalize_plate(typed) == stored


@pytest.mark.parametrize(("typed", "message"), PLATES_REFUSED)
def test_plates_that_cannot_be_read_are_refused_with_a_reason(app, typed, message):
    with app.test_request_context(), pytest.raises(service.PlateError) as refused:
        service.normalize_plate(typed)
    assert message in str(refused.value.args[0])


@pytest.mark.parametrize(
    ("typed", "stored"), [("zvw30-1234567", "ZVW30-1234567"), ("ＪＦ１－１２３４５６７", "JF1-1234567")]
)
def test_chassis_numbers_are_normalised(typed, stored):
    assert service.normalize_chassis(typed) == stored


@pytest.mark.parametrize("typed", ["ZVW30_123", "ZVW 30/1", "-ZVW30", "AB"])
def test_chassis_numbers_with_other_characters_are_refused(typed):
    with pytest.raises(ValueError):
        service.normalize_chassis(typed)


# --- contracts -------------------------------------------------------------------------------------------


def test_new_contract_inline_saves_renders_the_section_and_audits(app, staff_client):
    s = scene(app)
    form = staff_client.get(new_contract_url(s), headers=HX)
    assert form.status_code == 200
    html = text(form)
    assert "市営小田住宅駐車場 1番" in html and "川崎 花子" in html
    assert "川崎 次郎" not in html  # a member who left is not offered
    assert "市営別団地" not in html  # nor the spaces of another estate
    assert "approve_extra" not in html  # staff cannot approve a second space

    response = post(
        staff_client, new_contract_url(s), contract_data(s, reduction_amount="2,000円", monthly_fee="1")
    )
    assert response.status_code == 200, text(response)
    assert response.headers["HX-Retarget"] == "#parking"
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "駐車場の契約を登録しました。"
    html = text(response)
    assert html.lstrip().startswith('<section class="section file-section" id="parking"')
    assert "変更履歴" in html and "区画使用者" in html
    with opened(app):
        contract = ParkingContract.get(ParkingContract.household == s.household.id)
        assert (contract.start_date, contract.monthly_fee, contract.reduction_amount) == (
            dt.date(2026, 4, 1), 5000, 2000,
        )  # fmt: skip
        assert ParkingSpace.get_by_id(s.spaces[0].id).status == "contracted"
    entry = last_entry(app, "parking.contract.start")
    assert json.loads(entry.target_ids) == [s.household.id] and entry.target_table == "household"
    changes = json.loads(entry.changes)
    assert changes["parking_contract.space"] == [None, "市営小田住宅駐車場 1番"]
    assert changes["parking_contract.user_person"] == [None, "川崎 太郎"]
    assert changes["parking_contract.monthly_fee"] == [None, 5000]  # the space's fee, not the posted one


def test_a_person_outside_the_household_cannot_be_the_user(app, staff_client):
    s = scene(app)
    response = post(staff_client, new_contract_url(s), contract_data(s, user_person=str(s.neighbour_head.id)))
    assert response.status_code == 422
    assert "この世帯の世帯員から選んでください" in errors_of(text(response), "user_person")
    with opened(app):
        assert ParkingContract.select().count() == 0
        assert ParkingSpace.get_by_id(s.spaces[0].id).status == "available"


def test_a_member_who_left_cannot_be_the_user(app, staff_client):
    s = scene(app)
    response = post(staff_client, new_contract_url(s), contract_data(s, user_person=str(s.left.id)))
    assert response.status_code == 422
    assert "川崎 次郎さんは現在の世帯員ではありません" in errors_of(text(response), "user_person")
    with opened(app):
        assert ParkingContract.select().count() == 0


def test_the_user_must_be_a_member_on_the_start_date(app, staff_client):
    s = scene(app)
    with opened(app):
        Person.update(member_from=dt.date(2025, 1, 10)).where(Person.id == s.spouse.id).execute()
    data = contract_data(s, user_person=str(s.spouse.id), start_date="2025-01-01")
    response = post(staff_client, new_contract_url(s), data)
    assert response.status_code == 422
    assert "使用開始日（令和7年1月1日）に世帯員ではありません" in errors_of(text(response), "start_date")


def test_a_space_of_another_estate_is_refused(app, staff_client):
    s = scene(app)
    response = post(staff_client, new_contract_url(s), contract_data(s, space=str(s.other_space.id)))
    assert response.status_code == 422
    assert "入居している団地の駐車場の区画を選んでください" in errors_of(text(response), "space")
    for bad in ("999999", "abc", ""):
        response = post(staff_client, new_contract_url(s), contract_data(s, space=bad))
        assert response.status_code == 422
        assert errors_of(text(response), "space")


def test_a_second_contract_needs_an_officers_approval(app, staff_client, officer_client):
    s = scene(app)
    with opened(app):
        contract_for(s)
    # Staff: refused, even with a forged approval.
    data = contract_data(s, space=str(s.spaces[1].id), approve_extra="y", approval_reason="介護")
    response = post(staff_client, new_contract_url(s), data)
    assert response.status_code == 422
    message = errors_of(text(response), "space")
    assert (
        "すでに駐車場を使用しています（市営小田住宅駐車場 1番）" in message and "保護責任者の承認" in message
    )
    # An officer without a reason: asked for one; with it: the second space, recorded as approved.
    form = officer_client.get(new_contract_url(s), headers=HX)
    assert "2区画目の使用を承認する" in text(form)
    response = post(officer_client, new_contract_url(s), {**data, "approval_reason": ""})
    assert response.status_code == 422
    assert "理由を入力してください" in errors_of(text(response), "approval_reason")
    response = post(officer_client, new_contract_url(s), data)
    assert response.status_code == 200, text(response)
    assert "2区画目（保護責任者承認）: 介護" in text(response)
    with opened(app):
        second = ParkingContract.get(ParkingContract.space == s.spaces[1].id)
        assert second.extra_space_approved_by_id == officer_client.user.id
        assert second.extra_space_reason == "介護"
    changes = json.loads(last_entry(app, "parking.contract.start").changes)
    assert changes["parking_contract.extra_space_reason"] == [None, "介護"]


def test_an_officer_approval_is_not_recorded_on_a_first_contract(app, officer_client):
    s = scene(app)
    data = contract_data(s, approve_extra="y", approval_reason="不要")
    assert post(officer_client, new_contract_url(s), data).status_code == 200
    with opened(app):
        assert ParkingContract.get().extra_space_approved_by_id is None


def test_the_reduction_is_at_most_the_fee_and_an_occupied_space_is_refused(app, staff_client):
    s = scene(app)
    response = post(staff_client, new_contract_url(s), contract_data(s, reduction_amount="5001"))
    assert response.status_code == 422
    assert "減免額は駐車場使用料（5,000円）以下" in errors_of(text(response), "reduction_amount")
    with opened(app):
        contract_for(s, household=s.neighbour, person=s.neighbour_head)
    response = post(staff_client, new_contract_url(s), contract_data(s))
    assert response.status_code == 422
    assert "市営小田住宅駐車場 1番は空いていません（契約中）" in errors_of(text(response), "space")


def test_a_contract_starts_after_the_previous_one_on_the_space_ended(app, staff_client):
    s = scene(app)
    with opened(app):
        old = contract_for(s, household=s.neighbour, person=s.neighbour_head)
        service.end_contract(old, old.version, end_date=dt.date(2026, 4, 10))
    response = post(staff_client, new_contract_url(s), contract_data(s, start_date="2026-04-10"))
    assert response.status_code == 422
    assert "前の契約の廃止日（令和8年4月10日）より後" in errors_of(text(response), "start_date")
    assert (
        post(staff_client, new_contract_url(s), contract_data(s, start_date="2026-04-11")).status_code == 200
    )


def test_a_household_that_moved_out_cannot_start_a_contract(app, staff_client):
    s = scene(app)
    with opened(app):
        from models import Tenancy

        Tenancy.update(status="ended", move_out_date=TODAY).where(
            Tenancy.household == s.household.id
        ).execute()
    response = post(staff_client, new_contract_url(s), contract_data(s))
    assert response.status_code == 422
    assert "入居中の世帯ではない" in text(response)


def test_ending_a_contract_frees_the_space_and_deregisters_the_vehicle(app, staff_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
        vehicle = vehicle_for(contract)
    url = f"/staff/household/{s.household.id}/parking/contracts/{contract.id}/end"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200 and 'name="end_date"' in text(form)
    response = post(staff_client, url, {"version": "1", "end_date": "2024-03-31"})
    assert response.status_code == 422
    assert "廃止日は使用開始日（令和6年4月1日）以降" in errors_of(text(response), "end_date")
    response = post(staff_client, url, {"version": "1", "end_date": "2026-05-31"})
    assert response.status_code == 200, text(response)
    assert "区画は空きに戻りました" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    with opened(app):
        ended = ParkingContract.get_by_id(contract.id)
        assert (ended.status, ended.end_date) == ("ended", dt.date(2026, 5, 31))
        assert ParkingSpace.get_by_id(s.spaces[0].id).status == "available"
        assert Vehicle.get_by_id(vehicle.id).valid_to == dt.date(2026, 5, 31)
    entry = last_entry(app, "parking.contract.end")
    assert set(json.loads(entry.fields)) == {
        "parking_contract.end_date", "parking_contract.status", "vehicle.valid_to",
    }  # fmt: skip
    # Ending it again: the form is gone (404), a stale post is refused.
    assert staff_client.get(url, headers=HX).status_code == 404
    assert post(staff_client, url, {"version": "2", "end_date": "2026-06-30"}).status_code == 422


def test_changing_the_user_and_reduction_of_a_contract(app, staff_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
    url = f"/staff/household/{s.household.id}/parking/contracts/{contract.id}/edit"
    response = post(
        staff_client, url, {"version": "1", "user_person": str(s.left.id), "reduction_amount": "0"}
    )
    assert response.status_code == 422
    assert "現在の世帯員ではありません" in errors_of(text(response), "user_person")
    data = {"version": "1", "user_person": str(s.spouse.id), "reduction_amount": "2500"}
    response = post(staff_client, url, data)
    assert response.status_code == 200, text(response)
    changes = json.loads(last_entry(app, "parking.contract.update").changes)
    assert changes == {
        "parking_contract.user_person": ["川崎 太郎", "川崎 花子"],
        "parking_contract.reduction_amount": [0, 2500],
    }
    # The same form again (version 1): 409 with both versions.
    response = post(staff_client, url, {**data, "user_person": str(s.head.id), "reduction_amount": "100"})
    assert response.status_code == 409
    assert "ほかの職員が先に保存しました" in text(response) and "川崎 花子" in text(response)


# --- vehicles --------------------------------------------------------------------------------------------


def vehicle_data(**overrides):
    return {
        "registration_no": "川崎５００さ１２３４",
        "model": "フィット",
        "chassis_no": "gr3-1234567",
        "owner_name": "川崎 太郎",
        "user_name": "川崎　太郎",
        "inspection_expiry": "令和9年3月31日",
        "valid_from": "2026-04-01",
        **overrides,
    }


def test_registering_a_vehicle_normalises_it(app, staff_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
    url = f"/staff/household/{s.household.id}/parking/contracts/{contract.id}/vehicles/new"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200 and 'name="registration_no"' in text(form)
    response = post(staff_client, url, vehicle_data(registration_no="川崎 500 し 12-34"))
    assert response.status_code == 422
    assert "「お」「し」「へ」「ん」" in errors_of(text(response), "registration_no")
    response = post(staff_client, url, vehicle_data(chassis_no="GR3_1234"))
    assert response.status_code == 422
    assert "英数字とハイフン" in errors_of(text(response), "chassis_no")
    response = post(staff_client, url, vehicle_data())
    assert response.status_code == 200, text(response)
    with opened(app):
        vehicle = Vehicle.get(Vehicle.contract == contract.id)
        assert (vehicle.registration_no, vehicle.chassis_no, vehicle.user_name) == (
            "川崎 500 さ 12-34", "GR3-1234567", "川崎\u3000太郎",
        )  # fmt: skip
        assert vehicle.inspection_expiry == dt.date(2027, 3, 31)
    # One current vehicle per space; a registration number on one space only.
    response = post(staff_client, url, vehicle_data(registration_no="川崎 500 さ 99-99"))
    assert response.status_code == 422
    assert "登録中の車両（川崎 500 さ 12-34）があります" in errors_of(text(response), "registration_no")
    with opened(app):
        other = contract_for(s, space=s.spaces[1], household=s.neighbour, person=s.neighbour_head)
    url = f"/staff/household/{s.neighbour.id}/parking/contracts/{other.id}/vehicles/new"
    response = post(staff_client, url, vehicle_data(registration_no="川崎500さ1234"))
    assert response.status_code == 422
    assert "すでに駐車場に登録されています" in errors_of(text(response), "registration_no")


def test_a_vehicle_date_outside_the_contract_is_refused(app, staff_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
    url = f"/staff/household/{s.household.id}/parking/contracts/{contract.id}/vehicles/new"
    response = post(staff_client, url, vehicle_data(valid_from="2024-03-01"))
    assert response.status_code == 422
    assert "登録日は駐車場の使用開始日（令和6年4月1日）以降" in errors_of(text(response), "valid_from")


def test_deregistering_a_vehicle(app, staff_client):
    s = scene(app)
    with opened(app):
        vehicle = vehicle_for(contract_for(s))
    url = f"/staff/household/{s.household.id}/parking/vehicles/{vehicle.id}/end"
    response = post(staff_client, url, {"version": "1", "valid_to": "2024-01-01"})
    assert response.status_code == 422
    assert "登録抹消日は登録日以降" in errors_of(text(response), "valid_to")
    response = post(staff_client, url, {"version": "1", "valid_to": "2026-06-01"})
    assert response.status_code == 200
    with opened(app):
        assert Vehicle.get_by_id(vehicle.id).valid_to == dt.date(2026, 6, 1)
    assert json.loads(last_entry(app, "vehicle.end").fields) == ["vehicle.valid_to"]


def test_editing_a_vehicle(app, staff_client):
    s = scene(app)
    with opened(app):
        vehicle = vehicle_for(contract_for(s))
    url = f"/staff/household/{s.household.id}/parking/vehicles/{vehicle.id}/edit"
    form = staff_client.get(url, headers=HX)
    assert 'value="川崎 500 あ 12-34"' in text(form)
    data = vehicle_data(version="1", registration_no="川崎 500 あ 12-34", model="アクア")
    response = post(staff_client, url, data)
    assert response.status_code == 200, text(response)
    changes = json.loads(last_entry(app, "vehicle.update").changes)
    assert changes["vehicle.model"] == ["プリウス", "アクア"]
    assert "vehicle.registration_no" not in changes  # unchanged: not in the entry


# --- the one-field 車検 edit ----------------------------------------------------------------------------


def inspection_url(s, vehicle):
    return f"/staff/household/{s.household.id}/parking/vehicles/{vehicle.id}/inspection"


def test_inspection_inline_update_rerenders_the_section_with_a_toast_and_history(app, staff_client):
    s = scene(app)
    with opened(app):
        vehicle = vehicle_for(contract_for(s), inspection_expiry=TODAY - dt.timedelta(days=3))
    page = text(staff_client.get(f"/staff/household/{s.household.id}"))
    assert f'id="vehicle-{vehicle.id}-inspection"' in page and "車検を更新" in page
    form = staff_client.get(inspection_url(s, vehicle), headers=HX)
    assert form.status_code == 200
    html = text(form)
    assert html.count("<input") == 3  # csrf, version and the one date field
    assert f'id="vehicle-{vehicle.id}-inspection"' in html

    response = post(staff_client, inspection_url(s, vehicle), {"version": "1", "inspection_expiry": "来年"})
    assert response.status_code == 422
    assert errors_of(text(response), "inspection_expiry")

    response = post(
        staff_client, inspection_url(s, vehicle), {"version": "1", "inspection_expiry": "令和10年5月31日"}
    )
    assert response.status_code == 200, text(response)
    assert response.headers["HX-Retarget"] == "#parking"
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "車検有効期間を更新しました。"
    html = text(response)
    assert "令和10年5月31日" in html and "車検切れ" not in html
    before = wareki.to_wareki(TODAY - dt.timedelta(days=3))
    history = html[html.index("変更履歴") :]
    assert "車検有効期間" in history and before in history and "令和10年5月31日" in history
    assert staff_client.user.login_id in history
    entry = last_entry(app, "vehicle.inspection")
    assert json.loads(entry.fields) == ["vehicle.inspection_expiry"]
    assert json.loads(entry.target_ids) == [s.household.id]


def test_two_clients_editing_one_inspection_get_a_conflict(app, make_user, login, staff_client):
    s = scene(app)
    with opened(app):
        vehicle = vehicle_for(contract_for(s))
    other = app.test_client()
    other.user = make_user("staff")
    login(other, other.user)
    for client in (staff_client, other):
        assert 'name="version" type="hidden" value="1"' in text(
            client.get(inspection_url(s, vehicle), headers=HX)
        )
    first = post(
        staff_client, inspection_url(s, vehicle), {"version": "1", "inspection_expiry": "2028-01-31"}
    )
    assert first.status_code == 200
    second = post(other, inspection_url(s, vehicle), {"version": "1", "inspection_expiry": "2028-02-29"})
    assert second.status_code == 409
    html = text(second)
    assert "ほかの職員が先に保存しました" in html
    assert "2028-02-29" in html and "2028-01-31" in html  # mine and theirs
    assert 'name="version" type="hidden" value="2"' in html  # saving again overwrites knowingly
    with opened(app):
        assert Vehicle.get_by_id(vehicle.id).inspection_expiry == dt.date(2028, 1, 31)
    again = post(other, inspection_url(s, vehicle), {"version": "2", "inspection_expiry": "2028-02-29"})
    assert again.status_code == 200


def test_without_javascript_the_forms_are_pages_and_a_save_redirects(app, staff_client):
    s = scene(app)
    with opened(app):
        vehicle = vehicle_for(contract_for(s))
    page = staff_client.get(inspection_url(s, vehicle))
    assert page.status_code == 200
    assert "<html" in text(page) and "車検有効期間の更新" in text(page)
    invalid = post(
        staff_client, inspection_url(s, vehicle), {"version": "1", "inspection_expiry": ""}, htmx=False
    )
    assert invalid.status_code == 422 and "<html" in text(invalid) and "入力してください" in text(invalid)
    saved = post(
        staff_client,
        inspection_url(s, vehicle),
        {"version": "1", "inspection_expiry": "2028-03-31"},
        htmx=False,
    )
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/staff/household/{s.household.id}#parking")
    shown = text(staff_client.get(saved.headers["Location"]))
    assert "車検有効期間を更新しました。" in shown and "令和10年3月31日" in shown
    # A new contract without JavaScript too.
    created = post(staff_client, new_contract_url(s), contract_data(s, space=str(s.spaces[1].id)), htmx=False)
    assert created.status_code == 422  # one space per household (the first one exists)
    assert "<html" in text(created)


# --- access ----------------------------------------------------------------------------------------------


def parking_urls(s, contract, vehicle, space):
    hid = s.household.id
    return [
        f"/staff/household/{hid}/parking/contracts/new",
        f"/staff/household/{hid}/parking/contracts/{contract.id}/edit",
        f"/staff/household/{hid}/parking/contracts/{contract.id}/end",
        f"/staff/household/{hid}/parking/contracts/{contract.id}/vehicles/new",
        f"/staff/household/{hid}/parking/vehicles/{vehicle.id}/edit",
        f"/staff/household/{hid}/parking/vehicles/{vehicle.id}/inspection",
        f"/staff/household/{hid}/parking/vehicles/{vehicle.id}/end",
        "/staff/parking/",
        "/staff/parking/inspections",
        "/staff/parking/lots/new",
        f"/staff/parking/lots/{s.lot.id}",
        f"/staff/parking/lots/{s.lot.id}/edit",
        f"/staff/parking/lots/{s.lot.id}/spaces/new",
        f"/staff/parking/spaces/{space.id}/edit",
    ]


def test_contractors_are_refused_every_staff_parking_endpoint(app, contractor_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
        vehicle = vehicle_for(contract)
    for url in parking_urls(s, contract, vehicle, s.spaces[1]):
        assert contractor_client.get(url).status_code == 403, url
        if not url.endswith(("/parking/", "/inspections")) and not re.search(r"/lots/\d+$", url):
            response = post(contractor_client, url, {"version": "1", "inspection_expiry": "2030-01-01"})
            assert response.status_code == 403, url
    with opened(app):
        assert Vehicle.get_by_id(vehicle.id).version == 1


def test_out_of_scope_households_and_foreign_records_are_404(app, staff_client):
    s = scene(app)
    with opened(app):
        contract = contract_for(s)
        vehicle = vehicle_for(contract)
        neighbours = contract_for(s, space=s.spaces[1], household=s.neighbour, person=s.neighbour_head)
        theirs = vehicle_for(neighbours, registration_no="川崎 500 あ 55-55")
        from models import Household

        Household.update(support_measure=True).where(Household.id == s.household.id).execute()
    for url in parking_urls(s, contract, vehicle, s.spaces[1])[:7]:
        assert staff_client.get(url, headers=HX).status_code == 404, url
        assert (
            post(staff_client, url, {"version": "1", "inspection_expiry": "2030-01-01"}).status_code == 404
        ), url
    # Another household's vehicle or contract through this (visible) household's URLs.
    hid = s.neighbour.id
    assert (
        staff_client.get(f"/staff/household/{hid}/parking/vehicles/{vehicle.id}/inspection").status_code
        == 404
    )
    assert staff_client.get(f"/staff/household/{hid}/parking/contracts/{contract.id}/end").status_code == 404
    assert (
        staff_client.get(f"/staff/household/{hid}/parking/vehicles/{theirs.id}/inspection").status_code == 200
    )
    with opened(app):
        assert Vehicle.get_by_id(vehicle.id).version == 1
        assert AuditEntry.select().where(AuditEntry.action == "access.out_of_scope").count() >= 14


# --- lots and spaces -------------------------------------------------------------------------------------


def test_lots_list_counts_spaces_and_vacancies(app, staff_client):
    s = scene(app)
    with opened(app):
        contract_for(s)
        ParkingSpace.update(status="closed").where(ParkingSpace.id == s.spaces[2].id).execute()
    html = text(staff_client.get("/staff/parking/"))
    row = re.search(r"<tr>\s*<td>[^<]*</td><td>市営小田住宅</td>.*?</tr>", html, re.S).group(0)
    cells = re.findall(r'<td class="numeric">(?:<strong>)?([^<]*)', row)
    assert cells[:3] == ["3", "1", "1"] and "5,000" in cells[3]
    assert "テスト自治会" in row


def test_lot_page_shows_each_spaces_contract_and_masks_protected_households(app, staff_client):
    s = scene(app)
    with opened(app):
        contract_for(s)
        contract_for(s, space=s.spaces[1], household=s.neighbour, person=s.neighbour_head)
        from models import Household

        Household.update(support_measure=True).where(Household.id == s.neighbour.id).execute()
    html = text(staff_client.get(f"/staff/parking/lots/{s.lot.id}"))
    assert s.household.household_no in html and "川崎 太郎" in html
    assert s.neighbour.household_no not in html and "支援措置対象のため表示しません" in html
    entry = last_entry(app, "parking.lot.list")
    assert json.loads(entry.target_ids) == [s.household.id]


def test_lot_and_space_inline_edits(app, staff_client):
    s = scene(app)
    url = f"/staff/parking/lots/{s.lot.id}/edit"
    assert staff_client.get(url, headers=HX).status_code == 200
    response = post(
        staff_client, url, {"version": "1", "code": "P1", "name": "小田第一駐車場", "monthly_fee": "abc"}
    )
    assert response.status_code == 422 and errors_of(text(response), "monthly_fee")
    response = post(
        staff_client, url, {"version": "1", "code": "P1", "name": "小田第一駐車場", "monthly_fee": "6,000",
                            "residents_association": "小田自治会"},
    )  # fmt: skip
    assert response.status_code == 200, text(response)
    assert response.headers["HX-Retarget"] == "#lot-body" and "小田自治会" in text(response)
    # Stale version → 409 with both.
    stale = post(staff_client, url, {"version": "1", "code": "P1", "name": "別名", "monthly_fee": "6000"})
    assert stale.status_code == 409 and "小田第一駐車場" in text(stale)

    space_url = f"/staff/parking/spaces/{s.spaces[0].id}/edit"
    response = post(
        staff_client, space_url, {"version": "1", "space_no": "1", "monthly_fee": "7000", "status": "closed"}
    )
    assert response.status_code == 200
    with opened(app):
        assert (ParkingSpace.get_by_id(s.spaces[0].id).status, ParkingSpace.get_by_id(s.spaces[0].id).monthly_fee) == (
            "closed", 7000,
        )  # fmt: skip
        contract_for(s, space=s.spaces[1])
    space_url = f"/staff/parking/spaces/{s.spaces[1].id}/edit"
    response = post(
        staff_client, space_url, {"version": "1", "space_no": "2", "monthly_fee": "5000", "status": "closed"}
    )
    assert response.status_code == 422
    assert "契約を廃止すると空きに戻ります" in errors_of(text(response), "status")


def test_adding_spaces_one_or_a_range(app, staff_client):
    s = scene(app)
    url = f"/staff/parking/lots/{s.lot.id}/spaces/new"
    form = staff_client.get(url, headers=HX)
    assert 'value="5000"' in text(form)  # the lot's standard fee
    response = post(staff_client, url, {"space_from": "3", "space_to": "6", "monthly_fee": "5000"})
    assert response.status_code == 422
    assert "すでにある区画番号です: 3" in errors_of(text(response), "space_from")
    response = post(staff_client, url, {"space_from": "4", "space_to": "2", "monthly_fee": "5000"})
    assert response.status_code == 422 and errors_of(text(response), "space_to")
    response = post(staff_client, url, {"space_from": "4", "space_to": "6", "monthly_fee": "5500"})
    assert response.status_code == 200
    assert "3区画を追加しました。" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    response = post(staff_client, url, {"space_from": "来客1", "monthly_fee": "0"}, htmx=False)
    assert response.status_code == 303
    with opened(app):
        numbers = [s.space_no for s in ParkingSpace.select().where(ParkingSpace.lot == s.lot.id)]
        assert sorted(numbers) == sorted(["1", "2", "3", "4", "5", "6", "来客1"])


def test_a_new_lot(app, staff_client):
    s = scene(app)
    data = {"estate": str(s.estate.id), "code": "P1", "name": "重複", "monthly_fee": "4000"}
    response = post(staff_client, "/staff/parking/lots/new", data, htmx=False)
    assert response.status_code == 422 and "同じ駐車場コード" in text(response)
    response = post(
        staff_client, "/staff/parking/lots/new", {**data, "code": "P2", "name": "小田第二駐車場"}, htmx=False
    )
    assert response.status_code == 303
    with opened(app):
        lot = ParkingLot.get(ParkingLot.code == "P2")
    assert response.headers["Location"].endswith(f"/staff/parking/lots/{lot.id}")


# --- the 車検切れ list -----------------------------------------------------------------------------------


def expired_fleet(s, count: int) -> None:
    """count households of estate A each with a contract and a vehicle whose 車検 expired."""
    lot, spaces = make_lot(s.estate, spaces=count, code=f"Q{count}")
    for n, space in enumerate(spaces):
        household, head = resident(s.estate)
        contract = contract_for(s, space=space, household=household, person=head)
        vehicle_for(
            contract,
            registration_no=f"横浜 300 さ {n + 1:>4}",
            inspection_expiry=TODAY - dt.timedelta(days=n + 1),
        )


def test_the_inspection_list(app, staff_client):
    s = scene(app)
    with opened(app):
        mine = contract_for(s)
        vehicle_for(
            mine, inspection_expiry=TODAY - dt.timedelta(days=10), owner_name="トヨタファイナンス株式会社"
        )
        theirs = contract_for(s, space=s.spaces[1], household=s.neighbour, person=s.neighbour_head)
        vehicle_for(
            theirs, registration_no="川崎 500 あ 77-77", inspection_expiry=TODAY + dt.timedelta(days=20)
        )
        ended = contract_for(s, space=s.other_space, household=make_household(), person=s.neighbour_head)
        vehicle_for(
            ended, registration_no="川崎 500 あ 88-88", inspection_expiry=TODAY - dt.timedelta(days=400)
        )
        ParkingContract.update(status="ended", end_date=TODAY).where(ParkingContract.id == ended.id).execute()
        gone = vehicle_for(
            mine, registration_no="川崎 500 あ 99-99", inspection_expiry=TODAY - dt.timedelta(days=90)
        )
        Vehicle.update(valid_to=TODAY - dt.timedelta(days=100)).where(Vehicle.id == gone.id).execute()
    html = text(staff_client.get("/staff/parking/inspections"))
    assert "川崎 500 あ 12-34" in html and "10日経過" in html and s.household.household_no in html
    assert "77-77" not in html and "88-88" not in html and "99-99" not in html
    assert "トヨタファイナンス" not in html and "川崎 太郎" not in html  # no owner or user names
    soon = text(staff_client.get("/staff/parking/inspections?soon=1"))
    assert soon.index("12-34") < soon.index("77-77") and "あと20日" in soon
    entry = last_entry(app, "parking.inspections.list")
    assert json.loads(entry.target_ids) == sorted([s.household.id, s.neighbour.id])
    with opened(app):
        from models import Household

        Household.update(support_measure=True).where(Household.id == s.household.id).execute()
    masked = text(staff_client.get("/staff/parking/inspections"))
    assert "12-34" not in masked and "支援措置対象のため表示しません" in masked


def test_the_inspection_list_runs_a_fixed_number_of_queries(app, staff_client):
    s = scene(app)
    with opened(app):
        expired_fleet(s, 1)
    counts = []
    for more in (0, 12):
        with opened(app):
            if more:
                expired_fleet(s, more)
        with app.app_context(), counting_queries() as statements:
            response = staff_client.get("/staff/parking/inspections")
        assert response.status_code == 200
        counts.append((len(statements), text(response).count("日経過")))
    assert counts[0][1] == 1 and counts[1][1] == 13
    assert counts[0][0] == counts[1][0], counts


def test_the_lot_page_runs_a_fixed_number_of_queries(app, staff_client):
    s = scene(app)
    counts = []
    for extra in (0, 2):
        with opened(app):
            for n in range(extra):
                household, head = resident(s.estate)
                contract_for(s, space=s.spaces[n], household=household, person=head)
        with app.app_context(), counting_queries() as statements:
            assert staff_client.get(f"/staff/parking/lots/{s.lot.id}").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


# --- concurrency (both engines) ----------------------------------------------------------------------------


def race(application, attempts) -> list[str]:
    """Run each attempt in its own thread and connection at the same moment: "ok" or the refusal."""
    results: list[str] = []
    barrier = threading.Barrier(len(attempts))

    def run(attempt):
        with application.app_context():
            barrier.wait()
            try:
                with db.connection_context():
                    attempt()
                results.append("ok")
            except RuleViolation:
                results.append("refused")

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_two_contracts_for_one_space_at_once_make_exactly_one(engine_db):
    application = current_app._get_current_object()
    estate = make_estate()
    lot, spaces = make_lot(estate, spaces=3)
    pairs = [resident(estate) for _ in range(2)]
    actor = make_account("staff")
    engine_db.close()

    def attempt(household, head, space):
        return lambda: service.start_contract(
            household, space_id=space.id, user_person_id=head.id, start_date=TODAY, actor=actor
        )

    # Two households, one space.
    assert race(application, [attempt(h, p, spaces[0]) for h, p in pairs]) == ["ok", "refused"]
    # The household left without a space asks for the two others at once: one space per household.
    with db.connection_context():
        taken = ParkingContract.get(ParkingContract.space == spaces[0].id).household_id
    household, head = next(pair for pair in pairs if pair[0].id != taken)
    assert race(application, [attempt(household, head, space) for space in spaces[1:]]) == ["ok", "refused"]
    with db.connection_context():
        active = list(ParkingContract.select().where(ParkingContract.status == "active"))
        assert sorted(c.household_id for c in active) == sorted(h.id for h, _ in pairs)
        contracted = ParkingSpace.select().where(ParkingSpace.status == "contracted").count()
        assert contracted == 2
        starts = AuditEntry.select().where(AuditEntry.action == "parking.contract.start").count()
        assert starts == 2  # the first race's winner and the second's: no entry for a refusal
    db.connect(reuse_if_open=True)


def test_make_assignment_lets_assigned_staff_work_on_a_protected_household(app, staff_client):
    s = scene(app)
    with opened(app):
        from models import Household

        Household.update(support_measure=True).where(Household.id == s.household.id).execute()
        make_assignment(s.household, staff_client.user)
    assert staff_client.get(new_contract_url(s), headers=HX).status_code == 200


def test_fees_above_the_limit_are_refused_beside_the_field(app, staff_client):
    s = scene(app)
    url = f"/staff/parking/lots/{s.lot.id}/edit"
    response = post(
        staff_client, url, {"version": "1", "code": "P1", "name": "小田", "monthly_fee": "999999999999"}
    )
    assert response.status_code == 422
    assert "金額は10億円未満" in errors_of(text(response), "monthly_fee")
    with opened(app):
        assert ParkingLot.get_by_id(s.lot.id).monthly_fee == 5000
