"""Inline editing of the household file (the 世帯 section): 422 beside the fields, 409 with both
versions, the section and a toast after a save, plain forms without JavaScript, history, access."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from extensions import db
from models import AuditEntry, Household
from models.base import ConflictError
from services import audit, editing
from tests.conftest import csrf_token_of
from tests.factories import make_assignment, make_household, make_person, make_tenancy

HX = {"HX-Request": "true"}


@pytest.fixture
def household(app):
    """A household with a head and a current tenancy; returns its id."""
    with app.app_context(), db.connection_context():
        h = make_household(contact_phone="0442002948")
        make_person(h)
        make_tenancy(h)
        return h.id


def form_data(client, version=1, **overrides):
    data = {
        "csrf_token": csrf_token_of(client),
        "version": str(version),
        "first_move_in_date": "2010-04-01",
        "category": "general",
        "special_reason": "",
        "permit_type": "normal",
        "permit_end_date": "",
        "declaration_category": "declared",
        "mail_name": "",
        "mail_postal_code": "",
        "mail_address": "",
        "contact_name": "",
        "contact_phone": "044-200-2948",
        "note": "",
    }
    data.update(overrides)
    return data


def stored(app, hid) -> Household:
    with app.app_context(), db.connection_context():
        return Household.get_by_id(hid)


def updates(app, hid) -> list[AuditEntry]:
    with app.app_context(), db.connection_context():
        return list(
            AuditEntry.select()
            .where((AuditEntry.action == "household.update") & (AuditEntry.target_ids == f"[{hid}]"))
            .order_by(AuditEntry.id)
        )


def test_the_form_fragment_shows_the_stored_values(staff_client, household):
    response = staff_client.get(f"/staff/household/{household}/edit", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html  # a fragment for htmx
    assert 'name="version" type="hidden" value="1"' in html
    assert 'value="044-200-2948"' in html  # shown the way people write it
    assert response.headers["Cache-Control"] == "no-store"


def test_without_javascript_the_form_is_a_whole_page(staff_client, household):
    response = staff_client.get(f"/staff/household/{household}/edit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and "世帯の情報の編集" in html
    assert f'action="/staff/household/{household}/edit"' in html  # posts without htmx too


def test_a_save_returns_the_section_with_a_toast_and_the_history_line(app, staff_client, household):
    data = form_data(
        staff_client,
        first_move_in_date="令和2年4月1日",  # 和暦 accepted
        contact_phone="０９０－１２３４－５６７８",  # full width accepted
        mail_postal_code="〒210-8577",
        mail_address="神奈川県川崎市川崎区宮本町1",
        mail_name="かわさき　はなこ",
    )
    response = staff_client.post(f"/staff/household/{household}/edit", data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#household"
    assert response.headers["HX-Reswap"] == "outerHTML"
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["message"] == "世帯の情報を保存しました。" and toast["level"] == "success"
    assert html.lstrip().startswith('<section class="section file-section" id="household"')

    h = stored(app, household)
    assert h.first_move_in_date == dt.date(2020, 4, 1)
    assert h.contact_phone == "09012345678"
    assert h.mail_postal_code == "2108577"
    assert h.version == 2

    entry = updates(app, household)[-1]
    assert entry.actor_id == staff_client.user.id
    changes = json.loads(entry.changes)
    assert changes["household.contact_phone"] == ["0442002948", "09012345678"]
    assert changes["household.first_move_in_date"] == ["2010-04-01", "2020-04-01"]
    assert "household.category" not in changes  # only what changed
    # The section's history names who changed what, with before and after.
    assert "変更履歴" in html and staff_client.user.login_id in html
    assert "連絡先" in html and "090-1234-5678" in html


def test_invalid_input_is_422_with_messages_beside_the_fields_and_nothing_saved(app, staff_client, household):
    data = form_data(
        staff_client,
        contact_phone="12345",
        category="special",  # 特認 without a reason
        first_move_in_date="令和2年2月30日",
        mail_postal_code="210",
    )
    response = staff_client.post(f"/staff/household/{household}/edit", data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "電話番号は0から始まる10桁" in html
    assert "特認の世帯は特認理由を選んでください。" in html
    assert "郵便番号は7桁の数字で入力してください" in html
    assert 'id="first_move_in_date-error"' in html and 'aria-invalid="true"' in html
    assert 'value="12345"' in html  # what was typed stays in the field
    h = stored(app, household)
    assert h.version == 1 and h.contact_phone == "0442002948" and h.category == "general"
    assert updates(app, household) == []


def test_english_messages_for_english_users(staff_client, household):
    staff_client.post("/language", data={"lang": "en", "csrf_token": csrf_token_of(staff_client)})
    response = staff_client.post(
        f"/staff/household/{household}/edit", data=form_data(staff_client, contact_phone="x"), headers=HX
    )
    assert response.status_code == 422
    assert "Enter the phone number as 10 digits" in response.get_data(as_text=True)


@pytest.mark.parametrize("version", ["", "abc", "-1", "99999999999"])
def test_a_missing_or_forged_version_is_refused(app, staff_client, household, version):
    response = staff_client.post(
        f"/staff/household/{household}/edit", data=form_data(staff_client, version=version), headers=HX
    )
    assert response.status_code in (409, 422)
    assert stored(app, household).contact_phone == "0442002948"


def test_two_people_editing_get_a_409_with_both_versions(app, make_user, login, staff_client, household):
    other = app.test_client()
    login(other, make_user("staff"))
    # Both opened the form at version 1; the other saves first.
    first = other.post(
        f"/staff/household/{household}/edit", data=form_data(other, contact_phone="045-111-2222"), headers=HX
    )
    assert first.status_code == 200
    late = staff_client.post(
        f"/staff/household/{household}/edit",
        data=form_data(staff_client, contact_phone="044-333-4444"),
        headers=HX,
    )
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html
    assert "044-333-4444" in html and "045-111-2222" in html  # mine and theirs, side by side
    assert 'name="version" type="hidden" value="2"' in html  # saving again is a knowing overwrite
    assert stored(app, household).contact_phone == "0451112222"  # never a silent overwrite
    again = staff_client.post(
        f"/staff/household/{household}/edit",
        data=form_data(staff_client, version=2, contact_phone="044-333-4444"),
        headers=HX,
    )
    assert again.status_code == 200
    assert stored(app, household).contact_phone == "0443334444"


def test_without_javascript_a_save_redirects_to_the_section_with_a_message(app, staff_client, household):
    response = staff_client.post(
        f"/staff/household/{household}/edit", data=form_data(staff_client, contact_name="川崎　花子")
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/household/{household}#household")
    page = staff_client.get(f"/staff/household/{household}").get_data(as_text=True)
    assert "世帯の情報を保存しました。" in page and "川崎　花子" in page
    invalid = staff_client.post(
        f"/staff/household/{household}/edit", data=form_data(staff_client, version=2, contact_phone="1")
    )
    assert invalid.status_code == 422 and "<html" in invalid.get_data(as_text=True)


def test_a_save_with_nothing_changed_writes_nothing(app, staff_client, household):
    response = staff_client.post(
        f"/staff/household/{household}/edit", data=form_data(staff_client), headers=HX
    )
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "変更はありませんでした。"
    assert stored(app, household).version == 1 and updates(app, household) == []


def test_contractors_cannot_reach_the_edit(contractor_client, household):
    for method in ("get", "post"):
        response = getattr(contractor_client, method)(f"/staff/household/{household}/edit", headers=HX)
        assert response.status_code in (400, 403)
    assert (
        contractor_client.get(f"/staff/household/{household}/section/household", headers=HX).status_code
        == 403
    )


def test_out_of_scope_and_unknown_households_are_404(app, staff_client, make_user, household):
    with app.app_context(), db.connection_context():
        protected = make_household(support_measure=True)
        make_person(protected)
        make_assignment(protected, make_user("staff"))  # someone else is assigned
        protected_id = protected.id
    for hid in (protected_id, 999999):
        assert staff_client.get(f"/staff/household/{hid}/edit", headers=HX).status_code == 404
        response = staff_client.post(f"/staff/household/{hid}/edit", data=form_data(staff_client), headers=HX)
        assert response.status_code == 404
    assert stored(app, protected_id).version == 1
    with app.app_context(), db.connection_context():
        refused = AuditEntry.select().where(AuditEntry.action == "access.out_of_scope").count()
    assert refused >= 4


def test_the_section_alone_for_cancel(staff_client, household):
    fragment = staff_client.get(f"/staff/household/{household}/section/members", headers=HX)
    assert fragment.status_code == 200
    assert (
        fragment.get_data(as_text=True)
        .lstrip()
        .startswith('<section class="section file-section" id="members"')
    )
    plain = staff_client.get(f"/staff/household/{household}/section/members")
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#members")
    assert staff_client.get(f"/staff/household/{household}/section/nonsense", headers=HX).status_code == 404


def test_postal_code_suggests_the_address(staff_client):
    token = csrf_token_of(staff_client)
    found = staff_client.post(
        "/staff/lookup/postal",
        data={"mail_postal_code": "２１０－８５７７", "target": "mail_address", "csrf_token": token},
    )
    html = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "神奈川県川崎市川崎区宮本町" in html and 'data-fill-target="mail_address"' in html
    unknown = staff_client.post("/staff/lookup/postal", data={"postal_code": "0000000", "csrf_token": token})
    assert "見つかりませんでした" in unknown.get_data(as_text=True)
    hostile = staff_client.post(
        "/staff/lookup/postal", data={"postal_code": "2108577", "target": '"><script>', "csrf_token": token}
    )
    assert "<script>" not in hostile.get_data(as_text=True) and "data-fill-target" not in hostile.get_data(
        as_text=True
    )
    assert staff_client.get("/staff/lookup/postal?postal_code=2108577").status_code == 405


def test_the_trail_refuses_a_my_number_column_value(database):
    with pytest.raises(ValueError, match="C3"):
        audit.record(
            "person.update",
            target_table="household",
            target_ids=[1],
            fields=["personal_number.blind_index"],
            changes={"personal_number.blind_index": ["a", "b"]},
        )


def test_optimistic_locking_on_both_engines(engine_db):
    """Two saves from version 1 at once: exactly one wins, the other gets ConflictError; one entry."""
    from flask import current_app

    application = current_app._get_current_object()
    h = make_household()
    hid = h.id
    results: list[str] = []
    barrier = threading.Barrier(2)

    def save(phone: str):
        with application.app_context(), db.connection_context():
            instance = Household.get_by_id(hid)
            barrier.wait()
            try:
                editing.update(
                    instance, 1, {"contact_phone": phone}, household_id=hid, action="household.update"
                )
                results.append("saved")
            except ConflictError:
                results.append("conflict")

    threads = [threading.Thread(target=save, args=(p,)) for p in ("0441111111", "0442222222")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "saved"]
    assert Household.get_by_id(hid).version == 2
    assert AuditEntry.select().where(AuditEntry.action == "household.update").count() == 1


def test_a_save_refreshes_the_warnings_out_of_band(staff_client, household):
    response = staff_client.post(
        f"/staff/household/{household}/edit",
        data=form_data(staff_client, contact_name="幸　一郎"),
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # The household has no guarantor: the warning comes back with the section, swapped out of band.
    assert 'id="file-flags" hx-swap-oob="outerHTML"' in html
    assert "現在の連帯保証人・緊急連絡人が登録されていません。" in html


def test_a_form_opened_as_its_own_page_returns_to_the_file_after_saving(app, staff_client, household):
    headers = {**HX, "HX-Current-URL": f"http://localhost/staff/household/{household}/edit"}
    response = staff_client.post(
        f"/staff/household/{household}/edit",
        data=form_data(staff_client, contact_name="幸　一郎"),
        headers=headers,
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/staff/household/{household}#household"
    assert stored(app, household).contact_name == "幸　一郎"
    page = staff_client.get(f"/staff/household/{household}").get_data(as_text=True)
    assert "世帯の情報を保存しました。" in page
