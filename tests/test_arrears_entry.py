"""滞納対応・分納誓約・問合せ recorded from the household file: contacts with the arrears of the moment,
installment plans that cover the arrears, inquiries logged, edited and closed; 422 beside the fields
with nothing written, 409 with both versions, plain forms without JavaScript, access."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from extensions import db
from models import ArrearsAction, AuditEntry, Inquiry, InstallmentPlan
from rules.filters import today_tokyo
from services import arrears, billing, editing
from tests.conftest import csrf_token_of
from tests.factories import make_account, make_assignment, make_household, make_person, make_tenancy
from tests.test_billing_entry import RENT, add_charge, month_start

HX = {"HX-Request": "true"}


@pytest.fixture
def household(app):
    """A household with rent unpaid for the last three months (overdue) and this month (not yet due)."""
    with app.app_context(), db.connection_context():
        h = make_household()
        make_person(h)
        make_tenancy(h)
        for back in (3, 2, 1, 0):
            add_charge(h.id, back)
        return h.id


def post(client, url, data, htmx=True):
    data = {"csrf_token": csrf_token_of(client), **data}
    return client.post(url, data=data, headers=HX if htmx else {})


def toast(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


def entries(app, hid, action) -> list[AuditEntry]:
    with app.app_context(), db.connection_context():
        return list(
            AuditEntry.select()
            .where((AuditEntry.action == action) & (AuditEntry.target_ids == f"[{hid}]"))
            .order_by(AuditEntry.id)
        )


def rows(app, model, hid):
    with app.app_context(), db.connection_context():
        return list(model.select().where(model.household == hid).order_by(model.id))


def fetch(app, model, row_id):
    with app.app_context(), db.connection_context():
        return model.get_by_id(row_id)


# --- 滞納対応 -----------------------------------------------------------------------------------------------


def action(**overrides):
    data = {
        "action_kind": "phone",
        "action_action_date": today_tokyo().isoformat(),
        "action_note": "本人と話した。月末に窓口で納付すると約束。",
        "action_next_action_date": (today_tokyo() + dt.timedelta(days=14)).isoformat(),
    }
    data.update(overrides)
    return data


def test_a_contact_is_recorded_with_the_arrears_of_the_moment(app, staff_client, household):
    form = staff_client.get(f"/staff/household/{household}/arrears/new", headers=HX)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "¥120,000" in html  # overdue now: three months of rent
    assert 'value="installment"' not in html  # a 分納誓約 comes with the plan itself
    response = post(staff_client, f"/staff/household/{household}/arrears/new", action())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#arrears" and toast(response) == "滞納対応を記録しました。"
    (contact,) = rows(app, ArrearsAction, household)
    assert contact.kind == "phone" and contact.staff_id == staff_client.user.id
    assert (contact.amount_due, contact.months_due) == (3 * RENT, 3)
    assert contact.next_action_date == today_tokyo() + dt.timedelta(days=14)
    assert "月末に窓口で納付すると約束" in html and staff_client.user.display_name in html
    (entry,) = entries(app, household, "arrears_action.create")
    changes = json.loads(entry.changes)
    assert changes["arrears_action.kind"] == [None, "phone"]
    assert changes["arrears_action.amount_due"] == [None, 3 * RENT]
    # References are not history lines (the entry's actor says who recorded it).
    assert "arrears_action.household" not in changes and "arrears_action.staff" not in changes
    assert entry.actor_id == staff_client.user.id
    assert "変更履歴" in html and staff_client.user.login_id in html


def test_invalid_contact_is_422_and_nothing_written(app, staff_client, household):
    tomorrow = (today_tokyo() + dt.timedelta(days=1)).isoformat()
    response = post(
        staff_client,
        f"/staff/household/{household}/arrears/new",
        action(action_kind="installment", action_action_date=tomorrow, action_next_action_date="2001-01-01"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "一覧から選んでください。" in html
    assert "対応日に今日より後の日付は入力できません。" in html
    assert 'id="action_kind-error"' in html
    response = post(
        staff_client,
        f"/staff/household/{household}/arrears/new",
        action(action_next_action_date="2001-01-01"),
    )
    assert response.status_code == 422
    assert "次回対応予定日は対応日と同じ日かそれより後にしてください。" in response.get_data(as_text=True)
    assert (
        rows(app, ArrearsAction, household) == [] and entries(app, household, "arrears_action.create") == []
    )


def test_without_javascript_a_contact_redirects_with_a_message(app, staff_client, household):
    response = post(
        staff_client, f"/staff/household/{household}/arrears/new", action(action_kind="visit"), htmx=False
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/household/{household}#arrears")
    page = staff_client.get(f"/staff/household/{household}").get_data(as_text=True)
    assert "滞納対応を記録しました。" in page and "訪問" in page


# --- 分納誓約 -----------------------------------------------------------------------------------------------


def plan(**overrides):
    data = {
        "plan_total_amount": "120,000",
        "plan_monthly_amount": "10,000",
        "plan_months": "12",
        "plan_start_month": month_start(today_tokyo(), -1).strftime("%Y-%m"),
        "plan_acknowledged_on": today_tokyo().isoformat(),
    }
    data.update(overrides)
    return data


def test_a_plan_covers_the_arrears(app, staff_client, household):
    url = f"/staff/household/{household}/installments/new"
    form = staff_client.get(url, headers=HX).get_data(as_text=True)
    assert 'value="120000"' in form  # 誓約額 starts at the arrears
    for data, message in (
        (
            plan(plan_months="11"),
            "月額×回数（110,000円）が誓約額（120,000円）に届きません。回数を12回以上にするか",
        ),
        (plan(plan_total_amount="100000"), "誓約額が納期限を過ぎた未納額（120,000円）に足りません。"),
        (
            plan(plan_total_amount="170000", plan_months="17"),
            "誓約額は現在の未納額（160,000円）以下にしてください。",
        ),
        (plan(plan_monthly_amount="130000"), "月額が誓約額を超えています。"),
        (plan(plan_months="0"), "1から120の数で入力してください。"),
        (plan(plan_start_month="2001-01"), "開始月は債務承認日の月かそれより後にしてください。"),
        (plan(plan_start_month="令和8年13月"), "月は 2026-05 または 令和8年5月 の形で入力してください。"),
    ):
        response = post(staff_client, url, data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), message
    assert rows(app, InstallmentPlan, household) == []

    response = post(staff_client, url, plan(plan_start_month="令和99年1月"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert toast(response) == "分納誓約を登録しました。"
    (created,) = rows(app, InstallmentPlan, household)
    assert created.status == "active" and created.start_month.day == 1 and created.total_amount == 120_000
    # The acknowledgement is a contact of its own, in the same transaction.
    (contact,) = rows(app, ArrearsAction, household)
    assert contact.kind == "installment" and "12回" in contact.note
    # One plan in force at a time.
    response = post(staff_client, url, plan())
    assert response.status_code == 422 and "履行中の分納誓約があります。" in response.get_data(as_text=True)
    page = staff_client.get(f"/staff/household/{household}").get_data(as_text=True)
    assert url not in page  # no second 登録 link while one is in force


def test_two_people_editing_a_plan_get_a_409_and_a_plan_ends(app, make_user, login, staff_client, household):
    assert post(staff_client, f"/staff/household/{household}/installments/new", plan()).status_code == 200
    (created,) = rows(app, InstallmentPlan, household)
    url = f"/staff/household/{household}/installments/{created.id}/edit"
    other = app.test_client()
    login(other, make_user("staff"))
    first = post(other, url, plan(plan_version="1", plan_monthly_amount="20000", plan_months="6"))
    assert first.status_code == 200, first.get_data(as_text=True)
    late = post(staff_client, url, plan(plan_version="1", plan_monthly_amount="15000", plan_months="8"))
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html and "15000" in html and "20000" in html
    assert fetch(app, InstallmentPlan, created.id).monthly_amount == 20_000
    invalid = post(staff_client, url, plan(plan_version="2", plan_months="5", plan_monthly_amount="20000"))
    assert invalid.status_code == 422 and "届きません" in invalid.get_data(as_text=True)
    assert fetch(app, InstallmentPlan, created.id).version == 2

    status_url = f"/staff/household/{household}/installments/{created.id}/status"
    response = post(staff_client, status_url, {"plan_status_version": "2", "plan_status_status": "active"})
    assert response.status_code == 422
    response = post(staff_client, status_url, {"plan_status_version": "2", "plan_status_status": "broken"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert toast(response) == "分納誓約の状態を変更しました。"
    assert fetch(app, InstallmentPlan, created.id).status == "broken"
    (entry,) = entries(app, household, "installment_plan.status")
    assert json.loads(entry.changes)["installment_plan.status"] == ["active", "broken"]
    # Ended: no more changes; a new plan may be made.
    assert staff_client.get(url, headers=HX).status_code == 409
    assert staff_client.get(status_url, headers=HX).status_code == 409
    assert post(staff_client, f"/staff/household/{household}/installments/new", plan()).status_code == 200


# --- 問合せ -------------------------------------------------------------------------------------------------


def inquiry(**overrides):
    data = {
        "inquiry_received_on": "2025-04-01",
        "inquiry_received_time": "00:05",
        "inquiry_channel": "phone",
        "inquiry_status": "open",
        "inquiry_subject": "家賃の減免について",
        "inquiry_content": "収入が減ったので減免を受けられるか。",
        "inquiry_answer": "",
    }
    data.update(overrides)
    return data


def test_an_inquiry_is_logged_edited_and_closed(app, staff_client, household):
    url = f"/staff/household/{household}/inquiries/new"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200 and 'name="inquiry_received_time"' in form.get_data(as_text=True)
    response = post(staff_client, url, inquiry())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert toast(response) == "問合せを記録しました。" and "家賃の減免について" in html
    (q,) = rows(app, Inquiry, household)
    # 00:05 in Tokyo is 15:05 UTC the day before (stored UTC).
    assert q.received_at == dt.datetime(2025, 3, 31, 15, 5)
    assert q.recorded_by_id == staff_client.user.id and q.status == "open" and q.answered_at is None
    (entry,) = entries(app, household, "inquiry.create")
    assert json.loads(entry.changes)["inquiry.subject"] == [None, "家賃の減免について"]

    edit = f"/staff/household/{household}/inquiries/{q.id}/edit"
    shown = staff_client.get(edit, headers=HX).get_data(as_text=True)
    assert 'value="00:05"' in shown and 'value="2025-04-01"' in shown
    response = post(
        staff_client,
        edit,
        inquiry(inquiry_version="1", inquiry_status="answered", inquiry_answer="減免の申請書を送付した。"),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    q = fetch(app, Inquiry, q.id)
    assert q.status == "answered" and q.answered_at is not None and q.version == 2
    assert q.received_at.time() == dt.time(15, 5)  # unchanged when not retyped

    close = f"/staff/household/{household}/inquiries/{q.id}/close"
    response = post(staff_client, close, {"inquiry_close_version": "2", "inquiry_close_answer": ""})
    assert response.status_code == 200 and toast(response) == "問合せを完了にしました。"
    q = fetch(app, Inquiry, q.id)
    assert q.status == "closed" and q.answer == "減免の申請書を送付した。"
    assert staff_client.get(close, headers=HX).status_code == 409


def test_invalid_inquiry_is_422_and_nothing_written(app, staff_client, household):
    url = f"/staff/household/{household}/inquiries/new"
    tomorrow = (today_tokyo() + dt.timedelta(days=1)).isoformat()
    response = post(
        staff_client,
        url,
        inquiry(
            inquiry_received_time="25:00",
            inquiry_subject="",
            inquiry_status="answered",
            inquiry_channel="fax",
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "時刻は 14:05 の形で入力してください。" in html
    assert "回答済にするときは回答を入力してください。" in html
    assert "一覧から選んでください。" in html and "入力してください。" in html
    response = post(staff_client, url, inquiry(inquiry_received_on=tomorrow))
    assert response.status_code == 422 and "受付日時に今より後の日時は入力できません。" in response.get_data(
        as_text=True
    )
    assert rows(app, Inquiry, household) == [] and entries(app, household, "inquiry.create") == []


def test_two_people_editing_an_inquiry_get_a_409(app, make_user, login, staff_client, household):
    assert post(staff_client, f"/staff/household/{household}/inquiries/new", inquiry()).status_code == 200
    (q,) = rows(app, Inquiry, household)
    url = f"/staff/household/{household}/inquiries/{q.id}/edit"
    other = app.test_client()
    login(other, make_user("staff"))
    assert post(other, url, inquiry(inquiry_version="1", inquiry_subject="口座振替の変更")).status_code == 200
    late = post(staff_client, url, inquiry(inquiry_version="1", inquiry_subject="家賃の減免（再）"))
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "口座振替の変更" in html and "家賃の減免（再）" in html
    assert fetch(app, Inquiry, q.id).subject == "口座振替の変更"


def test_without_javascript_an_inquiry_redirects_with_a_message(app, staff_client, household):
    page = staff_client.get(f"/staff/household/{household}/inquiries/new")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    response = post(staff_client, f"/staff/household/{household}/inquiries/new", inquiry(), htmx=False)
    assert response.status_code == 303 and response.headers["Location"].endswith("#inquiries")
    shown = staff_client.get(f"/staff/household/{household}").get_data(as_text=True)
    assert "問合せを記録しました。" in shown and "家賃の減免について" in shown


# --- access -------------------------------------------------------------------------------------------


def urls(hid, plan_id, inquiry_id):
    base = f"/staff/household/{hid}"
    return [
        f"{base}/arrears/new",
        f"{base}/installments/new",
        f"{base}/installments/{plan_id}/edit",
        f"{base}/installments/{plan_id}/status",
        f"{base}/inquiries/new",
        f"{base}/inquiries/{inquiry_id}/edit",
        f"{base}/inquiries/{inquiry_id}/close",
    ]


def seeded(app, hid) -> tuple[int, int]:
    with app.app_context(), db.connection_context():
        user = make_account("staff")
        plan_id = InstallmentPlan.create(
            household=hid, total_amount=10, monthly_amount=10, start_month=month_start(today_tokyo()),
            months=1, acknowledged_on=today_tokyo(),
        ).id  # fmt: skip
        inquiry_id = Inquiry.create(
            household=hid, channel="phone", received_at=dt.datetime(2026, 1, 5, 1, 0), subject="件名",
            content="内容", recorded_by=user,
        ).id  # fmt: skip
    return plan_id, inquiry_id


def test_contractors_cannot_reach_arrears_entry(app, contractor_client, household):
    plan_id, inquiry_id = seeded(app, household)
    for url in urls(household, plan_id, inquiry_id):
        assert contractor_client.get(url, headers=HX).status_code == 403, url
        assert post(contractor_client, url, {}).status_code in (400, 403), url
    assert rows(app, ArrearsAction, household) == []


def test_out_of_scope_and_foreign_records_are_404(app, staff_client, make_user, household):
    with app.app_context(), db.connection_context():
        protected = make_household(support_measure=True)
        make_person(protected)
        make_assignment(protected, make_user("staff"))
        pid = protected.id
    plan_id, inquiry_id = seeded(app, pid)
    for url in urls(pid, plan_id, inquiry_id):
        assert staff_client.get(url, headers=HX).status_code == 404, url
        assert post(staff_client, url, inquiry()).status_code == 404, url
    for url in urls(household, plan_id, inquiry_id):
        if not url.endswith("/new"):
            assert staff_client.get(url, headers=HX).status_code == 404, url
    assert fetch(app, Inquiry, inquiry_id).version == 1
    with app.app_context(), db.connection_context():
        assert AuditEntry.select().where(AuditEntry.action == "access.out_of_scope").count() >= 14


# --- on both engines ------------------------------------------------------------------------------------


def test_arrears_figures_and_one_plan_in_force_on_both_engines(engine_db):
    """The snapshot of a contact and a plan's bounds come from the aggregate balance (SQLite and PostgreSQL)."""
    h = make_household()
    make_tenancy(h)
    user = make_account("staff")
    for back in (2, 1, 0):
        add_charge(h.id, back)
    today = today_tokyo()
    billing.record_payment(h.id, amount=15_000, receipt_date=today, posted_date=today, method="counter")
    contact = arrears.record_action(h.id, {"kind": "demand", "action_date": today}, actor=user)
    assert (contact.amount_due, contact.months_due) == (2 * RENT - 15_000, 2)
    values = {
        "total_amount": 2 * RENT - 15_000,
        "monthly_amount": 13_000,
        "months": 5,
        "start_month": today,
        "acknowledged_on": today,
    }
    created = arrears.create_plan(h.id, values, actor=user)
    assert created.start_month == today.replace(day=1)
    with pytest.raises(editing.RuleViolation):
        arrears.create_plan(h.id, values, actor=user)  # one in force at a time
    assert InstallmentPlan.select().where(InstallmentPlan.household == h.id).count() == 1
    assert ArrearsAction.select().where(ArrearsAction.household == h.id).count() == 2
