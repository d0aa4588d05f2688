"""連帯保証人・緊急連絡人 on the household file: add, edit, dismiss (解任) inline and without JavaScript;
422 beside the fields, 409 with both versions, audit entries with before/after, the "no current
guarantor or contact" flag following the changes, access (contractors 403, out of scope 404)."""

from __future__ import annotations

import datetime as dt
import html
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import db
from models import AuditEntry, Guarantor
from rules.filters import today_tokyo
from services import household_file
from services.vault import keyring_for
from tests.conftest import csrf_token_of
from tests.factories import make_assignment, make_household, make_person, make_tenancy

HX = {"HX-Request": "true"}
P = "guarantor_"  # the form's field prefix


@pytest.fixture
def household(app):
    """A household with a head and a current tenancy, and no guarantor; returns its id."""
    with app.app_context(), db.connection_context():
        h = make_household()
        make_person(h)
        make_tenancy(h)
        return h.id


def make_guarantor(household_id, **kw) -> int:
    return Guarantor.create(
        **{
            "household": household_id,
            "kind": "guarantor",
            "name": "幸　一郎",
            "name_kana": "サイワイ　イチロウ",
            "relation": "兄",
            "postal_code": "2108577",
            "address": "神奈川県川崎市川崎区宮本町1",
            "phone": "0442002948",
            "appointed_on": dt.date(2015, 4, 1),
            **kw,
        }
    ).id


@pytest.fixture
def guarantor(app, household):
    with app.app_context(), db.connection_context():
        return make_guarantor(household)


def add_data(client, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token_of(client),
        "kind": "emergency",
        "name": "川崎　花子",
        "name_kana": "かわさき　はなこ",
        "birth_date": "昭和55年5月5日",
        "relation": "長女",
        "postal_code": "〒210-8577",
        "address": "神奈川県川崎市川崎区宮本町1番地",
        "phone": "０９０－１２３４－５６７８",
        "appointed_on": "2024-04-01",
    }
    data.update(overrides)
    return {P + k: v for k, v in data.items()}


def edit_data(client, version=1, **overrides) -> dict:
    data = {
        "kind": "guarantor",
        "name": "幸　一郎",
        "name_kana": "サイワイ　イチロウ",
        "birth_date": "",
        "relation": "兄",
        "postal_code": "2108577",
        "address": "神奈川県川崎市川崎区宮本町1",
        "phone": "044-200-2948",
        "appointed_on": "2015-04-01",
        "dismissed_on": "",
        "version": str(version),
    }
    data.update(overrides)
    return add_data(client, **data)


def stored(app, gid) -> Guarantor:
    with app.app_context(), db.connection_context():
        return Guarantor.get_by_id(gid)


def guarantors_of(app, hid) -> list[Guarantor]:
    with app.app_context(), db.connection_context():
        return list(Guarantor.select().where(Guarantor.household == hid).order_by(Guarantor.id))


def entries(app, action) -> list[AuditEntry]:
    with app.app_context(), db.connection_context():
        return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def flags(app, hid, today=None) -> list[str]:
    from models import Household

    with app.app_context(), db.connection_context():
        file = household_file.load(Household.get_by_id(hid), keyring=keyring_for(app.config), today=today)
        return [f.code for f in file.flags]


