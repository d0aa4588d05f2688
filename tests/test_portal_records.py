"""The 公社's own records on the portal: move-in/out procedures, household-change applications decided
by the city (maker-checker), inquiries and repair requests; the household page and the home counts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from extensions import db
from models import AuditEntry, HouseholdApplication, Inquiry, MoveProcedure, RepairRequest, User
from rules.filters import today_tokyo
from services import household_applications
from services.editing import RuleViolation
from tests.conftest import csrf_token_of
from tests.test_portal_scope import world  # noqa: F401 (fixture)


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data})


def last_entry(app, action):
    with app.app_context(), db.connection_context():
        return AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).first()


# --- move-in and move-out procedures -------------------------------------------------------------------


def test_a_move_out_procedure_is_recorded_directly_and_listed(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/procedures/household/{ids['household_id']}/new"
    assert client_a.get(url).status_code == 200
    response = post(
        client_a, url, kind="move_out", keys_handed_on="令和7年3月31日", inspection_on="2025-03-31",
        repair_needs="襖の張替え\n床の補修",
    )  # fmt: skip
    assert response.status_code == 303
    with app.app_context(), db.connection_context():
        row = MoveProcedure.get(
            (MoveProcedure.tenancy == ids["tenancy_id"]) & (MoveProcedure.kind == "move_out")
        )
        assert (row.keys_handed_on, row.office_id, row.recorded_by_id) == (
            dt.date(2025, 3, 31),
            client_a.user.office_id,
            client_a.user.id,
        )
    entry = last_entry(app, "move_procedure.create")
    assert entry.target_table == "household" and entry.target_ids == f"[{ids['household_id']}]"
    page = client_a.get(f"/portal/households/{ids['household_id']}").get_data(as_text=True)
    assert "退去手続" in page and "襖の張替え" in page
    assert "襖の張替え" in client_a.get("/portal/procedures/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "move_in", "keys_handed_on": "2010-04-01"}, "すでに同じ種別の手続"),
        ({"kind": "move_out"}, "どれかを入力してください"),
        ({"kind": "move_out", "keys_handed_on": "2999-01-01"}, "今日より後の日付"),
        ({"kind": "move_out", "inspection_on": "2000-01-01"}, "入居日より前"),
        ({"kind": "move_out", "inspection_on": "2025-02-30"}, "日付"),
        ({"kind": "nothing", "inspection_on": "2025-03-01"}, "選んでください"),
    ],
)
def test_a_procedure_that_cannot_be_recorded_says_why(app, world, data, message):  # noqa: F811
    client_a, _, ids = world
    with app.app_context(), db.connection_context():
        before = MoveProcedure.select().count()
    response = post(client_a, f"/portal/procedures/household/{ids['household_id']}/new", **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert MoveProcedure.select().count() == before


def test_a_procedure_edit_is_locked_on_its_version(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/procedures/{ids['procedure_id']}/edit"
    assert "2010-04-01" in client_a.get(url).get_data(as_text=True)
    first = post(client_a, url, version="1", keys_handed_on="2010-04-02")
    assert first.status_code == 303
    stale = post(client_a, url, version="1", keys_handed_on="2010-04-03")
    assert stale.status_code == 409 and "ほかの人が先に保存しました" in stale.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert MoveProcedure.get_by_id(ids["procedure_id"]).keys_handed_on == dt.date(2010, 4, 2)


# --- applications: the agent submits, the city decides ---------------------------------------------------


def test_an_application_needs_its_required_documents(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/applications/household/{ids['household_id']}/new"
    choose = client_a.get(url).get_data(as_text=True)
    assert "同居承認申請" in choose and "kind=cohabitation" in choose
    form = client_a.get(url + "?kind=cohabitation").get_data(as_text=True)
    assert "同居しようとする者の住民票の写し" in form
    missing = post(client_a, url, kind="cohabitation", received_on="2025-04-01", attachments=["form"])
    assert missing.status_code == 422
    assert "必要な書類が確認されていません" in missing.get_data(as_text=True)
    forged = post(client_a, url, kind="cohabitation", received_on="2025-04-01", attachments=["form", "bogus"])
    assert forged.status_code == 422
    unknown = post(client_a, url, kind="bogus", received_on="2025-04-01")
    assert unknown.status_code == 422
    with app.app_context(), db.connection_context():
        assert HouseholdApplication.select().where(HouseholdApplication.kind == "cohabitation").count() == 0


def _submit(app, client, ids) -> int:
    documents = [d.code for d in household_applications.checklist("cohabitation")]
    response = post(
        client, f"/portal/applications/household/{ids['household_id']}/new", kind="cohabitation",
        received_on="2025-04-01", attachments=documents, details="長男 山田一郎 の同居",
    )  # fmt: skip
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        return HouseholdApplication.select().order_by(HouseholdApplication.id.desc()).first().id


def test_the_city_returns_the_agent_corrects_the_city_approves(app, world, staff_client):  # noqa: F811
    client_a, _, ids = world
    application_id = _submit(app, client_a, ids)
    staff_url = f"/staff/applications/{application_id}"
    listing = staff_client.get("/staff/applications/").get_data(as_text=True)
    assert staff_url in listing
    page = staff_client.get(staff_url).get_data(as_text=True)
    assert "長男 山田一郎 の同居" in page and "同居承認申請書" in page
    no_reason = post(staff_client, staff_url, version="1", decision="returned")
    assert no_reason.status_code == 422 and "理由を入力してください" in no_reason.get_data(as_text=True)
    returned = post(staff_client, staff_url, version="1", decision="returned", comment="続柄の書類が古い")
    assert returned.status_code == 303

    shown = client_a.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    assert "差戻し" in shown and "続柄の書類が古い" in shown
    edit_url = f"/portal/applications/{application_id}/edit"
    assert "修正して再提出" in client_a.get(edit_url).get_data(as_text=True)
    documents = [d.code for d in household_applications.checklist("cohabitation")]
    resubmitted = post(client_a, edit_url, version="2", received_on="2025-04-02", attachments=documents,
                       details="長男 山田一郎 の同居（戸籍謄本を再取得）")  # fmt: skip
    assert resubmitted.status_code == 303
    assert last_entry(app, "household_application.resubmit") is not None

    stale = post(staff_client, staff_url, version="2", decision="approved")
    assert stale.status_code == 409
    approved = post(staff_client, staff_url, version="3", decision="approved")
    assert approved.status_code == 303
    with app.app_context(), db.connection_context():
        application = HouseholdApplication.get_by_id(application_id)
        assert (application.state, application.decided_by_id) == ("approved", staff_client.user.id)
    after = staff_client.get(staff_url).get_data(as_text=True)
    assert f"/staff/household/{ids['household_id']}/events/join" in after  # the change itself is staff's
    assert "承認" in client_a.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    entry = last_entry(app, "household_application.approve")
    assert entry.actor_id == staff_client.user.id and entry.target_ids == f"[{ids['household_id']}]"
    # Decided: the agent can no longer change or withdraw it.
    assert post(client_a, edit_url, version="4", received_on="2025-04-02").status_code == 409
    assert post(client_a, f"/portal/applications/{application_id}/withdraw", version="4").status_code == 409


def test_the_reviewer_is_never_the_submitter_and_always_city_staff(app, world, make_user):  # noqa: F811
    client_a, _, ids = world
    staff = make_user("staff")
    with app.test_request_context(), db.connection_context():
        application = HouseholdApplication.create(
            household=ids["household_id"], kind="other", received_on=dt.date(2025, 1, 1), state="submitted",
            attachments='["form"]', submitted_by=staff,
        )  # fmt: skip
        with pytest.raises(RuleViolation, match="自分が提出した"):
            household_applications.decide(application, application.version, "approved", None, actor=staff)
        contractor = User.get_by_id(client_a.user.id)
        with pytest.raises(RuleViolation, match="市の職員"):
            household_applications.decide(
                application, application.version, "approved", None, actor=contractor
            )
        assert HouseholdApplication.get_by_id(application.id).state == "submitted"


def test_the_agent_withdraws_one_not_yet_decided(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/applications/{ids['application_id']}/withdraw"
    assert post(client_a, url, version="1").status_code == 303
    with app.app_context(), db.connection_context():
        assert HouseholdApplication.get_by_id(ids["application_id"]).state == "withdrawn"
    assert post(client_a, url, version="2").status_code == 409


def test_staff_see_no_application_of_a_protected_household_they_are_not_assigned(app, world, staff_client):  # noqa: F811
    _, _, ids = world
    with app.app_context(), db.connection_context():
        from models import Household

        Household.update(support_measure=True).where(Household.id == ids["household_id"]).execute()
    assert staff_client.get(f"/staff/applications/{ids['application_id']}").status_code == 404
    assert f"/staff/applications/{ids['application_id']}" not in staff_client.get(
        "/staff/applications/?state=all"
    ).get_data(as_text=True)


# --- inquiries and repair requests ---------------------------------------------------------------------


def test_an_inquiry_is_logged_with_the_office_and_answered(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/inquiries/household/{ids['household_id']}/new"
    assert client_a.get(url).status_code == 200
    response = post(
        client_a, url, inquiry_received_on="2025-05-01", inquiry_received_time="10:30", inquiry_channel="counter",
        inquiry_subject="駐輪場の場所", inquiry_content="自転車を置く場所を知りたい", inquiry_status="open",
    )  # fmt: skip
    assert response.status_code == 303
    with app.app_context(), db.connection_context():
        inquiry = Inquiry.get(Inquiry.subject == "駐輪場の場所")
        assert (inquiry.office_id, inquiry.recorded_by_id) == (client_a.user.office_id, client_a.user.id)
    assert "駐輪場の場所" in client_a.get("/portal/inquiries/").get_data(as_text=True)
    edit = f"/portal/inquiries/{inquiry.id}/edit"
    answered = post(
        client_a, edit, inquiry_version=str(inquiry.version), inquiry_received_on="2025-05-01",
        inquiry_received_time="10:30", inquiry_channel="counter", inquiry_subject="駐輪場の場所",
        inquiry_content="自転車を置く場所を知りたい", inquiry_answer="各棟の北側です。", inquiry_status="answered",
    )  # fmt: skip
    assert answered.status_code == 303
    with app.app_context(), db.connection_context():
        assert Inquiry.get_by_id(inquiry.id).answered_at is not None


def test_inquiries_the_city_logged_stay_with_the_city(app, world, staff_client):  # noqa: F811
    client_a, _, ids = world
    with app.app_context(), db.connection_context():
        city = Inquiry.create(
            household=ids["household_id"], channel="phone", received_at=dt.datetime(2025, 2, 2, 1, 0),
            subject="生活保護の相談", content="福祉事務所から", recorded_by=staff_client.user.id,
        )  # fmt: skip
    assert "生活保護の相談" not in client_a.get(f"/portal/households/{ids['household_id']}").get_data(
        as_text=True
    )
    assert client_a.get(f"/portal/inquiries/{city.id}/edit").status_code == 404


def test_a_repair_request_moves_on_to_done(app, world):  # noqa: F811
    client_a, _, ids = world
    url = f"/portal/inquiries/household/{ids['household_id']}/repairs/new"
    assert (
        post(client_a, url, received_on="2025-06-01", content="換気扇の異音", status="received").status_code
        == 303
    )
    with app.app_context(), db.connection_context():
        repair = RepairRequest.get(RepairRequest.content == "換気扇の異音")
        assert (repair.unit_id, repair.office_id) == (ids["unit_id"], client_a.user.office_id)
    edit = f"/portal/inquiries/repairs/{repair.id}/edit"
    no_date = post(
        client_a, edit, version="1", received_on="2025-06-01", content="換気扇の異音", status="done"
    )
    assert no_date.status_code == 422 and "完了日を入力してください" in no_date.get_data(as_text=True)
    done = post(
        client_a, edit, version="1", received_on="2025-06-01", content="換気扇の異音", status="done",
        completed_on=today_tokyo().isoformat(),
    )  # fmt: skip
    assert done.status_code == 303
    assert "換気扇の異音" not in client_a.get("/portal/inquiries/repairs").get_data(as_text=True)
    assert "換気扇の異音" in client_a.get("/portal/inquiries/repairs?all=1").get_data(as_text=True)


# --- the household page and the home ---------------------------------------------------------------------


def test_the_household_page_shows_what_the_agent_needs(app, world):  # noqa: F811
    client_a, _, ids = world
    html = client_a.get(f"/portal/households/{ids['household_id']}").get_data(as_text=True)
    for expected in ("山田　花子", "ヤマダ ハナコ", "10000001", "市営小田住宅", "保証　一郎", "川崎 500 あ 12-34",
                     "044-123-4567", "未納額", "蛇口の水漏れ", "騒音", "期間を書いてください"):  # fmt: skip
        assert expected in html, expected


def test_the_home_counts_the_offices_open_items(world):  # noqa: F811
    client_a, client_b, _ = world
    home = client_a.get("/portal/").get_data(as_text=True)
    assert "差戻しされた届出・申請" in home and "portal-counts__item--open" in home
    assert "portal-counts__item--open" not in client_b.get("/portal/").get_data(as_text=True)


def test_the_stored_checklist_is_what_was_ticked(app, world):  # noqa: F811
    client_a, _, ids = world
    application_id = _submit(app, client_a, ids)
    with app.app_context(), db.connection_context():
        stored = HouseholdApplication.get_by_id(application_id)
        assert json.loads(stored.attachments) == [
            d.code for d in household_applications.checklist("cohabitation")
        ]
        assert stored.office_id == client_a.user.office_id and stored.state == "submitted"


@pytest.mark.parametrize(
    ("path", "action"),
    [("/portal/procedures/", "portal.procedures.list"), ("/portal/applications/", "portal.applications.list"),
     ("/portal/inquiries/", "portal.inquiries.list"), ("/portal/inquiries/repairs", "portal.repairs.list")],
)  # fmt: skip
def test_every_list_naming_households_is_audited(app, world, path, action):  # noqa: F811
    client_a, _, ids = world
    assert client_a.get(path).status_code == 200
    entry = last_entry(app, action)
    assert entry is not None and entry.actor_id == client_a.user.id
    assert json.loads(entry.target_ids) == [ids["household_id"]]
