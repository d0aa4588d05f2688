"""The portal's scope: a contractor sees its own office's estates and nothing of another office's; only
contractors open the portal; the office follows the ward's managing office; contracts end.

The crawler walks app.url_map: every portal endpoint that names a record, called by a contractor of
office B with office A's ids, answers 404 and writes nothing (the ids do exist: the same URLs answer
200 for a contractor of office A). The policy walk of every role over every route is
tests/test_policy.py; here the table itself is checked to give the portal to contractors only.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from blueprints.policy import CONTRACTOR, POLICY
from extensions import db
from models import (
    AuditEntry,
    BankTransfer,
    Guarantor,
    HouseholdApplication,
    IncomeDeclaration,
    Inquiry,
    MoveProcedure,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    PendingChange,
    PersonalNumber,
    RepairRequest,
    Vehicle,
    Ward,
)
from rules.filters import today_tokyo
from services import pending_changes
from tests.conftest import csrf_token_of
from tests.factories import (
    make_building,
    make_estate,
    make_household,
    make_office,
    make_person,
    make_tenancy,
    make_unit,
    make_ward,
)

# Tables the portal writes to; "nothing written" compares every row of these (and their versions).
WRITABLE = (
    MoveProcedure, HouseholdApplication, Inquiry, RepairRequest, Ward, PendingChange, Vehicle, ParkingContract,
    BankTransfer, IncomeDeclaration, PersonalNumber,
)  # fmt: skip


def _household(estate, no: str, head_name: str, head_kana: str, room: str):
    building = make_building(estate=estate, number="3")
    unit = make_unit(building=building, room_number=room, housing_code=f"1001{no[-4:]}0101")
    household = make_household(household_no=no, mail_address="川崎市幸区1-1", contact_phone="0441234567")
    tenancy = make_tenancy(household=household, unit=unit)
    make_person(household=household, name=head_name, name_kana=head_kana, kana_key=head_kana.replace(" ", ""))
    return household, unit, tenancy


def build_offices(contractor_a, contractor_b) -> dict:
    """Office A (the first contractor's) with a ward, an estate, a household and every kind of record;
    office B (the second's) with its own ward, estate and household."""
    office_a, office_b = contractor_a.office, contractor_b.office
    ward_a = make_ward(office=office_a)
    ward_b = make_ward(office=office_b)
    estate_a = make_estate(ward=ward_a, name="市営小田住宅")
    estate_b = make_estate(ward=ward_b, name="市営菅住宅")
    household_a, unit_a, tenancy_a = _household(estate_a, "10000001", "山田　花子", "ヤマダ ハナコ", "101")
    household_b, unit_b, _ = _household(estate_b, "20000002", "山田　太郎", "ヤマダ タロウ", "201")
    Guarantor.create(
        household=household_a, kind="guarantor", name="保証　一郎", appointed_on=dt.date(2010, 4, 1)
    )
    lot = ParkingLot.create(estate=estate_a, code="P1", name="小田第1駐車場", monthly_fee=8000)
    space = ParkingSpace.create(lot=lot, space_no="1", monthly_fee=8000, status="contracted")
    person_a = household_a.members.get()
    contract = ParkingContract.create(
        space=space,
        household=household_a,
        user_person=person_a,
        start_date=dt.date(2015, 4, 1),
        monthly_fee=8000,
    )
    Vehicle.create(
        contract=contract, registration_no="川崎 500 あ 12-34", model="軽自動車", owner_name="山田　花子",
        user_name="山田　花子", valid_from=dt.date(2015, 4, 1), inspection_expiry=dt.date(2030, 1, 1),
    )  # fmt: skip
    procedure = MoveProcedure.create(
        tenancy=tenancy_a,
        kind="move_in",
        keys_handed_on=dt.date(2010, 4, 1),
        recorded_by=contractor_a,
        office=office_a,
    )
    application = HouseholdApplication.create(
        household=household_a, kind="non_use", received_on=dt.date(2025, 1, 10), state="returned",
        attachments='["form", "reason"]', details='{"text": "入院のため"}', office=office_a,
        submitted_by=contractor_a, comment="期間を書いてください",
    )  # fmt: skip
    inquiry = Inquiry.create(
        household=household_a, channel="phone", received_at=dt.datetime(2025, 2, 1, 1, 0), subject="騒音",
        content="上の階の音", recorded_by=contractor_a, office=office_a,
    )  # fmt: skip
    repair = RepairRequest.create(
        household=household_a, unit=unit_a, received_on=dt.date(2025, 3, 1), content="蛇口の水漏れ",
        recorded_by=contractor_a, office=office_a,
    )  # fmt: skip
    vehicle = contract.vehicles.get()
    change = pending_changes.propose(
        pending_changes.inspection(vehicle, dt.date(2032, 1, 1)), office=office_a, actor=contractor_a
    )
    PendingChange.update(state="returned", comment="車検証の写しを確認してください").where(
        PendingChange.id == change.id
    ).execute()
    return {
        "household_id": household_a.id,
        "change_id": change.id,
        "section": "parking",
        "unit_id": unit_a.id,
        "lot_id": lot.id,
        "person_id": person_a.id,
        "procedure_id": procedure.id,
        "application_id": application.id,
        "inquiry_id": inquiry.id,
        "repair_id": repair.id,
        "tenancy_id": tenancy_a.id,
        "contract_id": contract.id,
        "vehicle_id": vehicle.id,
        "space_id": space.id,
        "household_b": household_b.id,
        "ward_a": ward_a.id,
        "estate_a": estate_a.id,
    }


@pytest.fixture
def world(app, make_user, login):
    """Two offices' contractors signed in (client_a, client_b) and office A's record ids."""
    clients = []
    for _ in range(2):
        client = app.test_client()
        client.user = make_user("contractor")
        login(client, client.user)
        clients.append(client)
    with app.app_context(), db.connection_context():
        ids = build_offices(clients[0].user, clients[1].user)
    return clients[0], clients[1], ids


def _snapshot(app) -> dict:
    with app.app_context(), db.connection_context():
        return {
            model.__name__: sorted(tuple(r.values()) for r in model.select().dicts()) for model in WRITABLE
        }


def _portal_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("portal."):
            yield rule


def _url(rule, ids: dict) -> str:
    values = {}
    for name in rule.arguments:
        if name not in ids:
            raise AssertionError(f"the crawler does not know the argument {name} of {rule.endpoint}: add it")
        values[name] = ids[name]
    return rule.build(values)[1]


def test_portal_urls_naming_another_office_answer_404_and_write_nothing(app, world):
    client_a, client_b, ids = world
    before = _snapshot(app)
    token = csrf_token_of(client_b)
    checked = set()
    for rule in _portal_routes(app):
        if not rule.arguments:
            continue
        url = _url(rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token, "version": "1", "kind": "move_out", "keys_handed_on": "2025-01-01",
                    "received_on": "2025-01-01", "content": "x", "status": "received"}  # fmt: skip
            response = client_b.open(url, method=method, data=data if method == "POST" else None)
            assert response.status_code == 404, (method, rule.endpoint, response.status_code)
            body = response.get_data(as_text=True)
            assert "山田　花子" not in body and "ヤマダ ハナコ" not in body
            checked.add(rule.endpoint)
    assert _snapshot(app) == before
    with app.app_context(), db.connection_context():
        denied = AuditEntry.select().where(
            (AuditEntry.action == "access.out_of_scope") & (AuditEntry.actor_id == client_b.user.id)
        )
        assert denied.count() >= len(checked)
    assert {"portal.households.show", "portal.procedures.edit", "portal.applications.show",
            "portal.inquiries.repair_edit"} <= checked  # fmt: skip

    # The same URLs are real: office A's contractor opens every one of them.
    for rule in _portal_routes(app):
        if rule.arguments and "GET" in rule.methods:
            response = client_a.get(_url(rule, ids))
            # 200, or a redirect to the whole page a fragment belongs to (without htmx)
            assert response.status_code in (200, 303), (rule.endpoint, response.status_code)
            if response.status_code == 303:
                assert response.headers["Location"].startswith("/portal/"), rule.endpoint


def test_malformed_and_missing_ids_are_404_alike(world):
    _, client_b, ids = world
    for url in ("/portal/households/0", "/portal/households/99999999", "/portal/procedures/99999999/edit",
                f"/portal/households/{ids['household_b']}x"):  # fmt: skip
        assert client_b.get(url).status_code == 404


def test_lists_and_search_show_only_the_office(app, world):
    client_a, client_b, ids = world
    token = csrf_token_of(client_b)
    found = client_b.post("/portal/households/", data={"q": "ﾔﾏﾀﾞ", "csrf_token": token}).get_data(
        as_text=True
    )
    assert "20000002" in found and "10000001" not in found  # half-width kana, prefix: B's own only
    for path in ("/portal/procedures/", "/portal/applications/?state=returned", "/portal/inquiries/",
                 "/portal/inquiries/repairs", "/portal/applications/", "/portal/"):  # fmt: skip
        body = client_b.get(path).get_data(as_text=True)
        assert "山田　花子" not in body and "蛇口" not in body and "騒音" not in body, path
    home_a = client_a.get("/portal/").get_data(as_text=True)
    assert client_a.user.office.name in home_a
    assert client_b.user.office.name not in home_a  # nothing about other offices


@pytest.mark.parametrize(
    ("query", "expected"),
    [("やまだ", True), ("ヤマダ　ハナ", True), ("山田", True), ("10000001", True), ("100100010101", True),
     ("小田 " + "X", False), ("ハナコ", False)],
)  # fmt: skip
def test_household_search_by_name_kana_and_unit(world, query, expected):
    client_a, _, ids = world
    token = csrf_token_of(client_a)
    response = client_a.post("/portal/households/", data={"q": query, "csrf_token": token})
    assert response.status_code == 200
    assert (f"/portal/households/{ids['household_id']}" in response.get_data(as_text=True)) is expected


def test_search_by_estate_building_and_room(app, world):
    client_a, _, ids = world
    with app.app_context(), db.connection_context():
        from models import Unit

        unit = Unit.get_by_id(ids["unit_id"])
        query = f"小田 {unit.building.number}-101"
    response = client_a.post("/portal/households/", data={"q": query, "csrf_token": csrf_token_of(client_a)})
    assert f"/portal/households/{ids['household_id']}" in response.get_data(as_text=True)


def test_search_refuses_what_is_not_the_agents(world):
    client_a, _, _ = world
    token = csrf_token_of(client_a)
    atena = client_a.post("/portal/households/", data={"q": "1234567890", "csrf_token": token})
    assert atena.status_code == 422 and "宛名番号では検索できません" in atena.get_data(as_text=True)
    empty = client_a.post("/portal/households/", data={"q": "", "csrf_token": token})
    assert empty.status_code == 422
    foreign_estate = client_a.post(
        "/portal/households/", data={"q": "山田", "estate": "999999", "csrf_token": token}
    )
    assert foreign_estate.status_code == 422


def test_views_are_audited_like_staff_views(app, world):
    client_a, _, ids = world
    assert client_a.get(f"/portal/households/{ids['household_id']}").status_code == 200
    with app.app_context(), db.connection_context():
        entry = (
            AuditEntry.select()
            .where(AuditEntry.action == "portal.household.view")
            .order_by(AuditEntry.id.desc())
            .get()
        )
        assert entry.actor_id == client_a.user.id and entry.target_ids == f"[{ids['household_id']}]"


def test_the_policy_gives_the_portal_to_contractors_only(app):
    for rule in app.url_map.iter_rules():
        rules = POLICY.get(rule.endpoint, {})
        if rule.endpoint.startswith("portal."):
            assert rules and all(who == CONTRACTOR for who in rules.values()), rule.endpoint
        elif rule.endpoint.startswith("staff."):
            assert all("contractor" not in who for who in rules.values()), rule.endpoint


@pytest.mark.parametrize("role", ["staff", "officer", "auditor", "sysadmin"])
def test_other_roles_are_refused_the_portal(request, app, role):
    client = request.getfixturevalue(f"{role}_client")
    for path in ("/portal/", "/portal/households/", "/portal/households/1", "/portal/applications/"):
        assert client.get(path).status_code == 403, (role, path)


def test_a_contractor_is_refused_staff_pages(contractor_client):
    for path in ("/staff/households/", "/staff/household/1", "/staff/applications/", "/staff/offices/"):
        assert contractor_client.get(path).status_code == 403, path


def test_a_contractor_without_an_office_has_no_portal(app, make_user, login):
    client = app.test_client()
    user = make_user("contractor")
    login(client, user)
    with app.app_context(), db.connection_context():
        from models import User

        User.update(office=None).where(User.id == user.id).execute()
    assert client.get("/portal/").status_code == 403


# --- the ward's office decides the scope ---------------------------------------------------------------


def test_an_officer_reassigns_a_ward_and_the_scope_follows(app, world, officer_client):
    client_a, client_b, ids = world
    url = f"/portal/households/{ids['household_id']}"
    assert (client_a.get(url).status_code, client_b.get(url).status_code) == (200, 404)
    page = officer_client.get(f"/staff/offices/wards/{ids['ward_a']}")
    assert page.status_code == 200
    token = csrf_token_of(officer_client)
    with app.app_context(), db.connection_context():
        version = Ward.get_by_id(ids["ward_a"]).version
    response = officer_client.post(
        f"/staff/offices/wards/{ids['ward_a']}",
        data={"csrf_token": token, "version": version, "office": client_b.user.office_id},
    )
    assert response.status_code == 303
    assert (client_a.get(url).status_code, client_b.get(url).status_code) == (404, 200)
    with app.app_context(), db.connection_context():
        entry = AuditEntry.select().where(AuditEntry.action == "ward.reassign").get()
        assert entry.actor_id == officer_client.user.id and "ward.office" in entry.fields
    # A second save on the version first read is a conflict, not a silent overwrite.
    stale = officer_client.post(
        f"/staff/offices/wards/{ids['ward_a']}",
        data={"csrf_token": token, "version": version, "office": client_a.user.office_id},
    )
    assert stale.status_code == 409
    assert client_b.get(url).status_code == 200
    listing = officer_client.get("/staff/offices/").get_data(as_text=True)
    assert client_b.user.office.name in listing


def test_only_officers_reassign_wards(staff_client, contractor_client):
    assert staff_client.get("/staff/offices/").status_code == 403
    assert contractor_client.get("/staff/offices/").status_code == 403


# --- contracts end ----------------------------------------------------------------------------------------


def test_a_contractor_past_the_contract_end_can_no_longer_use_the_portal(app, make_user, login, soft_keys):
    last_day = today_tokyo() + dt.timedelta(days=1)
    client = app.test_client()
    user = make_user("contractor", contract_end_date=last_day)
    login(client, user)
    assert client.get("/portal/").status_code == 200
    with time_machine.travel(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(9)), tick=False):
        response = client.get("/portal/")
        assert response.status_code == 303 and response.headers["Location"].endswith("/login")
        fresh = app.test_client()
        token = csrf_token_of(fresh)
        options = fresh.post(
            "/login/options", json={}, headers={"X-CSRFToken": token, "Accept": "application/json"}
        )
        assertion = soft_keys[user.id].get(options.get_json())
        verify = fresh.post(
            "/login/verify",
            json={"credential": assertion},
            headers={"X-CSRFToken": token, "Accept": "application/json"},
        )
        assert verify.status_code != 200


def test_users_create_takes_the_office_and_the_contract_end(app, runner):
    with app.app_context(), db.connection_context():
        office = make_office(code="KOSHA1")
    result = runner.invoke(
        args=["users", "create", "--role", "contractor", "--name", "公社 次郎", "--login-id", "kosha-j",
              "--office", office.code, "--contract-end", "2027-03-31"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"/enroll/", result.output)
    with app.app_context(), db.connection_context():
        from models import User

        user = User.get(User.login_id == "kosha-j")
        assert (user.office_id, user.contract_end_date) == (office.id, dt.date(2027, 3, 31))


def test_a_ward_cannot_go_to_an_office_that_does_not_exist(app, world, officer_client):
    _, _, ids = world
    token = csrf_token_of(officer_client)
    response = officer_client.post(
        f"/staff/offices/wards/{ids['ward_a']}",
        data={"csrf_token": token, "version": "1", "office": "999999"},
    )
    assert response.status_code == 422 and "一覧から選んでください" in response.get_data(as_text=True)
    no_office = officer_client.post(
        f"/staff/offices/wards/{ids['ward_a']}", data={"csrf_token": token, "version": "1", "office": "none"}
    )
    assert no_office.status_code == 303
    with app.app_context(), db.connection_context():
        assert Ward.get_by_id(ids["ward_a"]).office_id is None
    assert officer_client.get("/staff/offices/wards/999999").status_code == 404