def page(client, hid) -> str:
    response = client.get(f"/staff/household/{hid}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


NO_CONTACT = "現在の連帯保証人・緊急連絡人が登録されていません。"


# --- adding ------------------------------------------------------------------------------------------


def test_add_form_fragment_and_page(staff_client, household):
    fragment = staff_client.get(f"/staff/household/{household}/guarantors/new", headers=HX)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text
    assert 'name="guarantor_name"' in text and 'hx-post="/staff/lookup/postal"' in text
    assert "guarantor_address" in text  # the address suggestion fills this field
    whole = staff_client.get(f"/staff/household/{household}/guarantors/new")
    assert whole.status_code == 200 and "<html" in whole.get_data(as_text=True)
    assert f'action="/staff/household/{household}/guarantors/new"' in whole.get_data(as_text=True)


def test_adding_a_contact_clears_the_flag(app, staff_client, household):
    assert "no_contact" in flags(app, household)
    assert NO_CONTACT in page(staff_client, household)

    response = staff_client.post(
        f"/staff/household/{household}/guarantors/new", data=add_data(staff_client), headers=HX
    )
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200, text
    assert response.headers["HX-Retarget"] == "#guarantors"
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["message"] == "連帯保証人・緊急連絡人を登録しました。"
    assert text.lstrip().startswith('<section class="section file-section" id="guarantors"')
    assert "川崎　花子" in text and "カワサキ　ハナコ" in text and "090-1234-5678" in text
    assert NO_CONTACT not in text  # the section's own warning follows the save

    (g,) = guarantors_of(app, household)
    assert (g.kind, g.name, g.name_kana) == ("emergency", "川崎　花子", "カワサキ　ハナコ")
    assert g.birth_date == dt.date(1980, 5, 5)  # 和暦 accepted
    assert (g.postal_code, g.phone, g.appointed_on, g.dismissed_on) == (
        "2108577", "09012345678", dt.date(2024, 4, 1), None,
    )  # fmt: skip
    assert "no_contact" not in flags(app, household)
    assert NO_CONTACT not in page(staff_client, household)

    (entry,) = entries(app, "guarantor.create")
    assert entry.target_table == "household" and entry.target_ids == f"[{household}]"
    assert entry.actor_id == staff_client.user.id
    changes = json.loads(entry.changes)
    assert changes["guarantor.name"] == [None, "川崎　花子"]
    assert changes["guarantor.appointed_on"] == [None, "2024-04-01"]
    assert "guarantor.phone" in json.loads(entry.fields)
    # The section's history names who added what.
    assert "変更履歴" in text and staff_client.user.login_id in text


def test_a_future_appointment_is_not_yet_a_current_contact(app, staff_client, household):
    later = (today_tokyo() + dt.timedelta(days=30)).isoformat()
    response = staff_client.post(
        f"/staff/household/{household}/guarantors/new",
        data=add_data(staff_client, appointed_on=later),
        headers=HX,
    )
    assert response.status_code == 200
    assert "no_contact" in flags(app, household)
    assert "就任前" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "入力してください。"),
        ({"name_kana": "Hanako"}, "name_kana", "カタカナ（またはひらがな）で入力してください。"),
        ({"phone": ""}, "phone", "連絡がつく電話番号を入力してください。"),
        ({"phone": "12345"}, "phone", "電話番号は0から始まる10桁"),
        (
            {"kind": "guarantor", "address": "", "postal_code": ""},
            "address",
            "連帯保証人は住所を入力してください。",
        ),
        ({"address": ""}, "address", "郵便番号を入力したときは住所も入力してください。"),
        ({"postal_code": "210"}, "postal_code", "郵便番号は7桁の数字で入力してください"),
        ({"birth_date": "令和2年2月30日"}, "birth_date", ""),
        ({"birth_date": "2999-01-01"}, "birth_date", "生年月日に未来の日付は入力できません。"),
        ({"appointed_on": ""}, "appointed_on", "入力してください。"),
        ({"kind": "boss"}, "kind", ""),
        ({"relation": "x" * 31}, "relation", "30文字以内で入力してください。"),
        ({"address": "川崎\u202e市"}, "address", "使えない文字"),
    ],
)
def test_invalid_input_is_422_beside_the_field_and_nothing_saved(
    app, staff_client, household, overrides, field, message
):
    response = staff_client.post(
        f"/staff/household/{household}/guarantors/new", data=add_data(staff_client, **overrides), headers=HX
    )
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert f'id="{P}{field}-error"' in text
    assert message in text
    assert guarantors_of(app, household) == []
    assert entries(app, "guarantor.create") == []


def test_without_javascript_adding_redirects_with_a_message(app, staff_client, household):
    response = staff_client.post(f"/staff/household/{household}/guarantors/new", data=add_data(staff_client))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/household/{household}#guarantors")
    text = page(staff_client, household)
    assert "連帯保証人・緊急連絡人を登録しました。" in text and "川崎　花子" in text
    invalid = staff_client.post(
        f"/staff/household/{household}/guarantors/new", data=add_data(staff_client, phone="")
    )
    assert invalid.status_code == 422 and "<html" in invalid.get_data(as_text=True)
    assert len(guarantors_of(app, household)) == 1


