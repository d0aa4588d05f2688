"""The 公社 portal's maker-checker (SPEC §5): a change entered on the portal waits for a city staff
member's approval, who sees a before/after diff; approval applies it through the file's services with
audit entries naming both people; a return carries a comment the agent reads; the agent never approves
(every approvals endpoint is 403) nor does anyone approve their own; a target changed since the proposal
is refused with nothing applied; a declaration keyed in on the portal computes the same 政令月収 as the
staff's; a My Number typed on the portal is in no portal response afterwards and not in the change row."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from flask import current_app
from peewee import IntegrityError

from extensions import db
from models import (
    AuditEntry,
    BankTransfer,
    DeletionRecord,
    Household,
    IncomeDeclaration,
    Office,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    PendingChange,
    PendingMyNumber,
    PersonalNumber,
    Vehicle,
)
from rules import mynumber as mynumber_rules
from services import mynumber, vault
from services import pending_changes as service
from services.vault import keyring_for
from tests.conftest import csrf_token_of
from tests.factories import (
    make_account,
    make_building,
    make_estate,
    make_household,
    make_person,
    make_tenancy,
    make_unit,
    make_ward,
)
from tests.test_income_entry import FY, Inside, form, member

HX = {"HX-Request": "true"}
MY_NUMBER = "123456789018"  # a valid check digit (rules.mynumber)


def _world(app, office=None):
    """An office with one ward, an estate with a parking lot, a household of two with a contract and a car."""
    with Inside(app):
        office = office or Office.create(code="KW01", name="川崎北事務所")
        ward = make_ward(office=office)
        estate = make_estate(ward)
        unit = make_unit(make_building(estate))
        h = make_household()
        make_tenancy(h, unit)
        head = make_person(h, name="川崎 太郎", birth_date=dt.date(1975, 5, 1))
        spouse = make_person(
            h, name="川崎 花子", name_kana="カワサキ ハナコ", kana_key="カワサキハナコ", sex="female",
            relation="spouse", is_head=False, birth_date=dt.date(1955, 3, 1),
        )  # fmt: skip
        lot = ParkingLot.create(estate=estate, code="P1", name="第1駐車場", monthly_fee=5000)
        space = ParkingSpace.create(lot=lot, space_no="1", monthly_fee=5000, status="contracted")
        free = ParkingSpace.create(lot=lot, space_no="2", monthly_fee=5000, status="available")
        contract = ParkingContract.create(
            space=space, household=h, user_person=head, start_date=dt.date(2020, 4, 1), monthly_fee=5000
        )
        vehicle = Vehicle.create(
            contract=contract, registration_no="川崎 500 あ 12-34", model="プリウス", owner_name="川崎 太郎",
            user_name="川崎 太郎", inspection_expiry=dt.date(2026, 1, 31), valid_from=dt.date(2020, 4, 1),
        )  # fmt: skip
        return {
            "office": office.id, "household": h.id, "head": head.id, "spouse": spouse.id, "contract": contract.id,
            "vehicle": vehicle.id, "free_space": free.id, "estate": estate.id,
        }  # fmt: skip


@pytest.fixture
def world(app):
    return _world(app)


def _users(app, world):
    with Inside(app):
        office = Office.get_by_id(world["office"])
        maker = make_account("contractor", office=office, display_name="公社 一郎")
        other = make_account("contractor", office=office, display_name="公社 二郎")
        reviewer = make_account("staff", display_name="市役所 花子")
        return maker, other, reviewer


def _inspection(app, world, maker, expiry=dt.date(2028, 1, 31)) -> PendingChange:
    with Inside(app):
        vehicle = Vehicle.get_by_id(world["vehicle"])
        draft = service.inspection(vehicle, expiry)
        return service.propose(draft, office=Office.get_by_id(world["office"]), actor=maker)


def _keyring():
    return keyring_for(current_app.config)


# --- the service ---------------------------------------------------------------------------------------


def test_proposal_waits_and_approval_applies_it_with_both_names(app, world):
    maker, _, reviewer = _users(app, world)
    change = _inspection(app, world, maker)
    with Inside(app):
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2026, 1, 31)  # not yet
        assert change.state == "submitted" and change.target_version == 1
        assert json.loads(change.before) == {"inspection_expiry": "2026-01-31"}
        submitted = AuditEntry.get(AuditEntry.action == "pending_change.submit")
        assert submitted.actor_id == maker.id and submitted.target_ids == f"[{world['household']}]"

        approved = service.approve(change, reviewer, expected_version=change.version, keyring=_keyring())
        assert approved.state == "approved" and approved.reviewed_by_id == reviewer.id
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2028, 1, 31)
        applied = AuditEntry.get(AuditEntry.action == "vehicle.inspection")
        assert applied.actor_id == reviewer.id
        assert "公社 川崎北事務所: 公社 一郎 入力、市役所 花子 承認" in applied.reason
        assert json.loads(applied.changes) == {"vehicle.inspection_expiry": ["2026-01-31", "2028-01-31"]}


def test_the_household_history_names_both_people(app, staff_client, world):
    maker, _, reviewer = _users(app, world)
    change = _inspection(app, world, maker)
    with Inside(app):
        service.approve(change, reviewer, expected_version=change.version, keyring=_keyring())
    html = staff_client.get(f"/staff/household/{world['household']}").get_data(as_text=True)
    history = html[html.index('id="parking-changes"') :]
    assert reviewer.login_id in history
    assert "公社 川崎北事務所: 公社 一郎 入力、市役所 花子 承認" in history
    assert "令和10年1月31日" in history  # the new 車検 date, as 和暦


def test_nobody_approves_their_own_change_and_agents_never_approve(app, world):
    maker, other, _ = _users(app, world)
    change = _inspection(app, world, maker)
    with Inside(app):
        for user in (maker, other):
            with pytest.raises(service.NotAllowed):
                service.approve(change, user, expected_version=change.version, keyring=_keyring())
        staff_maker = make_account("staff")
        forged = PendingChange.get_by_id(change.id)
        forged.submitted_by = staff_maker.id  # a change somehow made by a staff member
        with pytest.raises(service.NotAllowed):
            service.approve(forged, staff_maker, expected_version=change.version, keyring=_keyring())
        with pytest.raises(IntegrityError), db.atomic():  # the database refuses it too
            PendingChange.update(reviewed_by=maker.id).where(PendingChange.id == change.id).execute()
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2026, 1, 31)


def test_a_stale_target_is_refused_and_nothing_is_applied(app, world):
    maker, _, reviewer = _users(app, world)
    change = _inspection(app, world, maker)
    with Inside(app):
        vehicle = Vehicle.get_by_id(world["vehicle"])
        vehicle.model = "アクア"
        vehicle.save_versioned(vehicle.version, only=[Vehicle.model])  # the city changed the car meanwhile
        with pytest.raises(service.Refused) as refused:
            service.approve(change, reviewer, expected_version=change.version, keyring=_keyring())
        assert refused.value.stale
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2026, 1, 31)
        assert PendingChange.get_by_id(change.id).state == "submitted"
        assert not AuditEntry.select().where(AuditEntry.action == "vehicle.inspection").exists()
        denied = AuditEntry.get(AuditEntry.action == "pending_change.approve")
        assert denied.outcome == "denied" and "stale" in denied.reason
        # The reviewer returns it; the agent corrects and resubmits against the current version.
        service.return_(
            change, reviewer, "車両が変わりました。確認してください。", expected_version=change.version
        )
        returned = PendingChange.get_by_id(change.id)
        draft = service.inspection(Vehicle.get_by_id(world["vehicle"]), dt.date(2028, 2, 29))
        again = service.resubmit(returned, draft, expected_version=returned.version, actor=maker)
        assert again.state == "submitted" and again.target_version == 2
        service.approve(again, reviewer, expected_version=again.version, keyring=_keyring())
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2028, 2, 29)
        assert Vehicle.get_by_id(world["vehicle"]).model == "アクア"


def test_a_rule_of_the_file_refuses_at_approval_with_nothing_half_written(app, world):
    maker, _, reviewer = _users(app, world)
    with Inside(app):
        ParkingContract.update(status="ended", end_date=dt.date(2024, 3, 31)).execute()
        household = Household.get_by_id(world["household"])
        values = {
            "space": world["free_space"],
            "user_person": world["head"],
            "start_date": dt.date(2025, 4, 1),
        }
        draft = service.new_contract(household, {**values, "reduction_amount": 0, "note": None})
        assert ParkingContract.select().count() == 1  # checked against the rules, nothing written
        change = service.propose(draft, office=Office.get_by_id(world["office"]), actor=maker)
        ParkingSpace.update(status="closed").where(ParkingSpace.id == world["free_space"]).execute()
        before = AuditEntry.select().count()
        with pytest.raises(service.Refused) as refused:
            service.approve(change, reviewer, expected_version=change.version, keyring=_keyring())
        assert refused.value.field == "space" and not refused.value.stale
        assert ParkingContract.select().where(ParkingContract.space == world["free_space"]).count() == 0
        assert PendingChange.get_by_id(change.id).state == "submitted"
        assert AuditEntry.select().count() == before + 1  # the refusal, nothing else


def test_one_open_change_per_target(app, world):
    maker, other, _ = _users(app, world)
    _inspection(app, world, maker)
    with Inside(app):
        vehicle = Vehicle.get_by_id(world["vehicle"])
        with pytest.raises(service.RuleViolation):
            service.propose(
                service.vehicle_end(vehicle, dt.date(2027, 1, 1)),
                office=Office.get_by_id(world["office"]),
                actor=other,
            )


# --- the screens ----------------------------------------------------------------------------------------


@pytest.fixture
def portal(app, contractor_client, staff_client):
    """The contractor's office manages the world's estate; a staff member reviews."""
    with Inside(app):
        office = Office.get_by_id(contractor_client.user.office_id)
    world = _world(app, office=office)
    return contractor_client, staff_client, world


def _post(client, url, data, headers=HX):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data}, headers=headers)


def _only_change(app) -> PendingChange:
    with Inside(app):
        return PendingChange.select().order_by(PendingChange.id.desc()).get()


def test_inline_inspection_is_proposed_then_approved_by_staff(app, portal):
    agent, staff, world = portal
    hid, vid = world["household"], world["vehicle"]
    page = agent.get(f"/portal/changes/household/{hid}")
    assert page.status_code == 200 and "川崎 500 あ 12-34" in page.get_data(as_text=True)
    url = f"/portal/changes/household/{hid}/vehicles/{vid}/inspection"
    assert agent.get(url, headers=HX).status_code == 200

    bad = _post(agent, url, {"version": "1", "inspection_expiry": "令和10年13月1日"})
    assert bad.status_code == 422 and "field__errors" in bad.get_data(as_text=True)
    with Inside(app):
        assert PendingChange.select().count() == 0

    saved = _post(agent, url, {"version": "1", "inspection_expiry": "令和10年1月31日"})
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200 and saved.headers["HX-Retarget"] == "#parking"
    row = html[html.index(f'id="vehicle-{vid}"') :]
    row = row[: row.index("</tr>")]
    assert "承認待ち" in row and "令和8年1月31日" in row and "令和10年1月31日" in row  # current and proposed
    with Inside(app):
        assert Vehicle.get_by_id(vid).inspection_expiry == dt.date(2026, 1, 31)
    change = _only_change(app)

    listing = staff.get("/staff/approvals/").get_data(as_text=True)
    assert "車検有効期間の更新" in listing and agent.user.display_name in listing
    review = staff.get(f"/staff/approvals/{change.id}").get_data(as_text=True)
    assert "令和8年1月31日" in review and "令和10年1月31日" in review and "車検有効期間" in review

    done = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)})
    assert done.status_code == 200 and "承認しました" in done.get_data(as_text=True)
    with Inside(app):
        assert Vehicle.get_by_id(vid).inspection_expiry == dt.date(2028, 1, 31)
    mine = agent.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    assert "市が承認し" in mine
    # Approving twice is a conflict (409), not a second write.
    again = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)})
    assert again.status_code == 409


def test_a_return_shows_its_comment_to_the_agent_who_corrects_it(app, portal):
    agent, staff, world = portal
    hid, vid = world["household"], world["vehicle"]
    _post(
        agent,
        f"/portal/changes/household/{hid}/vehicles/{vid}/inspection",
        {"version": "1", "inspection_expiry": "2028-01-31"},
    )
    change = _only_change(app)
    empty = _post(
        staff,
        f"/staff/approvals/{change.id}/return",
        {"return_version": str(change.version), "return_comment": " "},
    )
    assert empty.status_code == 422 and "差戻しの理由を入力してください" in empty.get_data(as_text=True)
    plain = staff.post(
        f"/staff/approvals/{change.id}/return",
        data={
            "csrf_token": csrf_token_of(staff),
            "return_version": str(change.version),
            "return_comment": "車検証では令和10年2月1日です。",
        },
    )
    assert plain.status_code == 303 and plain.headers["Location"].endswith("/staff/approvals/")

    listing = agent.get("/portal/changes/").get_data(as_text=True)
    assert "差戻し" in listing and "車検証では令和10年2月1日です。" in listing
    form = agent.get(f"/portal/changes/{change.id}/resubmit").get_data(as_text=True)
    assert "車検証では令和10年2月1日です。" in form
    returned = _only_change(app)
    fixed = agent.post(
        f"/portal/changes/{change.id}/resubmit",
        data={
            "csrf_token": csrf_token_of(agent),
            "version": "1",
            "inspection_expiry": "令和10年2月1日",
            "change_version": str(returned.version),
        },
    )
    assert fixed.status_code == 303 and fixed.headers["Location"].endswith(f"/portal/changes/{change.id}")
    resubmitted = _only_change(app)
    assert resubmitted.state == "submitted" and json.loads(resubmitted.payload)["values"] == {
        "inspection_expiry": "2028-02-01"
    }


def test_the_maker_withdraws(app, portal):
    agent, staff, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection",
        {"version": "1", "inspection_expiry": "2028-01-31"},
    )
    change = _only_change(app)
    gone = agent.post(
        f"/portal/changes/{change.id}/withdraw",
        data={"csrf_token": csrf_token_of(agent), "change_version": str(change.version)},
    )
    assert gone.status_code == 303 and _only_change(app).state == "withdrawn"
    assert "承認待ちの変更はありません" in staff.get("/staff/approvals/").get_data(as_text=True)


def test_contractors_get_403_on_every_approvals_endpoint(app, portal):
    agent, staff, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection",
        {"version": "1", "inspection_expiry": "2028-01-31"},
    )
    change = _only_change(app)
    assert agent.get("/staff/approvals/").status_code == 403
    assert agent.get(f"/staff/approvals/{change.id}").status_code == 403
    token = csrf_token_of(agent)
    assert (
        agent.post(
            f"/staff/approvals/{change.id}/approve", data={"csrf_token": token, "approve_version": "1"}
        ).status_code
        == 403
    )
    assert (
        agent.post(
            f"/staff/approvals/{change.id}/return",
            data={"csrf_token": token, "return_version": "1", "return_comment": "x"},
        ).status_code
        == 403
    )
    assert _only_change(app).state == "submitted"
    assert staff.get(f"/portal/changes/household/{world['household']}").status_code == 403
    assert staff.get("/portal/changes/").status_code == 403


def test_another_office_sees_nothing_of_it(app, portal, make_user, login):
    agent, _, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection",
        {"version": "1", "inspection_expiry": "2028-01-31"},
    )
    change = _only_change(app)
    stranger = app.test_client()
    stranger.user = make_user("contractor")
    login(stranger, stranger.user)
    assert stranger.get(f"/portal/changes/household/{world['household']}").status_code == 404
    assert stranger.get(f"/portal/changes/{change.id}").status_code == 404
    assert (
        stranger.get(
            f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection"
        ).status_code
        == 404
    )
    assert "車検有効期間の更新" not in stranger.get("/portal/changes/").get_data(as_text=True)


# --- income declarations and My Numbers -------------------------------------------------------------------


def _income_data(world, *, salary="3,500,000", pension="2,000,000", number=None, confirmed=False) -> dict:
    data = {
        "fiscal_year": str(FY),
        "submitted_on": "令和8年7月15日",
        **member(0, world["head"], salary=salary),
        **member(1, world["spouse"], pension=pension),
    }
    if number is not None:
        data["members-0-my_number"] = number
    if confirmed:
        data["confirmed"] = "y"
    return data


def test_a_declaration_keyed_in_on_the_portal_computes_what_staff_would(app, portal):
    agent, staff, world = portal
    hid = world["household"]
    entry = agent.get(f"/portal/changes/household/{hid}/income/new?year={FY}", headers=HX)
    assert entry.status_code == 200 and "川崎 花子" in entry.get_data(as_text=True)
    proposed = _post(agent, f"/portal/changes/household/{hid}/income/new", _income_data(world))
    assert proposed.status_code == 200, proposed.get_data(as_text=True)
    with Inside(app):
        assert IncomeDeclaration.select().count() == 0  # nothing in the file before approval
    change = _only_change(app)
    review = staff.get(f"/staff/approvals/{change.id}").get_data(as_text=True)
    assert "3,500,000円" in review and "2,000,000円" in review and 'data-testid="approval-preview"' in review
    assert (
        _post(
            staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)}
        ).status_code
        == 200
    )

    # The same paper keyed in by staff for an identical household.
    with Inside(app):
        twin = _world(app, office=Office.get_by_id(world["office"]))
    saved = staff.post(
        f"/staff/household/{twin['household']}/income/{FY}/edit",
        data=form(
            staff, member(0, twin["head"], salary="3,500,000"), member(1, twin["spouse"], pension="2,000,000")
        ),
        headers=HX,
    )
    assert saved.status_code == 200
    with Inside(app):
        ours = IncomeDeclaration.get(IncomeDeclaration.household == hid)
        theirs = IncomeDeclaration.get(IncomeDeclaration.household == twin["household"])
        assert ours.seirei_getsushu == theirs.seirei_getsushu == 224_166
        assert (ours.bracket, ours.total_income, ours.total_deduction) == (
            theirs.bracket,
            theirs.total_income,
            theirs.total_deduction,
        )
        assert (
            ours.status == "submitted" and ours.source == "self" and ours.submitted_on == dt.date(2026, 7, 15)
        )
    history = staff.get(f"/staff/household/{hid}").get_data(as_text=True)
    history = history[history.index('id="income-changes"') :]
    with Inside(app):
        office = Office.get_by_id(world["office"]).name
    assert f"公社 {office}: {agent.user.display_name} 入力、{staff.user.display_name} 承認" in history


def test_invalid_declarations_are_422_beside_the_fields(app, portal):
    agent, _, world = portal
    url = f"/portal/changes/household/{world['household']}/income/new"
    typo = _post(agent, url, _income_data(world, salary="三百万"))
    assert typo.status_code == 422 and 'id="members-0-salary_revenue-error"' in typo.get_data(as_text=True)
    both = _post(
        agent, url, {**_income_data(world), **member(1, world["spouse"], widow=True, single_parent=True)}
    )
    assert both.status_code == 422 and "寡婦とひとり親は同時に選べません" in both.get_data(as_text=True)
    wrong_number = _post(agent, url, _income_data(world, number="123456789010", confirmed=True))
    assert wrong_number.status_code == 422 and "検査用数字が一致しません" in wrong_number.get_data(
        as_text=True
    )
    unconfirmed = _post(agent, url, _income_data(world, number=MY_NUMBER))
    assert unconfirmed.status_code == 422 and "照合したことを確認して" in unconfirmed.get_data(as_text=True)
    assert MY_NUMBER not in unconfirmed.get_data(as_text=True)
    with Inside(app):
        assert PendingChange.select().count() == 0 and PendingMyNumber.select().count() == 0


def _portal_pages(agent, world, change_id) -> list[str]:
    hid = world["household"]
    urls = [
        "/portal/",
        "/portal/changes/",
        "/portal/changes/?state=all",
        f"/portal/changes/{change_id}",
        f"/portal/changes/household/{hid}",
        f"/portal/changes/household/{hid}/income/new",
        f"/portal/households/{hid}",
    ]
    pages = []
    for url in urls:
        response = agent.get(url)
        assert response.status_code in (200, 303), url
        pages.append(response.get_data(as_text=True))
    return pages


def test_a_my_number_typed_on_the_portal_is_never_shown_again(app, portal):
    agent, staff, world = portal
    masked_tail = "********" + MY_NUMBER[-4:]
    typed = "1234 5678 9018"
    proposed = _post(
        agent,
        f"/portal/changes/household/{world['household']}/income/new",
        _income_data(world, number=typed, confirmed=True),
    )
    assert proposed.status_code == 200
    answer = proposed.get_data(as_text=True)
    assert MY_NUMBER not in answer and typed not in answer
    change = _only_change(app)
    row_text = " ".join(str(v) for v in (change.payload, change.before, change.comment))
    assert MY_NUMBER not in row_text and "9018" not in row_text
    assert json.loads(change.payload)["my_numbers"] == [world["head"]]
    with Inside(app):
        held = PendingMyNumber.get(PendingMyNumber.change == change.id)
        assert MY_NUMBER.encode() not in bytes(held.ciphertext)
        assert (
            not AuditEntry.select()
            .where(AuditEntry.reason.contains("9018") | AuditEntry.changes.contains("9018"))
            .exists()
        )
    for html in _portal_pages(agent, world, change.id):
        assert MY_NUMBER not in html and masked_tail not in html and "5678" not in html
    assert "個人番号の登録あり" in agent.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    review = staff.get(f"/staff/approvals/{change.id}").get_data(as_text=True)
    assert "個人番号の登録あり" in review and MY_NUMBER not in review and masked_tail not in review

    assert (
        _post(
            staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)}
        ).status_code
        == 200
    )
    with Inside(app):
        stored = PersonalNumber.get(PersonalNumber.person == world["head"])
        assert mynumber.decrypt_row(stored, _keyring()) == MY_NUMBER
        assert PendingMyNumber.select().count() == 0  # held only until approval
        assert mynumber_rules.is_valid(MY_NUMBER)
    for html in _portal_pages(agent, world, change.id):
        assert MY_NUMBER not in html and masked_tail not in html
    # The staff's own screen shows it masked, as always.
    assert masked_tail in staff.get(f"/staff/household/{world['household']}").get_data(as_text=True)


def test_a_withdrawal_deletes_the_held_number(app, portal):
    agent, _, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/income/new",
        _income_data(world, number=MY_NUMBER, confirmed=True),
    )
    change = _only_change(app)
    agent.post(
        f"/portal/changes/{change.id}/withdraw",
        data={"csrf_token": csrf_token_of(agent), "change_version": str(change.version)},
    )
    with Inside(app):
        assert PendingMyNumber.select().count() == 0 and PersonalNumber.select().count() == 0


# --- bank transfers -----------------------------------------------------------------------------------------


def test_a_bank_transfer_is_shown_masked_once_submitted(app, portal):
    agent, staff, world = portal
    url = f"/portal/changes/household/{world['household']}/transfers/new"
    data = {
        "transfer_purpose": "rent", "transfer_bank_query": "0009", "transfer_branch_query": "",
        "transfer_account_type": "ordinary", "transfer_account_number": "1234567",
        "transfer_holder_kana": "カワサキ タロウ", "transfer_valid_from": "令和9年1月1日",
        "transfer_seen_rent": "0", "transfer_seen_parking": "0",
    }  # fmt: skip
    with Inside(app):
        from services import banks

        branch = banks.search_branches("0009", "本店")[0].code
    data["transfer_branch_query"] = branch
    confirm = _post(agent, url, data)
    assert confirm.status_code == 200 and "1234567" in confirm.get_data(
        as_text=True
    )  # the check against the paper
    submitted = _post(
        agent,
        url,
        {
            **data,
            "confirmed": "1",
            "op": "save",
            "transfer_bank_code": "0009",
            "transfer_branch_code": branch,
        },
    )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    change = _only_change(app)
    for html in (
        submitted.get_data(as_text=True),
        agent.get(f"/portal/changes/{change.id}").get_data(as_text=True),
        agent.get(f"/portal/changes/household/{world['household']}").get_data(as_text=True),
        staff.get(f"/staff/approvals/{change.id}").get_data(as_text=True),
    ):
        assert "1234567" not in html and "****567" in html
    assert (
        _post(
            staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)}
        ).status_code
        == 200
    )
    with Inside(app):
        transfer = BankTransfer.get(BankTransfer.household == world["household"])
        assert (transfer.account_number, transfer.bank_code, transfer.valid_from) == (
            "1234567",
            "0009",
            dt.date(2027, 1, 1),
        )
    page = agent.get(f"/portal/changes/household/{world['household']}").get_data(as_text=True)
    assert "1234567" not in page and "****567" in page


# --- parking entries, without JavaScript, and hostile input ----------------------------------------------


def test_a_new_vehicle_is_checked_by_the_parking_rules_when_entered(app, portal):
    agent, staff, world = portal
    url = f"/portal/changes/household/{world['household']}/contracts/{world['contract']}/vehicles/new"
    car = {
        "registration_no": "川崎５００さ１２３４", "model": "フィット", "chassis_no": "", "owner_name": "川崎 太郎",
        "user_name": "川崎 太郎", "inspection_expiry": "令和11年3月31日", "valid_from": "令和8年12月1日",
    }  # fmt: skip
    refused = _post(agent, url, car)
    assert refused.status_code == 422 and "登録中の車両" in refused.get_data(
        as_text=True
    )  # the old car first
    end = _post(
        agent,
        f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/end",
        {"version": "1", "valid_to": "令和8年11月30日"},
    )
    assert end.status_code == 200
    with Inside(app):
        assert Vehicle.get_by_id(world["vehicle"]).valid_to is None  # waits for the city
    ending = _only_change(app)
    assert (
        _post(
            staff, f"/staff/approvals/{ending.id}/approve", {"approve_version": str(ending.version)}
        ).status_code
        == 200
    )
    proposed = _post(agent, url, car)
    assert proposed.status_code == 200 and "川崎 500 さ 12-34" in proposed.get_data(as_text=True)
    change = _only_change(app)
    assert (
        _post(
            staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)}
        ).status_code
        == 200
    )
    with Inside(app):
        assert (
            Vehicle.get_or_none(Vehicle.registration_no == "川崎 500 さ 12-34").contract_id
            == world["contract"]
        )
        assert Vehicle.get_by_id(world["vehicle"]).valid_to == dt.date(2026, 11, 30)


def test_a_new_contract_and_a_vehicle_change_without_javascript(app, portal):
    agent, staff, world = portal
    hid = world["household"]
    with Inside(app):
        ParkingContract.update(status="ended", end_date=dt.date(2024, 3, 31)).execute()
    page = agent.get(f"/portal/changes/household/{hid}/contracts/new")
    assert page.status_code == 200 and "第1駐車場 2番" in page.get_data(as_text=True)
    assert "2区画目の使用を承認する" not in page.get_data(
        as_text=True
    )  # an officer's decision, not the agent's
    token = csrf_token_of(agent)
    sent = agent.post(
        f"/portal/changes/household/{hid}/contracts/new",
        data={
            "csrf_token": token,
            "space": str(world["free_space"]),
            "user_person": str(world["spouse"]),
            "start_date": "令和8年12月1日",
        },
    )
    assert sent.status_code == 303 and sent.headers["Location"].endswith(
        f"/portal/changes/household/{hid}#parking"
    )
    assert "承認待ち" in agent.get(sent.headers["Location"]).get_data(as_text=True)
    change = _only_change(app)
    plain = staff.post(
        f"/staff/approvals/{change.id}/approve",
        data={"csrf_token": csrf_token_of(staff), "approve_version": str(change.version)},
    )
    assert plain.status_code == 303
    with Inside(app):
        contract = ParkingContract.get(ParkingContract.space == world["free_space"])
        assert contract.user_person_id == world["spouse"] and contract.status == "active"
        assert ParkingSpace.get_by_id(world["free_space"]).status == "contracted"
    # A vehicle change on the ended contract's car is refused (its registration is over).
    gone = _post(
        agent,
        f"/portal/changes/household/{hid}/vehicles/{world['vehicle']}/edit",
        {"version": "1", "model": "アクア"},
    )
    assert gone.status_code == 422


HOSTILE = [
    "",
    " ",
    "abc",
    "-1",
    "0",
    "99999999999999999999",
    "１２３",
    "令和99年99月99日",
    "<script>x</script>",
    "x" * 3000,
]
ALLOWED = {200, 303, 400, 403, 404, 409, 422, 429}


def test_hostile_input_never_makes_a_server_error(app, portal):
    agent, staff, world = portal
    hid, vid, cid = world["household"], world["vehicle"], world["contract"]
    urls = [
        f"/portal/changes/household/{hid}/vehicles/{vid}/inspection",
        f"/portal/changes/household/{hid}/vehicles/{vid}/edit",
        f"/portal/changes/household/{hid}/vehicles/{vid}/end",
        f"/portal/changes/household/{hid}/contracts/{cid}/vehicles/new",
        f"/portal/changes/household/{hid}/contracts/new",
        f"/portal/changes/household/{hid}/transfers/new",
        f"/portal/changes/household/{hid}/income/new",
        "/portal/changes/banks/search",
        "/portal/changes/banks/branches",
    ]
    names = [
        "version", "inspection_expiry", "valid_to", "valid_from", "registration_no", "model", "space", "user_person",
        "start_date", "reduction_amount", "fiscal_year", "submitted_on", "members-0-person_id",
        "members-0-salary_revenue", "members-0-my_number", "members-0-disability", "remote-0-name", "action",
        "transfer_purpose", "transfer_bank_query", "transfer_bank_code", "transfer_account_number", "op", "confirmed",
        "change_version", "status", "source",
    ]  # fmt: skip
    for url in urls:
        for value in HOSTILE:
            for headers in (HX, {}):
                response = _post(agent, url, {name: value for name in names}, headers=headers)
                assert response.status_code in ALLOWED, (url, value, response.status_code)
    with Inside(app):
        assert PendingChange.select().count() == 0  # nothing hostile got through
    _post(agent, urls[0], {"version": "1", "inspection_expiry": "2028-01-31"})
    change = _only_change(app)
    for value in HOSTILE:
        for url in (f"/staff/approvals/{change.id}/return", f"/staff/approvals/{change.id}/approve"):
            response = _post(
                staff, url, {"return_comment": value, "return_version": value, "approve_version": value}
            )
            assert response.status_code in ALLOWED, (url, value, response.status_code)


def test_a_returned_declaration_is_corrected_and_its_amounts_hidden_once_approved(app, portal):
    agent, staff, world = portal
    url = f"/portal/changes/household/{world['household']}/income/new"
    _post(agent, url, _income_data(world, salary="3,400,000", number=MY_NUMBER, confirmed=True))
    change = _only_change(app)
    _post(
        staff,
        f"/staff/approvals/{change.id}/return",
        {"return_version": str(change.version), "return_comment": "給与収入は源泉徴収票の支払金額です。"},
    )
    form = agent.get(f"/portal/changes/{change.id}/resubmit").get_data(as_text=True)
    assert "給与収入は源泉徴収票の支払金額です。" in form and 'value="3,400,000"' in form
    # The return discarded the held number: the form no longer claims one, the agent types it again.
    assert "この入力の個人番号は入力済みです" not in form and MY_NUMBER not in form
    returned = _only_change(app)
    fixed = agent.post(
        f"/portal/changes/{change.id}/resubmit",
        data={
            "csrf_token": csrf_token_of(agent),
            "change_version": str(returned.version),
            **_income_data(world, number=MY_NUMBER, confirmed=True),
        },
    )
    assert fixed.status_code == 303, fixed.get_data(as_text=True)
    again = _only_change(app)
    assert again.state == "submitted" and json.loads(again.payload)["my_numbers"] == [
        world["head"]
    ]  # retyped
    assert "3,500,000円" in agent.get(f"/portal/changes/{change.id}").get_data(
        as_text=True
    )  # open: its own input
    _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(again.version)})
    shown = agent.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    assert "市が承認し" in shown and "3,500,000" not in shown and "個人番号の登録あり" in shown
    with Inside(app):
        assert PersonalNumber.select().where(PersonalNumber.person == world["head"]).exists()
    # The year is the city's now: the portal offers no entry for it.
    assert agent.get(f"{url}?year={FY}", headers=HX).get_data(as_text=True).count(f'value="{FY}"') == 0


def _return(staff, change, comment="源泉徴収票と金額が違います。"):
    return _post(
        staff,
        f"/staff/approvals/{change.id}/return",
        {"return_version": str(change.version), "return_comment": comment},
    )


def test_a_return_discards_the_held_number_with_a_deletion_record(app, portal):
    agent, staff, world = portal
    url = f"/portal/changes/household/{world['household']}/income/new"
    _post(agent, url, _income_data(world, number=MY_NUMBER, confirmed=True))
    change = _only_change(app)
    _return(staff, change)
    with Inside(app):
        assert PendingMyNumber.select().count() == 0  # not held for a change that may never come back
        record = DeletionRecord.get()
        assert (record.kind, record.subject_table, record.subject_id) == (
            "my_number",
            "person",
            world["head"],
        )
        assert f"pending_change {change.id}" in record.reason and record.deleted_by_id == staff.user.id
        deleted = AuditEntry.get(AuditEntry.action == "my_number.delete")
        assert deleted.actor_id == staff.user.id and json.loads(deleted.target_ids) == [world["head"]]
    returned = _only_change(app)
    assert "my_numbers" not in json.loads(returned.payload)
    shown = agent.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    assert "差戻しにより、入力された個人番号は破棄されました。再提出の際にもう一度入力してください" in shown
    assert "個人番号の登録あり" not in shown
    # Resubmitted without typing it again: the change carries no My Number, and approval stores none.
    fixed = agent.post(
        f"/portal/changes/{change.id}/resubmit",
        data={
            "csrf_token": csrf_token_of(agent),
            "change_version": str(returned.version),
            **_income_data(world),
        },
    )
    assert fixed.status_code == 303, fixed.get_data(as_text=True)
    again = _only_change(app)
    assert again.state == "submitted" and "my_numbers" not in json.loads(again.payload)
    assert "破棄されました" not in agent.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    approved = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(again.version)})
    assert approved.status_code == 200
    with Inside(app):
        assert _only_change(app).state == "approved" and PersonalNumber.select().count() == 0


def _retire_key(app, key_id):
    """Take a data key out of service, as an administrator does once rotation is done."""
    (Path(app.config["KEY_DIR"]) / f"data-{key_id}.key").unlink()
    vault.clear_cache()


def test_rotation_re_encrypts_held_numbers_so_approval_works_after_the_old_key_is_retired(app, portal):
    agent, staff, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/income/new",
        _income_data(world, number=MY_NUMBER, confirmed=True),
    )
    change = _only_change(app)
    with Inside(app):
        old = PendingMyNumber.get().key_id
        new = vault.create_data_key(Path(app.config["KEY_DIR"]))
        vault.clear_cache()
        assert mynumber.to_rotate(_keyring()) == 1  # what `flask keys rotate` counts for its progress
        assert mynumber.rotate(_keyring()) == 1
        assert PendingMyNumber.get().key_id == new and mynumber.rotate(_keyring()) == 0
        _retire_key(app, old)
    approved = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)})
    assert approved.status_code == 200, approved.get_data(as_text=True)
    with Inside(app):
        stored = PersonalNumber.get(PersonalNumber.person == world["head"])
        assert mynumber.decrypt_row(stored, _keyring()) == MY_NUMBER


def test_a_held_number_that_does_not_decrypt_is_a_refusal_not_a_server_error(app, portal):
    agent, staff, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/income/new",
        _income_data(world, number=MY_NUMBER, confirmed=True),
    )
    change = _only_change(app)
    with Inside(app):
        old = PendingMyNumber.get().key_id
        vault.create_data_key(Path(app.config["KEY_DIR"]))
        _retire_key(app, old)  # retired without rotating first
    refused = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)})
    assert refused.status_code == 422
    assert "川崎 太郎さんの個人番号を読み取れません" in refused.get_data(as_text=True)
    with Inside(app):
        assert _only_change(app).state == "submitted"  # nothing applied: the declaration neither
        assert (
            IncomeDeclaration.select().where(IncomeDeclaration.household == world["household"]).count() == 0
        )
        assert PersonalNumber.select().count() == 0
        assert AuditEntry.get(AuditEntry.action == "pending_change.approve").outcome == "denied"
    assert _return(staff, change).status_code in (200, 303)  # the way out: returned, number discarded
    with Inside(app):
        assert PendingMyNumber.select().count() == 0


def test_only_the_maker_reads_back_the_amounts_of_an_open_declaration(app, portal, make_user, login):
    agent, _, world = portal
    data = _income_data(world, salary="3,400,000")
    data["members-1-disability"] = "special"
    _post(agent, f"/portal/changes/household/{world['household']}/income/new", data)
    change = _only_change(app)
    colleague = app.test_client()
    with Inside(app):
        colleague.user = make_user("contractor", office=Office.get_by_id(world["office"]))
    login(colleague, colleague.user)
    for url in (f"/portal/changes/{change.id}", f"/portal/changes/household/{world['household']}"):
        if url == f"/portal/changes/{change.id}":
            own = agent.get(url).get_data(as_text=True)
            assert "3,400,000円" in own and "特別障害者" in own  # the maker reads back what they typed
        seen = colleague.get(url)
        html = seen.get_data(as_text=True)
        assert seen.status_code == 200 and "3,400,000" not in html and "特別障害者" not in html, url
    shown = colleague.get(f"/portal/changes/{change.id}").get_data(as_text=True)
    assert "承認待ち" in shown and "川崎 太郎、川崎 花子" in shown  # the state and the members, no figure
    assert "収入の金額と障害の程度は、入力した職員にだけ表示します。" in shown


def test_the_reviewer_sees_a_stale_change_before_trying(app, portal):
    agent, staff, world = portal
    _post(
        agent,
        f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection",
        {"version": "1", "inspection_expiry": "2028-01-31"},
    )
    change = _only_change(app)
    with Inside(app):
        Vehicle.update(version=Vehicle.version + 1, model="アクア").where(
            Vehicle.id == world["vehicle"]
        ).execute()
    review = staff.get(f"/staff/approvals/{change.id}").get_data(as_text=True)
    assert "提出の後に、この車両の登録内容が変更されました" in review and "disabled" in review
    refused = _post(staff, f"/staff/approvals/{change.id}/approve", {"approve_version": str(change.version)})
    assert refused.status_code == 422 and "差し戻して" in refused.get_data(as_text=True)
    with Inside(app):
        assert Vehicle.get_by_id(world["vehicle"]).inspection_expiry == dt.date(2026, 1, 31)


def test_a_vehicle_saved_since_the_form_opened_is_a_409_with_both_versions(app, portal):
    agent, _, world = portal
    with Inside(app):
        Vehicle.update(version=2, inspection_expiry=dt.date(2027, 6, 30)).where(
            Vehicle.id == world["vehicle"]
        ).execute()
    url = f"/portal/changes/household/{world['household']}/vehicles/{world['vehicle']}/inspection"
    stale = _post(agent, url, {"version": "1", "inspection_expiry": "2028-01-31"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "2027-06-30" in html  # what is saved now, beside what was typed
    assert re.search(r'name="version" type="hidden" value="2"', html)
    with Inside(app):
        assert PendingChange.select().count() == 0
    assert _post(agent, url, {"version": "2", "inspection_expiry": "2028-01-31"}).status_code == 200


def test_propose_and_approve_on_both_engines(engine_db):
    """The dry run (a write rolled back), the held My Number and the one-transaction approval, on SQLite
    and PostgreSQL (advisory lock of the trail, FOR UPDATE of the household, savepoints)."""
    from flask import current_app as app

    world = _world(app)
    office = Office.get_by_id(world["office"])
    maker = make_account("contractor", office=office, display_name="公社 一郎")
    reviewer = make_account("officer", display_name="市役所 次郎")
    household = Household.get_by_id(world["household"])
    ParkingContract.update(status="ended", end_date=dt.date(2024, 3, 31)).execute()
    values = {"space": world["free_space"], "user_person": world["head"], "start_date": dt.date(2025, 4, 1)}
    contract = service.propose(
        service.new_contract(household, {**values, "reduction_amount": 0, "note": None}),
        office=office,
        actor=maker,
    )
    assert (
        ParkingContract.select().count() == 1
        and AuditEntry.select().where(AuditEntry.action == "parking.contract.start").count() == 0
    )
    with app.test_request_context():
        from services import declarations as decl

        entry = decl.DeclarationEntry(
            status="submitted", source="self", submitted_on=dt.date(2026, 7, 15),
            members=(decl.MemberEntry(world["head"], salary_revenue=3_500_000), decl.MemberEntry(world["spouse"], pension_revenue=2_000_000)),
        )  # fmt: skip
        draft = service.declaration(household, FY, entry, my_number_people=[world["head"]])
        income = service.propose(
            draft,
            office=office,
            my_numbers={world["head"]: MY_NUMBER},
            checked_against_document=True,
            keyring=_keyring(),
            actor=maker,
        )
        for change in (contract, income):
            service.approve(change, reviewer, expected_version=change.version, keyring=_keyring())
    assert ParkingContract.get(ParkingContract.space == world["free_space"]).status == "active"
    assert IncomeDeclaration.get(IncomeDeclaration.household == household.id).seirei_getsushu == 224_166
    assert PersonalNumber.select().count() == 1 and PendingMyNumber.select().count() == 0
    notes = [
        e.reason
        for e in AuditEntry.select().where(
            AuditEntry.action.in_(["parking.contract.start", "income_declaration.create"])
        )
    ]
    assert len(notes) == 2 and all("公社 一郎 入力、市役所 次郎 承認" in n for n in notes)
    from services import audit

    assert audit.verify().ok  # the chain holds across the rolled-back dry runs
