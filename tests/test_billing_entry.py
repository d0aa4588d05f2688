"""減免・調定・収納 recorded from the household file: requests and an officer's decision, charge
corrections and cancellations, counter payments and their reversal; 422 beside the fields with nothing
written, 409 with both versions, plain forms without JavaScript, access, and the balance on both engines."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from extensions import db
from models import AuditEntry, Charge, Payment, RentReduction
from rules.filters import today_tokyo
from services import billing, editing
from tests.conftest import csrf_token_of
from tests.factories import make_account, make_assignment, make_household, make_person, make_tenancy

HX = {"HX-Request": "true"}
RENT = 40_000


def month_start(d: dt.date, back: int = 0) -> dt.date:
    index = d.year * 12 + d.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(d: dt.date) -> dt.date:
    following = month_start(d, -1)
    return following - dt.timedelta(days=1)


def add_charge(household_id: int, back: int, amount: int = RENT, reduction: int = 0, **kw) -> Charge:
    """A rent charge for the month `back` months before this one, due at its end."""
    period = month_start(today_tokyo(), back)
    return Charge.create(
        household=household_id,
        kind="rent",
        period=period,
        source_key="rent",
        amount=amount,
        reduction_amount=reduction,
        due_date=month_end(period),
        **kw,
    )


@pytest.fixture
def household(app):
    """A household with a head, a tenancy and rent charged for the last three months (all overdue) and
    this month (not yet due): 160,000 charged, nothing paid. Returns {"id", "charges": [oldest … newest]}."""
    with app.app_context(), db.connection_context():
        h = make_household()
        make_person(h)
        make_tenancy(h)
        charges = [add_charge(h.id, back).id for back in (3, 2, 1, 0)]
        return {"id": h.id, "charges": charges}


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


def totals(app, hid) -> billing.Totals:
    with app.app_context(), db.connection_context():
        return billing.totals(hid)


def fetch(app, model, row_id):
    with app.app_context(), db.connection_context():
        return model.get_by_id(row_id)


def payments_of(app, hid) -> list[Payment]:
    with app.app_context(), db.connection_context():
        return list(Payment.select().join(Charge).where(Charge.household == hid).order_by(Payment.id))


# --- 減免 ----------------------------------------------------------------------------------------------


def reduction_data(**overrides):
    year = today_tokyo().year
    data = {
        "reduction_kind": "reduction",
        "reduction_reason": "income_drop",
        "reduction_rate": "",
        "reduction_amount": "5,000円",
        "reduction_minimum_rent": "",
        "reduction_start_date": f"{year}-04-01",
        "reduction_end_date": f"{year + 1}-03-31",
        "reduction_note": "",
    }
    data.update(overrides)
    return data


def add_reduction(app, hid, **kw) -> int:
    year = today_tokyo().year
    values = {
        "household": hid,
        "reason": "income_drop",
        "amount": 5_000,
        "start_date": dt.date(year, 4, 1),
        "end_date": dt.date(year + 1, 3, 31),
        **kw,
    }
    with app.app_context(), db.connection_context():
        return RentReduction.create(**values).id


def test_staff_register_a_reduction_request(app, staff_client, household):
    hid = household["id"]
    form = staff_client.get(f"/staff/household/{hid}/reductions/new", headers=HX)
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    response = post(
        staff_client, f"/staff/household/{hid}/reductions/new", reduction_data(reduction_rate="50")
    )
    assert response.status_code == 422  # a rate and an amount at once
    assert "減免率と減免額は、どちらか一方だけ入力してください。" in response.get_data(as_text=True)

    response = post(staff_client, f"/staff/household/{hid}/reductions/new", reduction_data())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#reductions"
    assert toast(response) == "減免の申請を登録しました。"
    assert html.lstrip().startswith('<section class="section file-section" id="reductions"')
    assert "申請中" in html and "¥5,000" in html
    # The history line: who registered what.
    assert "変更履歴" in html and staff_client.user.login_id in html
    with app.app_context(), db.connection_context():
        r = RentReduction.get(RentReduction.household == hid)
    assert r.status == "requested" and r.amount == 5_000 and r.rate is None and r.approved_by_id is None
    (entry,) = entries(app, hid, "rent_reduction.create")
    assert json.loads(entry.changes)["rent_reduction.amount"] == [None, 5000]
    # Staff see 編集 but no 承認・却下 link.
    assert "/decide" not in html and f"/reductions/{r.id}/edit" in html


def test_a_rate_is_typed_in_percent(app, staff_client, household):
    hid = household["id"]
    response = post(
        staff_client,
        f"/staff/household/{hid}/reductions/new",
        reduction_data(reduction_rate="３３．５％", reduction_amount="", reduction_minimum_rent="10000"),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "33.5%" in response.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        r = RentReduction.get(RentReduction.household == hid)
    assert r.rate == Decimal("0.335") and r.amount is None and r.minimum_rent == 10_000


def test_invalid_reduction_is_422_beside_the_fields_and_nothing_written(app, staff_client, household):
    hid = household["id"]
    year = today_tokyo().year
    response = post(
        staff_client,
        f"/staff/household/{hid}/reductions/new",
        reduction_data(
            reduction_amount="",
            reduction_reason="",
            reduction_start_date=f"{year}-04-01",
            reduction_end_date=f"{year}-03-31",
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "減免率か減免額のどちらかを入力してください。" in html
    assert "選んでください。" in html
    assert "終了日は開始日と同じ日かそれより後にしてください。" in html
    assert 'id="reduction_rate-error"' in html and 'aria-invalid="true"' in html
    response = post(
        staff_client,
        f"/staff/household/{hid}/reductions/new",
        reduction_data(reduction_rate="0", reduction_amount=""),
    )
    assert response.status_code == 422 and "0より大きく100以下の数で入力してください。" in response.get_data(
        as_text=True
    )
    with app.app_context(), db.connection_context():
        assert RentReduction.select().where(RentReduction.household == hid).count() == 0
    assert entries(app, hid, "rent_reduction.create") == []


def test_an_officer_approves_and_staff_cannot(app, staff_client, officer_client, household):
    hid = household["id"]
    rid = add_reduction(app, hid)
    url = f"/staff/household/{hid}/reductions/{rid}/decide"
    assert staff_client.get(url, headers=HX).status_code == 403
    assert (
        post(staff_client, url, {"decision_version": "1", "decision_decision": "approve"}).status_code == 403
    )
    assert fetch(app, RentReduction, rid).status == "requested"

    page = officer_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    assert url in page  # the officer sees 承認・却下
    response = post(officer_client, url, {"decision_version": "1", "decision_decision": "reject"})
    assert response.status_code == 422 and "却下の理由を入力してください。" in response.get_data(as_text=True)
    response = post(officer_client, url, {"decision_version": "1", "decision_decision": "approve"})
    assert response.status_code == 200, response.get_data(as_text=True)
    # No rent decision in force here: the charges of the period cannot be corrected, and the toast says so.
    assert toast(response).startswith("減免を承認しました。")
    assert "訂正できなかった月" in toast(response) and "家賃決定がありません" in toast(response)
    r = fetch(app, RentReduction, rid)
    assert r.status == "approved" and r.approved_by_id == officer_client.user.id
    assert r.approved_at == today_tokyo()
    (entry,) = entries(app, hid, "rent_reduction.decide")
    assert json.loads(entry.changes)["rent_reduction.status"] == ["requested", "approved"]
    # Decided: no more editing, deciding again is refused.
    assert staff_client.get(f"/staff/household/{hid}/reductions/{rid}/edit", headers=HX).status_code == 409
    assert officer_client.get(url, headers=HX).status_code == 409


def test_an_officer_rejects_with_a_reason(app, officer_client, household):
    hid = household["id"]
    rid = add_reduction(app, hid)
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/decide",
        {
            "decision_version": "1",
            "decision_decision": "reject",
            "decision_reason": "収入の低下が確認できない",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert toast(response) == "減免の申請を却下しました。"
    r = fetch(app, RentReduction, rid)
    assert r.status == "rejected" and r.approved_by_id == officer_client.user.id
    assert "【却下 " in r.note and "収入の低下が確認できない" in r.note
    assert "file-row--past" in response.get_data(as_text=True)


def test_an_officer_cannot_decide_a_request_they_registered(app, officer_client, household):
    hid = household["id"]
    response = post(officer_client, f"/staff/household/{hid}/reductions/new", reduction_data())
    assert response.status_code == 200
    with app.app_context(), db.connection_context():
        rid = RentReduction.get(RentReduction.household == hid).id
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
    )
    assert response.status_code == 422
    assert "自分で登録した申請は承認・却下できません。" in response.get_data(as_text=True)
    assert fetch(app, RentReduction, rid).status == "requested"


def test_overlapping_approved_periods_are_refused(app, officer_client, staff_client, household):
    hid = household["id"]
    year = today_tokyo().year
    add_reduction(app, hid, status="approved")
    response = post(
        staff_client,
        f"/staff/household/{hid}/reductions/new",
        reduction_data(reduction_start_date=f"{year + 1}-01-01", reduction_end_date=f"{year + 1}-06-30"),
    )
    assert response.status_code == 422
    assert "承認済みの期間" in response.get_data(as_text=True)
    # A request that did not overlap when registered is refused at approval if one was granted since.
    later = add_reduction(app, hid, start_date=dt.date(year + 1, 4, 1), end_date=dt.date(year + 2, 3, 31))
    add_reduction(
        app, hid, status="approved", start_date=dt.date(year + 1, 6, 1), end_date=dt.date(year + 1, 9, 30)
    )
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{later}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
    )
    assert response.status_code == 422 and "承認済みの期間" in response.get_data(as_text=True)
    assert fetch(app, RentReduction, later).status == "requested"
    # A 徴収猶予 (another kind) over the same days is not an overlap.
    response = post(
        staff_client,
        f"/staff/household/{hid}/reductions/new",
        reduction_data(reduction_kind="postponement", reduction_amount=""),
    )
    assert response.status_code == 200


def test_two_people_editing_a_request_get_a_409(app, make_user, login, staff_client, household):
    hid = household["id"]
    rid = add_reduction(app, hid)
    other = app.test_client()
    login(other, make_user("staff"))
    url = f"/staff/household/{hid}/reductions/{rid}/edit"
    first = post(other, url, reduction_data(reduction_version="1", reduction_amount="6000"))
    assert first.status_code == 200, first.get_data(as_text=True)
    late = post(staff_client, url, reduction_data(reduction_version="1", reduction_amount="7000"))
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html and "7000" in html and "6000" in html
    assert fetch(app, RentReduction, rid).amount == 6_000
    again = post(staff_client, url, reduction_data(reduction_version="2", reduction_amount="7000"))
    assert again.status_code == 200 and fetch(app, RentReduction, rid).amount == 7_000


def test_an_officer_ends_a_granted_reduction(app, officer_client, staff_client, household):
    hid = household["id"]
    year = today_tokyo().year
    rid = add_reduction(app, hid, status="approved")
    url = f"/staff/household/{hid}/reductions/{rid}/end"
    assert staff_client.get(url, headers=HX).status_code == 403
    response = post(
        officer_client, url, {"end_version": "1", "end_end_date": f"{year + 2}-01-01", "end_reason": "x"}
    )
    assert response.status_code == 422 and "終了日は" in response.get_data(as_text=True)
    response = post(
        officer_client, url, {"end_version": "1", "end_end_date": f"{year}-09-30", "end_reason": "収入回復"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    r = fetch(app, RentReduction, rid)
    assert r.status == "ended" and r.end_date == dt.date(year, 9, 30) and "収入回復" in r.note


# --- 調定: corrections and cancellation --------------------------------------------------------------------


def correction(version=1, **overrides):
    data = {
        "charge_version": str(version),
        "charge_amount": "38,000",
        "charge_reduction_amount": "0",
        "charge_reason": "家賃決定の更正",
    }
    data.update(overrides)
    return data


def test_a_charge_is_corrected_with_a_reason_and_the_balance_follows(app, staff_client, household):
    hid, oldest = household["id"], household["charges"][0]
    url = f"/staff/household/{hid}/charges/{oldest}/correct"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200 and 'value="40000"' in form.get_data(as_text=True)
    response = post(staff_client, url, correction(charge_reduction_amount="3,000"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#charges" and toast(response) == "調定を訂正しました。"
    c = fetch(app, Charge, oldest)
    assert (c.amount, c.reduction_amount, c.version) == (38_000, 3_000, 2)
    assert "【訂正 " in c.note and "家賃決定の更正" in c.note
    (entry,) = entries(app, hid, "charge.correct")
    changes = json.loads(entry.changes)
    assert changes["charge.amount"] == [40000, 38000]
    assert changes["charge.reduction_amount"] == [0, 3000]
    assert "調定額" in html and "¥40,000" in html and "¥38,000" in html  # the history line, before → after
    t = totals(app, hid)
    assert (t.amount, t.reduction, t.paid, t.unpaid) == (158_000, 3_000, 0, 155_000)


def test_a_correction_never_goes_below_what_was_paid(app, staff_client, household):
    hid, oldest = household["id"], household["charges"][0]
    assert post(
        staff_client,
        f"/staff/household/{hid}/payments/new",
        {"payment_charge": str(oldest), "payment_amount": "30000", "payment_receipt_date": today_tokyo().isoformat(),
         "payment_posted_date": today_tokyo().isoformat(), "payment_method": "counter"},
    ).status_code == 200  # fmt: skip
    url = f"/staff/household/{hid}/charges/{oldest}/correct"
    response = post(staff_client, url, correction(charge_amount="35000", charge_reduction_amount="6000"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "この調定には30,000円の収納があります。" in html and 'id="charge_amount-error"' in html
    response = post(staff_client, url, correction(charge_amount="1000", charge_reduction_amount="2000"))
    assert response.status_code == 422 and "減免額は調定額以下にしてください。" in response.get_data(
        as_text=True
    )
    response = post(staff_client, url, correction(charge_amount="40000", charge_reason=""))
    assert response.status_code == 422 and "入力してください。" in response.get_data(as_text=True)
    c = fetch(app, Charge, oldest)
    assert (c.amount, c.reduction_amount, c.version, c.note) == (RENT, 0, 1, None)
    assert entries(app, hid, "charge.correct") == []
    # Down to exactly what was paid is fine.
    assert post(staff_client, url, correction(charge_amount="30000")).status_code == 200


def test_two_people_correcting_one_charge_get_a_409(app, make_user, login, staff_client, household):
    hid, oldest = household["id"], household["charges"][0]
    other = app.test_client()
    login(other, make_user("staff"))
    url = f"/staff/household/{hid}/charges/{oldest}/correct"
    assert post(other, url, correction(charge_amount="39000")).status_code == 200
    late = post(staff_client, url, correction(charge_amount="37000"))
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html
    assert "37000" in html and "39000" in html  # mine and theirs, side by side
    assert fetch(app, Charge, oldest).amount == 39_000


def test_a_charge_is_cancelled_not_deleted_and_not_while_paid(app, staff_client, household):
    hid, (oldest, second, *_rest) = household["id"], household["charges"]
    post(
        staff_client,
        f"/staff/household/{hid}/payments/new",
        {"payment_charge": str(second), "payment_amount": "100", "payment_receipt_date": today_tokyo().isoformat(),
         "payment_posted_date": today_tokyo().isoformat(), "payment_method": "counter"},
    )  # fmt: skip
    refused = post(
        staff_client,
        f"/staff/household/{hid}/charges/{second}/cancel",
        {"cancel_version": "1", "cancel_reason": "誤り"},
    )
    assert refused.status_code == 422 and "収納があるため取り消せません" in refused.get_data(as_text=True)
    response = post(
        staff_client,
        f"/staff/household/{hid}/charges/{oldest}/cancel",
        {"cancel_version": "1", "cancel_reason": "二重調定"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    c = fetch(app, Charge, oldest)
    assert c.cancelled and "二重調定" in c.note
    assert "調定取消" in response.get_data(as_text=True)
    assert totals(app, hid).amount == 3 * RENT  # a cancelled charge counts for nothing
    # A cancelled charge is neither corrected nor cancelled again.
    assert staff_client.get(f"/staff/household/{hid}/charges/{oldest}/correct", headers=HX).status_code == 409
    assert (
        post(
            staff_client,
            f"/staff/household/{hid}/charges/{oldest}/cancel",
            {"cancel_version": "2", "cancel_reason": "x"},
        ).status_code
        == 409
    )


# --- 収納 -------------------------------------------------------------------------------------------------


def payment(**overrides):
    today = today_tokyo().isoformat()
    data = {
        "payment_charge": "",
        "payment_amount": "50,000",
        "payment_receipt_date": today,
        "payment_posted_date": today,
        "payment_method": "counter",
        "payment_note": "領収書 No.123",
    }
    data.update(overrides)
    return data


def test_a_counter_payment_fills_the_oldest_charges_first(app, staff_client, household):
    hid, charges = household["id"], household["charges"]
    form = staff_client.get(f"/staff/household/{hid}/payments/new", headers=HX).get_data(as_text=True)
    assert "未納の古い順に充当（未納額 合計 160,000円）" in form
    response = post(staff_client, f"/staff/household/{hid}/payments/new", payment())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#charges" and toast(response) == "収納を記録しました。"
    rows = payments_of(app, hid)
    assert [(p.charge_id, p.amount) for p in rows] == [(charges[0], 40_000), (charges[1], 10_000)]
    assert all(p.method == "counter" and p.recorded_by_id == staff_client.user.id for p in rows)
    assert rows[0].receipt_date == today_tokyo() and rows[0].note == "領収書 No.123"
    t = totals(app, hid)
    assert (t.paid, t.unpaid) == (50_000, 110_000)
    assert t.overdue == 2 * RENT - 10_000 + 0 and t.overdue_months == 2
    # The section shows the new balance and the history line.
    assert 'data-testid="unpaid-total">¥110,000' in html
    created = entries(app, hid, "payment.create")
    assert len(created) == 2
    changes = json.loads(created[0].changes)
    assert changes["payment.amount"] == [None, 40000] and changes["payment.method"] == [None, "counter"]
    assert "収納額" in html and staff_client.user.login_id in html


def test_a_payment_on_one_charge_and_overpayment_refused(app, staff_client, household):
    hid, charges = household["id"], household["charges"]
    url = f"/staff/household/{hid}/payments/new"
    chosen = staff_client.get(f"{url}?charge={charges[2]}", headers=HX).get_data(as_text=True)
    assert re.search(rf'<option selected value="{charges[2]}"|<option value="{charges[2]}" selected', chosen)
    response = post(staff_client, url, payment(payment_charge=str(charges[2]), payment_amount="40001"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "この調定の未納額は40,000円です。それを超える額は収納できません。" in html
    assert 'id="payment_amount-error"' in html and 'value="40001"' in html
    response = post(staff_client, url, payment(payment_amount="160001"))
    assert response.status_code == 422 and "未納額の合計は160,000円です。" in response.get_data(as_text=True)
    response = post(staff_client, url, payment(payment_amount="0", payment_receipt_date="令和99年1月1日"))
    assert response.status_code == 422
    assert "収納額は1円以上で入力してください。" in response.get_data(as_text=True)
    future = (today_tokyo() + dt.timedelta(days=1)).isoformat()
    response = post(staff_client, url, payment(payment_posted_date=future, payment_receipt_date=future))
    assert response.status_code == 422 and "今日より後の日付は入力できません" in response.get_data(
        as_text=True
    )
    yesterday = (today_tokyo() - dt.timedelta(days=1)).isoformat()
    response = post(staff_client, url, payment(payment_posted_date=yesterday))
    assert response.status_code == 422 and "収納日は領収日と同じ日かそれより後" in response.get_data(
        as_text=True
    )
    response = post(staff_client, url, payment(payment_method="bank_transfer"))
    assert response.status_code == 422  # 口座振替 comes from the banks' files, not from the counter
    assert payments_of(app, hid) == [] and entries(app, hid, "payment.create") == []

    response = post(staff_client, url, payment(payment_charge=str(charges[2]), payment_amount="40000"))
    assert response.status_code == 200
    assert [(p.charge_id, p.amount) for p in payments_of(app, hid)] == [(charges[2], 40_000)]
    # Paid in full: the charge is no longer offered.
    response = post(staff_client, url, payment(payment_charge=str(charges[2]), payment_amount="1"))
    assert response.status_code == 422 and "選んだ調定には未納額がありません。" in response.get_data(
        as_text=True
    )


def test_a_wrong_payment_is_reversed_once(app, make_user, login, staff_client, household):
    hid = household["id"]
    post(staff_client, f"/staff/household/{hid}/payments/new", payment(payment_amount="40000"))
    (paid,) = payments_of(app, hid)
    url = f"/staff/household/{hid}/payments/{paid.id}/reverse"
    response = post(staff_client, url, {"reverse_reason": ""})
    assert response.status_code == 422 and "入力してください。" in response.get_data(as_text=True)
    other = app.test_client()
    login(other, make_user("staff"))
    form_open = staff_client.get(url, headers=HX)  # both open the form
    assert form_open.status_code == 200
    response = post(other, url, {"reverse_reason": "別世帯の収納を誤って入力"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert toast(response) == "収納を取り消しました。"
    assert "<del>¥40,000</del>" in html
    p = fetch(app, Payment, paid.id)
    assert p.reversed and "別世帯の収納を誤って入力" in p.note
    assert totals(app, hid).unpaid == 160_000  # back to unpaid
    late = post(staff_client, url, {"reverse_reason": "入力誤り"})
    assert late.status_code == 409 and "この収納はすでに取り消されています。" in late.get_data(as_text=True)
    (entry,) = entries(app, hid, "payment.reverse")
    assert json.loads(entry.changes)["payment.reversed"] == [False, True]


def test_without_javascript_a_payment_redirects_with_a_message(app, staff_client, household):
    hid = household["id"]
    page = staff_client.get(f"/staff/household/{hid}/payments/new")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert f'action="/staff/household/{hid}/payments/new"' in page.get_data(as_text=True)
    response = post(
        staff_client, f"/staff/household/{hid}/payments/new", payment(payment_amount="1000"), htmx=False
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/household/{hid}#charges")
    shown = staff_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    assert "収納を記録しました。" in shown and "¥159,000" in shown
    invalid = post(
        staff_client, f"/staff/household/{hid}/payments/new", payment(payment_amount="x"), htmx=False
    )
    assert invalid.status_code == 422 and "<html" in invalid.get_data(as_text=True)
    assert "金額は0以上の整数（円）で入力してください。" in invalid.get_data(as_text=True)


# --- access -------------------------------------------------------------------------------------------


def urls(hid, charge_id, payment_id, reduction_id):
    base = f"/staff/household/{hid}"
    return [
        f"{base}/reductions/new",
        f"{base}/reductions/{reduction_id}/edit",
        f"{base}/reductions/{reduction_id}/decide",
        f"{base}/reductions/{reduction_id}/end",
        f"{base}/charges/{charge_id}/correct",
        f"{base}/charges/{charge_id}/cancel",
        f"{base}/payments/new",
        f"{base}/payments/{payment_id}/reverse",
    ]


def test_contractors_cannot_reach_billing_entry(app, contractor_client, household):
    hid, charge = household["id"], household["charges"][0]
    rid = add_reduction(app, hid)
    with app.app_context(), db.connection_context():
        pid = Payment.create(
            charge=charge, amount=1, receipt_date=today_tokyo(), posted_date=today_tokyo(), method="counter"
        ).id
    for url in urls(hid, charge, pid, rid):
        assert contractor_client.get(url, headers=HX).status_code == 403, url
        assert post(contractor_client, url, {}).status_code in (400, 403), url
    assert fetch(app, Payment, pid).reversed is False


def test_out_of_scope_and_foreign_records_are_404(app, staff_client, make_user, household):
    hid = household["id"]
    with app.app_context(), db.connection_context():
        protected = make_household(support_measure=True)
        make_person(protected)
        make_assignment(protected, make_user("staff"))
        their_charge = add_charge(protected.id, 1).id
        their_payment = Payment.create(
            charge=their_charge,
            amount=1,
            receipt_date=today_tokyo(),
            posted_date=today_tokyo(),
            method="counter",
        ).id
        pid = protected.id
    their_reduction = add_reduction(app, pid)
    for url in urls(pid, their_charge, their_payment, their_reduction):
        assert staff_client.get(url, headers=HX).status_code in (403, 404), url
        assert post(staff_client, url, payment()).status_code in (403, 404), url
    # Another household's records through this household's URLs are unknown too.
    for url in urls(hid, their_charge, their_payment, their_reduction):
        if url.endswith("/new") or "/decide" in url or "/end" in url:
            continue  # no record id, or officer-only (staff are refused before the lookup)
        assert staff_client.get(url, headers=HX).status_code == 404, url
    assert fetch(app, Payment, their_payment).reversed is False
    with app.app_context(), db.connection_context():
        assert AuditEntry.select().where(AuditEntry.action == "access.out_of_scope").count() >= 8


def test_the_section_pages_render_for_staff_and_officers(staff_client, officer_client, household):
    hid = household["id"]
    for client in (staff_client, officer_client):
        page = client.get(f"/staff/household/{hid}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "収納を記録" in html and "減免の申請を登録" in html
        assert f"/staff/household/{hid}/payments/new?charge=" in html


# --- the balance on both engines --------------------------------------------------------------------------


def test_balance_math_after_payments_reversals_and_corrections(engine_db):
    """調定額 − 減免額 − 収納額 = 未納額 from the aggregate query, on SQLite and PostgreSQL."""
    h = make_household()
    make_tenancy(h)
    user = make_account("staff")
    first, second, third = (
        add_charge(h.id, back, reduction=r).id for back, r in ((3, 0), (2, 2_000), (1, 0))
    )
    add_charge(h.id, 4, cancelled=True)  # cancelled: counts for nothing
    today = today_tokyo()
    t = billing.totals(h.id)
    assert (t.amount, t.reduction, t.paid, t.unpaid, t.overdue_months) == (120_000, 2_000, 0, 118_000, 3)

    made = billing.record_payment(
        h.id, amount=50_000, receipt_date=today, posted_date=today, method="counter", actor=user
    )
    assert [(p.charge_id, p.amount) for p in made] == [(first, 40_000), (second, 10_000)]
    t = billing.totals(h.id)
    assert (t.paid, t.unpaid) == (50_000, 68_000)
    rows = {row.charge_id: row for row in billing.balances(h.id)}
    assert (rows[second].paid, rows[second].unpaid) == (10_000, 28_000)

    # A reversed payment counts for nothing.
    billing.reverse_payment(made[1], household_id=h.id, reason="誤り", actor=user)
    with pytest.raises(billing.AlreadyReversed):
        billing.reverse_payment(made[1], household_id=h.id, reason="誤り", actor=user)
    assert billing.totals(h.id).unpaid == 78_000

    # A correction: the third month's rent becomes 30,000 with 5,000 reduced.
    charge = Charge.get_by_id(third)
    with db.atomic():
        values = billing.correction_values(charge, amount=30_000, reduction_amount=5_000, reason="更正")
        editing.update(charge, 1, values, household_id=h.id, action="charge.correct")
    t = billing.totals(h.id)
    assert (t.amount, t.reduction, t.paid, t.unpaid) == (110_000, 7_000, 40_000, 63_000)
    # Below what was paid is refused; so is an overpayment.
    with pytest.raises(editing.RuleViolation):
        billing.correction_values(Charge.get_by_id(first), amount=39_000, reduction_amount=0, reason="x")
    with pytest.raises(editing.RuleViolation):
        billing.record_payment(h.id, amount=63_001, receipt_date=today, posted_date=today, method="counter")
    billing.record_payment(h.id, amount=63_000, receipt_date=today, posted_date=today, method="proxy")
    t = billing.totals(h.id)
    assert (t.paid, t.unpaid, t.overdue, t.overdue_months) == (103_000, 0, 0, 0)
    assert Payment.select().where(Payment.reversed).count() == 1