# --- editing -----------------------------------------------------------------------------------------


def test_edit_saves_and_records_before_and_after(app, staff_client, household, guarantor):
    form = staff_client.get(f"/staff/household/{household}/guarantors/{guarantor}/edit", headers=HX)
    text = form.get_data(as_text=True)
    assert form.status_code == 200 and 'value="044-200-2948"' in text and 'value="幸　一郎"' in text
    response = staff_client.post(
        f"/staff/household/{household}/guarantors/{guarantor}/edit",
        data=edit_data(staff_client, phone="045-111-2222", relation="弟"),
        headers=HX,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    g = stored(app, guarantor)
    assert (g.phone, g.relation, g.version) == ("0451112222", "弟", 2)
    (entry,) = entries(app, "guarantor.update")
    changes = json.loads(entry.changes)
    assert changes == {"guarantor.phone": ["0442002948", "0451112222"], "guarantor.relation": ["兄", "弟"]}
    text = html.unescape(response.get_data(as_text=True))
    history = text[text.index('id="guarantors-changes"') :]
    assert "044-200-2948" in history and "045-111-2222" in history  # before → after in the history
    assert staff_client.user.login_id in history


def test_two_people_editing_get_a_409_with_both_versions(
    app, make_user, login, staff_client, household, guarantor
):
    other = app.test_client()
    login(other, make_user("staff"))
    url = f"/staff/household/{household}/guarantors/{guarantor}/edit"
    first = other.post(url, data=edit_data(other, phone="045-111-2222"), headers=HX)
    assert first.status_code == 200
    late = staff_client.post(url, data=edit_data(staff_client, phone="044-333-4444"), headers=HX)
    text = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in text
    assert "044-333-4444" in text and "045-111-2222" in text
    assert 'name="guarantor_version" type="hidden" value="2"' in text
    assert stored(app, guarantor).phone == "0451112222"  # never silently overwritten
    again = staff_client.post(url, data=edit_data(staff_client, version=2, phone="044-333-4444"), headers=HX)
    assert again.status_code == 200
    assert stored(app, guarantor).phone == "0443334444"


def test_edit_refuses_a_dismissal_before_the_appointment(app, staff_client, household, guarantor):
    response = staff_client.post(
        f"/staff/household/{household}/guarantors/{guarantor}/edit",
        data=edit_data(staff_client, dismissed_on="2010-01-01"),
        headers=HX,
    )
    assert response.status_code == 422
    assert "解任日は就任日以降の日付にしてください。" in response.get_data(as_text=True)
    assert stored(app, guarantor).dismissed_on is None


# --- dismissing --------------------------------------------------------------------------------------


def dismiss_data(client, date, version=1):
    return {
        "dismiss_csrf_token": csrf_token_of(client),
        "dismiss_version": str(version),
        "dismiss_dismissed_on": date,
    }


def test_dismissal_flags_the_household_again(app, staff_client, household, guarantor):
    assert "no_contact" not in flags(app, household)
    url = f"/staff/household/{household}/guarantors/{guarantor}/dismiss"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200 and "幸　一郎" in form.get_data(as_text=True)

    early = staff_client.post(url, data=dismiss_data(staff_client, "2015-03-31"), headers=HX)
    assert early.status_code == 422
    assert "解任日は就任日以降の日付にしてください。" in early.get_data(as_text=True)
    assert stored(app, guarantor).dismissed_on is None

    yesterday = today_tokyo() - dt.timedelta(days=1)
    response = staff_client.post(url, data=dismiss_data(staff_client, yesterday.isoformat()), headers=HX)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "解任日を登録しました。"
    assert "解任済" in text and NO_CONTACT in text
    assert stored(app, guarantor).dismissed_on == yesterday
    assert "no_contact" in flags(app, household)
    assert NO_CONTACT in page(staff_client, household)
    (entry,) = entries(app, "guarantor.dismiss")
    assert json.loads(entry.changes) == {"guarantor.dismissed_on": [None, yesterday.isoformat()]}
    # The record is kept (history), shown as 解任済; no 解任 link any more.
    assert f"/guarantors/{guarantor}/dismiss" not in text


def test_a_dismissal_today_keeps_the_contact_current_until_the_day_ends(app, household, guarantor):
    with app.app_context(), db.connection_context():
        Guarantor.update(dismissed_on=dt.date(2025, 6, 30)).where(Guarantor.id == guarantor).execute()
    assert "no_contact" not in flags(app, household, today=dt.date(2025, 6, 30))
    assert "no_contact" in flags(app, household, today=dt.date(2025, 7, 1))


def test_dismissal_without_javascript_and_conflict(app, staff_client, household, guarantor):
    url = f"/staff/household/{household}/guarantors/{guarantor}/dismiss"
    response = staff_client.post(url, data=dismiss_data(staff_client, "2025-03-31"))
    assert response.status_code == 303 and response.headers["Location"].endswith("#guarantors")
    assert "解任日を登録しました。" in page(staff_client, household)
    stale = staff_client.post(url, data=dismiss_data(staff_client, "2025-04-30", version=1), headers=HX)
    assert stale.status_code == 409
    assert stored(app, guarantor).dismissed_on == dt.date(2025, 3, 31)


# --- access ------------------------------------------------------------------------------------------


def test_contractors_get_403_on_every_endpoint(app, contractor_client, household, guarantor):
    token = csrf_token_of(contractor_client)
    for path in ("new", f"{guarantor}/edit", f"{guarantor}/dismiss"):
        url = f"/staff/household/{household}/guarantors/{path}"
        assert contractor_client.get(url, headers=HX).status_code == 403
        data = {**add_data(contractor_client), "csrf_token": token}
        assert contractor_client.post(url, data=data, headers=HX).status_code == 403
    assert len(guarantors_of(app, household)) == 1
    assert stored(app, guarantor).version == 1


def test_out_of_scope_unknown_and_foreign_records_are_404(app, staff_client, make_user, household, guarantor):
    with app.app_context(), db.connection_context():
        protected = make_household(support_measure=True)
        make_person(protected)
        make_assignment(protected, make_user("staff"))  # someone else is assigned
        protected_guarantor = make_guarantor(protected.id)
        protected_id = protected.id
    urls = [
        f"/staff/household/{protected_id}/guarantors/new",
        f"/staff/household/{protected_id}/guarantors/{protected_guarantor}/edit",
        "/staff/household/999999/guarantors/new",
        # A guarantor of another household through this household's URL.
        f"/staff/household/{household}/guarantors/{protected_guarantor}/edit",
        f"/staff/household/{household}/guarantors/{protected_guarantor}/dismiss",
        f"/staff/household/{household}/guarantors/999999/edit",
    ]
    for url in urls:
        assert staff_client.get(url, headers=HX).status_code == 404, url
        assert staff_client.post(url, data=edit_data(staff_client), headers=HX).status_code == 404, url
    assert stored(app, protected_guarantor).version == 1
    assert len(guarantors_of(app, protected_id)) == 1


# --- no input gives a server error ------------------------------------------------------------------------

ODD = st.one_of(
    st.sampled_from(["", " ", "　", "0", "-1", "\x00", "\u202e", "<b>", "x" * 3000, "令和99年13月40日", "2999-12-31",
                     "〒210-8577", "かわさき", "guarantor", "emergency", "𠮷", "99999999999"]),
    st.text(max_size=30),
)  # fmt: skip
GUARANTOR_FIELDS = ["kind", "name", "name_kana", "birth_date", "relation", "postal_code", "address", "phone",
                    "appointed_on", "dismissed_on", "version"]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(GUARANTOR_FIELDS), ODD), dismissal=ODD, hx=st.booleans())
def test_no_input_gives_a_server_error(app, staff_client, household, guarantor, values, dismissal, hx):
    headers = HX if hx else {}
    base = f"/staff/household/{household}/guarantors"
    for url in (f"{base}/new", f"{base}/{guarantor}/edit"):
        response = staff_client.post(url, data=edit_data(staff_client, **values), headers=headers)
        assert response.status_code in (200, 303, 409, 422), response.status_code
    response = staff_client.post(
        f"{base}/{guarantor}/dismiss", data=dismiss_data(staff_client, dismissal, version=values.get("version", "1")),
        headers=headers,
    )  # fmt: skip
    assert response.status_code in (200, 303, 409, 422), response.status_code
