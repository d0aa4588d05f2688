"""世帯員 on the household page: editing a member, 生活保護 periods and My Number registration.

Through the real endpoints with CSRF on, as htmx (HX-Request) and as a plain form without JavaScript:
values saved and normalised, 422 with Japanese messages beside the fields and nothing written, 409
with both versions, history lines from the audit trail, scope (404) and roles (403), and the My
Number never in a response or an audit entry. The tests marked for both engines run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
import shutil
import threading
from urllib.parse import unquote

import pytest

from app import create_app
from extensions import db
from models import AuditEntry, Household, Person, PersonalNumber, WelfarePeriod
from rules import mynumber as mynumber_rules
from services import mynumber, schema
from services.vault import keyring_for
from tests.conftest import csrf_token_of, post_json, test_config
from tests.factories import make_household, make_person, make_tenancy

BOTH_ENGINES = pytest.mark.parametrize(
    "app", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)], indirect=True
)


@pytest.fixture
def app(request, tmp_path, migrated_template):
    """The app on a migrated SQLite copy, or (parametrised "postgresql") on a fresh PostgreSQL database."""
    engine = getattr(request, "param", "sqlite")
    if engine == "postgresql":
        application = create_app(test_config(tmp_path, DATABASE_URL=request.getfixturevalue("pg_url")))
        with application.app_context():
            db.connect(reuse_if_open=True)
            schema.upgrade()
            db.close()
    else:
        shutil.copy(migrated_template, tmp_path / "test.db")
        application = create_app(test_config(tmp_path))
    yield application
    if not db.is_closed():
        db.close()


class Opened:
    """`with opened(app):` models and services inside an app context with a connection."""

    def __init__(self, app):
        self.app = app

    def __enter__(self):
        self.context = self.app.app_context()
        self.context.push()
        db.connect(reuse_if_open=True)

    def __exit__(self, *exc):
        if not db.is_closed():
            db.close()
        self.context.pop()


opened = Opened


@pytest.fixture
def family(app):
    """A household with a tenancy, its head, a spouse and a former member: {name: id}."""
    with opened(app):
        household = make_household()
        make_tenancy(household)
        head = make_person(
            household, name="川崎\u3000太郎", name_kana="カワサキ\u3000タロウ", phone="0442001111"
        )
        spouse = make_person(
            household, name="川崎\u3000花子", name_kana="カワサキ\u3000ハナコ", kana_key="カワサキハナコ", sex="female",
            relation="spouse", is_head=False, birth_date=dt.date(1972, 5, 5),
        )  # fmt: skip
        former = make_person(
            household, name="川崎\u3000次郎", name_kana="カワサキ\u3000ジロウ", kana_key="カワサキジロウ", relation="child",
            is_head=False, birth_date=dt.date(1995, 1, 1), member_to=dt.date(2020, 3, 31),
            leave_reason="moved_out",
        )  # fmt: skip
        return {"household": household.id, "head": head.id, "spouse": spouse.id, "former": former.id}


# --- helpers --------------------------------------------------------------------------------------------

HX = {"HX-Request": "true"}


def member_url(f, who="spouse", what="edit"):
    return f"/staff/household/{f['household']}/members/{f[who]}/{what}"


def welfare_url(f, who="spouse", period_id=None, what="edit"):
    base = f"/staff/household/{f['household']}/members/{f[who]}/welfare"
    return f"{base}/new" if period_id is None else f"{base}/{period_id}/{what}"


def my_number_url(f, who="spouse"):
    return f"/staff/household/{f['household']}/members/{f[who]}/my-number"


def post(client, url, data, *, htmx=True):
    body = {"csrf_token": csrf_token_of(client), **data}
    return client.post(url, data=body, headers=HX if htmx else {})


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def errors_of(response, field_id: str) -> list[str]:
    """The messages listed beside one field (its aria-describedby error list)."""
    page = response.get_data(as_text=True)
    match = re.search(rf'<ul class="field__errors" id="{re.escape(field_id)}-error">(.*?)</ul>', page, re.S)
    if not match:
        return []
    items = re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).replace("エラー: ", "").strip() for item in items]


def version_in(response, prefix: str) -> str:
    return re.search(rf'name="{prefix}version"[^>]*value="(\d+)"', response.get_data(as_text=True)).group(1)


def member_form(app, person_id: int, **changes) -> dict:
    """The member form as the browser sends it: the stored values, the version, then changes."""
    with opened(app):
        p = Person.get_by_id(person_id)
        data = {
            "version": str(p.version),
            "name": p.name,
            "name_kana": p.name_kana,
            "birth_date": p.birth_date.isoformat(),
            "sex": p.sex,
            "nationality": p.nationality,
            "relation": p.relation,
            "postal_code": p.postal_code or "",
            "address": p.address or "",
            "phone": p.phone or "",
            "disability_kind": p.disability_kind or "",
            "disability_grade": p.disability_grade or "",
            "atena_no": p.atena_no or "",
        }
    data.update(changes)
    return {f"member_{name}": value for name, value in data.items()}


def person(app, person_id: int) -> Person:
    with opened(app):
        return Person.get_by_id(person_id)


def entries(app, action: str) -> list[AuditEntry]:
    with opened(app):
        return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def all_entry_text(app) -> str:
    with opened(app):
        return "\n".join(
            " ".join(
                str(getattr(e, c) or "") for c in ("fields", "changes", "reason", "target_ids", "purpose")
            )
            for e in AuditEntry.select()
        )


def step_up(client, soft_keys):
    """A fresh WebAuthn re-authentication of the client's user (as the step-up page does)."""
    token = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=token).get_json()
    assertion = soft_keys[client.user.id].get(options)
    response = post_json(client, "/step-up/verify", {"credential": assertion, "next": "/"}, token=token)
    assert response.status_code == 200, response.get_data(as_text=True)


def valid_number(seed: int) -> str:
    return mynumber_rules.generate(random.Random(seed))


def wrong_check_digit(number: str) -> str:
    return number[:11] + str((int(number[11]) + 1) % 10)


# --- editing a member -----------------------------------------------------------------------------------


def test_edit_round_trip_with_htmx(app, staff_client, family):
    form = staff_client.get(member_url(family), headers=HX)
    assert form.status_code == 200
    page = text_of(form)
    assert "<html" not in page and 'id="members-edit"' in page and "川崎\u3000花子" in page

    saved = post(staff_client, member_url(family), member_form(app, family["spouse"], phone="090-1234-5678"))
    assert saved.status_code == 200, text_of(saved)
    assert saved.headers["HX-Retarget"] == "#members" and saved.headers["HX-Reswap"] == "outerHTML"
    toast = json.loads(saved.headers["HX-Trigger"])["toast"]
    assert toast == {"message": "世帯員の情報を保存しました。", "level": "success"}
    section = text_of(saved)
    assert section.lstrip().startswith('<section class="section file-section" id="members"')
    assert "090-1234-5678" in section
    # The history of the section: who, and the field with before → after.
    history = section[section.index('id="members-changes"') :]
    assert staff_client.user.login_id in history
    lines = re.findall(r"<li><span class=\"file-changes__field\">(.*?)</span>:(.*?)</li>", history, re.S)
    assert [(field, re.sub(r"<[^>]+>|\s", "", change)) for field, change in lines] == [
        ("電話番号", "—→090-1234-5678")
    ]

    stored = person(app, family["spouse"])
    assert (stored.phone, stored.version) == ("09012345678", 2)
    entry = entries(app, "person.update")[-1]
    assert (entry.target_table, json.loads(entry.target_ids)) == ("household", [family["household"]])
    assert json.loads(entry.fields) == ["person.phone"]
    assert json.loads(entry.changes) == {"person.phone": [None, "09012345678"]}
    assert entry.actor_id == staff_client.user.id


def test_saving_nothing_changed_writes_nothing(app, staff_client, family):
    response = post(staff_client, member_url(family), member_form(app, family["spouse"]))
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "変更はありませんでした。"
    assert person(app, family["spouse"]).version == 1 and entries(app, "person.update") == []


@pytest.mark.parametrize(
    "typed",
    [
        "昭和47年6月7日",
        "S47.6.7",
        "s47/6/7",
        "昭和４７年６月７日",
        "1972-06-07",
        "19720607",
        "１９７２年６月７日",
    ],
)
def test_birth_date_in_wareki_or_seireki(app, staff_client, family, typed):
    response = post(staff_client, member_url(family), member_form(app, family["spouse"], birth_date=typed))
    assert response.status_code == 200, errors_of(response, "member_birth_date")
    assert person(app, family["spouse"]).birth_date == dt.date(1972, 6, 7)
    # The page shows it in 和暦 with the 西暦 beside it.
    assert "昭和47年6月7日" in text_of(response) and "1972-06-07" in text_of(response)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("平成31年5月1日", "平成は平成31年4月30日までです。"),
        ("2026-02-30", "存在しない日付です。"),
        ("きのう", "日付の形式が正しくありません"),
        ("2100-01-01", "生年月日に今日より後の日付は入力できません。"),
        ("2012-01-01", "生年月日が世帯員となった日（平成22年4月1日）より後になっています。"),
    ],
)
def test_impossible_birth_dates_are_refused_beside_the_field(app, staff_client, family, typed, message):
    response = post(staff_client, member_url(family), member_form(app, family["spouse"], birth_date=typed))
    assert response.status_code == 422
    assert any(message in m for m in errors_of(response, "member_birth_date")), errors_of(
        response, "member_birth_date"
    )
    assert person(app, family["spouse"]).birth_date == dt.date(1972, 5, 5)


@pytest.mark.parametrize("typed", ["かわさき　はなみ", "ｶﾜｻｷ ﾊﾅﾐ", "カワサキ　ハナミ", "ｶﾜｻｷ　はなみ"])
def test_kana_is_stored_as_katakana_with_its_search_key(app, staff_client, family, typed):
    response = post(staff_client, member_url(family), member_form(app, family["spouse"], name_kana=typed))
    assert response.status_code == 200, errors_of(response, "member_name_kana")
    stored = person(app, family["spouse"])
    assert stored.name_kana == "カワサキ\u3000ハナミ"
    assert stored.kana_key == "カワサキハナミ"
    changes = json.loads(entries(app, "person.update")[-1].changes)
    assert changes["person.name_kana"] == ["カワサキ\u3000ハナコ", "カワサキ\u3000ハナミ"]
    assert changes["person.kana_key"] == ["カワサキハナコ", "カワサキハナミ"]


def test_the_member_is_then_found_by_the_new_kana(app, staff_client, family):
    post(staff_client, member_url(family), member_form(app, family["spouse"], name_kana="やまだ はなこ"))
    found = staff_client.post(
        "/staff/households/", data={"q": "ﾔﾏﾀﾞ", "csrf_token": csrf_token_of(staff_client)}
    )
    assert found.status_code == 200 and "ヤマダ" in text_of(found)


@pytest.mark.parametrize(
    ("kind", "grade", "field", "message"),
    [
        ("physical", "1", None, None),
        ("physical", "7", None, None),
        ("mental", "3", None, None),
        ("intellectual", "A1", None, None),
        ("intellectual", "B2", None, None),
        ("", "", None, None),
        ("mental", "4", "disability_grade", "精神障害者保健福祉手帳の等級は1級から3級です。"),
        ("physical", "B1", "disability_grade", "身体障害者手帳の等級は1級から7級です。"),
        ("intellectual", "2", "disability_grade", "療育手帳の判定はA1・A2・B1・B2のいずれかです。"),
        ("physical", "", "disability_grade", "手帳の種類を選んだときは等級も選んでください。"),
        ("", "3", "disability_kind", "等級を選んだときは手帳の種類も選んでください。"),
        ("hearing", "1", "disability_kind", "一覧から選んでください。"),
    ],
)
def test_disability_kind_and_grade_go_together(app, staff_client, family, kind, grade, field, message):
    with opened(app):
        Person.update(disability_kind="physical", disability_grade="4").where(
            Person.id == family["spouse"]
        ).execute()
    data = member_form(app, family["spouse"], disability_kind=kind, disability_grade=grade)
    response = post(staff_client, member_url(family), data)
    stored = person(app, family["spouse"])
    if message is None:
        assert response.status_code == 200, text_of(response)
        assert (stored.disability_kind, stored.disability_grade) == (kind or None, grade or None)
    else:
        assert response.status_code == 422
        assert errors_of(response, f"member_{field}") == [message]
        assert (stored.disability_kind, stored.disability_grade, stored.version) == ("physical", "4", 1)


def test_invalid_input_is_a_422_with_japanese_messages_beside_the_fields(app, staff_client, family):
    before = person(app, family["spouse"])
    data = member_form(
        app,
        family["spouse"],
        name="  ",
        name_kana="Hanako",
        phone="12345",
        postal_code="21",
        atena_no="12-ab",
        nationality="日本\u200b",
        sex="unknown",
    )
    response = post(staff_client, member_url(family), data)
    assert response.status_code == 422
    page = text_of(response)
    assert "<html" not in page and "入力内容に誤りがあります" in page
    assert errors_of(response, "member_name") == ["入力してください。"]
    assert errors_of(response, "member_name_kana") == ["カタカナ（またはひらがな）で入力してください。"]
    assert errors_of(response, "member_phone") == [
        "電話番号は0から始まる10桁（携帯電話・IP電話は11桁）の数字で入力してください。"
    ]
    assert errors_of(response, "member_postal_code") == [
        "郵便番号は7桁の数字で入力してください（例: 210-8577）。"
    ]
    assert errors_of(response, "member_atena_no") == ["15桁以内の数字で入力してください。"]
    assert errors_of(response, "member_nationality") == ["使えない文字（制御文字など）が含まれています。"]
    assert errors_of(response, "member_sex") == ["一覧から選んでください。"]
    assert 'aria-invalid="true"' in page
    # What was typed is kept in the form for correcting.
    assert 'value="12-ab"' in page and 'value="Hanako"' in page
    after = person(app, family["spouse"])
    assert after.__data__ == before.__data__
    assert entries(app, "person.update") == []


def test_postal_code_without_an_address_and_a_long_atena_no(app, staff_client, family):
    data = member_form(app, family["spouse"], postal_code="210-8577", address="", atena_no="1" * 16)
    response = post(staff_client, member_url(family), data)
    assert response.status_code == 422
    assert errors_of(response, "member_address") == ["郵便番号を入力したときは住所も入力してください。"]
    assert errors_of(response, "member_atena_no") == ["15桁以内の数字で入力してください。"]
    data = member_form(
        app,
        family["spouse"],
        postal_code="２１０－８５７７",
        address="川崎市川崎区宮本町１番地",
        atena_no="１２３４５",
    )
    assert post(staff_client, member_url(family), data).status_code == 200
    stored = person(app, family["spouse"])
    assert (stored.postal_code, stored.address, stored.atena_no) == (
        "2108577",
        "川崎市川崎区宮本町1番地",
        "12345",
    )


def test_the_address_suggestion_targets_the_member_address_field(app, staff_client, family):
    form = text_of(staff_client.get(member_url(family), headers=HX))
    assert 'hx-post="/staff/lookup/postal"' in form and '{"target": "member_address"}' in form
    suggestion = staff_client.post(
        "/staff/lookup/postal",
        data={
            "member_postal_code": "2108577",
            "target": "member_address",
            "csrf_token": csrf_token_of(staff_client),
        },
        headers=HX,
    )
    assert 'data-fill-target="member_address"' in text_of(suggestion)


def test_relation_of_the_head_stays_and_nobody_else_becomes_head(app, staff_client, family):
    head_form = text_of(staff_client.get(member_url(family, "head"), headers=HX))
    assert "名義人の変更は承継の手続きで行います" in head_form
    assert 'value="spouse"' not in head_form
    refused = post(
        staff_client, member_url(family, "head"), member_form(app, family["head"], relation="spouse")
    )
    assert refused.status_code == 422 and errors_of(refused, "member_relation")
    spouse_form = text_of(staff_client.get(member_url(family), headers=HX))
    assert 'value="head"' not in spouse_form
    refused = post(staff_client, member_url(family), member_form(app, family["spouse"], relation="head"))
    assert refused.status_code == 422
    assert errors_of(refused, "member_relation") == [
        "この世帯員の続柄としては選べません。名義人の変更は承継の手続きで行います。"
    ]
    assert (person(app, family["head"]).relation, person(app, family["spouse"]).relation) == (
        "head",
        "spouse",
    )
    # Other relations are fine.
    assert (
        post(
            staff_client, member_url(family), member_form(app, family["spouse"], relation="other")
        ).status_code
        == 200
    )


def test_mass_assignment_is_ignored(app, staff_client, family):
    data = member_form(app, family["spouse"], phone="0449998888")
    data.update(
        {"member_is_head": "y", "member_household": "999", "member_member_to": "2020-01-01", "is_head": "y"}
    )
    assert post(staff_client, member_url(family), data).status_code == 200
    stored = person(app, family["spouse"])
    assert (stored.is_head, stored.household_id, stored.member_to) == (False, family["household"], None)


@BOTH_ENGINES
def test_two_people_editing_the_same_member_get_a_409_with_both_versions(app, make_user, login, family):
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        client.user = make_user("staff")
        login(client, client.user)
    # Both open the form (version 1).
    versions = [version_in(c.get(member_url(family), headers=HX), "member_") for c in (first, second)]
    assert versions == ["1", "1"]
    saved = post(first, member_url(family), member_form(app, family["spouse"], phone="0441111111"))
    assert saved.status_code == 200
    late = post(
        second, member_url(family), member_form(app, family["spouse"], phone="0442222222", version="1")
    )
    assert late.status_code == 409
    page = text_of(late)
    assert "ほかの職員が先に保存しました" in page
    row = re.search(r"<tr><th scope=\"row\">電話番号</th><td>(.*?)</td><td>(.*?)</td></tr>", page)
    assert row and row.groups() == ("044-222-2222", "044-111-1111")  # mine, then what is saved
    assert person(app, family["spouse"]).phone == "0441111111"  # nothing overwritten
    assert len(entries(app, "person.update")) == 1
    # The form now carries the newer version: saving again overwrites knowingly.
    assert version_in(late, "member_") == "2"
    again = post(
        second, member_url(family), member_form(app, family["spouse"], phone="0442222222", version="2")
    )
    assert again.status_code == 200
    assert person(app, family["spouse"]).phone == "0442222222"


@BOTH_ENGINES
def test_concurrent_editors_one_wins_the_rest_get_409(app, make_user, login, family):
    clients = []
    for _ in range(6):
        client = app.test_client()
        client.user = make_user("staff")
        login(client, client.user)
        client.token = csrf_token_of(client)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses: dict[int, int] = {}

    def edit(n, client):
        data = member_form(app, family["spouse"], phone=f"04433300{n:02d}", version="1")
        data["csrf_token"] = client.token
        barrier.wait()
        statuses[n] = client.post(member_url(family), data=data, headers=HX).status_code

    threads = [threading.Thread(target=edit, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses.values()) == [200] + [409] * (len(clients) - 1), statuses
    winner = next(n for n, status in statuses.items() if status == 200)
    stored = person(app, family["spouse"])
    assert (stored.phone, stored.version) == (f"04433300{winner:02d}", 2)
    assert len(entries(app, "person.update")) == 1


def test_without_javascript_the_same_urls_are_pages_and_redirect(app, staff_client, family):
    page = staff_client.get(member_url(family))
    assert page.status_code == 200
    text = text_of(page)
    assert "<html" in text and "世帯員の編集" in text
    assert f'action="{member_url(family)}"' in text and 'method="post"' in text
    invalid = post(
        staff_client, member_url(family), member_form(app, family["spouse"], phone="1"), htmx=False
    )
    assert invalid.status_code == 422 and "<html" in text_of(invalid) and errors_of(invalid, "member_phone")
    saved = post(
        staff_client, member_url(family), member_form(app, family["spouse"], name="川崎　華子"), htmx=False
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == f"/staff/household/{family['household']}#members"
    household_page = text_of(staff_client.get(saved.headers["Location"]))
    assert "世帯員の情報を保存しました。" in household_page and "川崎\u3000華子" in household_page


def test_the_section_has_edit_links_for_current_members_only(app, staff_client, family):
    page = text_of(staff_client.get(f"/staff/household/{family['household']}"))
    section = page[page.index('id="members"') : page.index('id="guarantors"')]
    assert 'id="members-slot"' in section
    for who in ("head", "spouse"):
        assert f'href="{member_url(family, who)}"' in section
        assert f'hx-get="{member_url(family, who)}"' in section
        assert f'href="{welfare_url(family, who)}"' in section
        assert f'href="{my_number_url(family, who)}"' in section
    assert member_url(family, "former") not in section and my_number_url(family, "former") not in section


def test_former_members_are_read_only(app, staff_client, family):
    before = person(app, family["former"])
    for url in (member_url(family, "former"), welfare_url(family, "former"), my_number_url(family, "former")):
        shown = staff_client.get(url, headers=HX)
        assert shown.status_code == 409 and "以前の世帯員の情報は変更できません" in text_of(shown)
    posted = post(
        staff_client, member_url(family, "former"), member_form(app, family["former"], phone="0440000000")
    )
    assert posted.status_code == 409
    assert person(app, family["former"]).__data__ == before.__data__


# --- access ---------------------------------------------------------------------------------------------


def every_url(app, family) -> list[str]:
    with opened(app):
        period = WelfarePeriod.create(person=family["spouse"], start_date=dt.date(2020, 4, 1))
    return [
        member_url(family),
        welfare_url(family),
        welfare_url(family, period_id=period.id),
        welfare_url(family, period_id=period.id, what="end"),
        my_number_url(family),
    ]


@pytest.mark.parametrize("role_client", ["contractor_client", "auditor_client", "sysadmin_client"])
def test_other_roles_are_refused_on_every_endpoint(app, request, family, role_client):
    client = request.getfixturevalue(role_client)
    for url in every_url(app, family):
        assert client.get(url, headers=HX).status_code == 403, url
        assert client.get(url).status_code == 403, url
        response = post(client, url, member_form(app, family["spouse"], phone="0449999999"))
        assert response.status_code == 403, url
    assert person(app, family["spouse"]).version == 1


def test_anonymous_is_sent_to_login(app, client, family):
    for url in every_url(app, family):
        assert client.get(url).status_code == 303
        assert client.get(url, headers=HX).status_code == 401


def test_unknown_and_out_of_scope_ids_are_404(app, staff_client, family):
    with opened(app):
        other = make_household()
        stranger = make_person(other)
        foreign_period = WelfarePeriod.create(person=stranger, start_date=dt.date(2020, 4, 1))
        protected = make_household(support_measure=True)
        protected_member = make_person(protected)
    hid = family["household"]
    urls = [
        "/staff/household/999999/members/1/edit",
        f"/staff/household/{hid}/members/999999/edit",
        f"/staff/household/{hid}/members/{stranger.id}/edit",  # a member of another household
        f"/staff/household/{other.id}/members/{family['spouse']}/edit",
        f"/staff/household/{hid}/members/{family['spouse']}/welfare/999999/edit",
        f"/staff/household/{hid}/members/{family['spouse']}/welfare/{foreign_period.id}/edit",
        f"/staff/household/{hid}/members/{family['spouse']}/welfare/{foreign_period.id}/end",
        f"/staff/household/{hid}/members/{stranger.id}/my-number",
        f"/staff/household/{protected.id}/members/{protected_member.id}/edit",  # 支援措置, not assigned
        f"/staff/household/{protected.id}/members/{protected_member.id}/my-number",
    ]
    for url in urls:
        assert staff_client.get(url, headers=HX).status_code == 404, url
        assert post(staff_client, url, {"member_phone": "0440000000"}).status_code == 404, url
    with opened(app):
        assert Person.get_by_id(stranger.id).version == 1
        out_of_scope = AuditEntry.select().where(AuditEntry.outcome == "denied").count()
    assert out_of_scope >= 1


def test_viewing_a_form_is_audited_as_a_view_of_the_section(app, staff_client, family):
    staff_client.get(member_url(family), headers=HX)
    entry = entries(app, "household.view")[-1]
    assert json.loads(entry.target_ids) == [family["household"]] and json.loads(entry.fields) == ["世帯員"]


# --- 生活保護 periods ---------------------------------------------------------------------------------------


def welfare_form(**values) -> dict:
    return {f"welfare_{name}": value for name, value in values.items()}


def periods(app, person_id) -> list[tuple]:
    with opened(app):
        return [
            (w.start_date, w.end_date, w.housing_aid, w.proxy_payment, w.case_number)
            for w in WelfarePeriod.select()
            .where(WelfarePeriod.person == person_id)
            .order_by(WelfarePeriod.start_date)
        ]


@BOTH_ENGINES
def test_welfare_period_add_edit_end_and_overlap(app, staff_client, family):
    form = staff_client.get(welfare_url(family), headers=HX)
    assert form.status_code == 200 and "生活保護の期間の登録" in text_of(form)
    added = post(
        staff_client,
        welfare_url(family),
        welfare_form(
            start_date="令和2年4月1日", housing_aid="41,000円", proxy_payment="y", case_number="K-123"
        ),
    )
    assert added.status_code == 200, text_of(added)
    assert json.loads(added.headers["HX-Trigger"])["toast"]["message"] == "生活保護の期間を登録しました。"
    assert "令和2年4月1日" in text_of(added) and "¥41,000" in text_of(added)
    assert periods(app, family["spouse"]) == [(dt.date(2020, 4, 1), None, 41000, True, "K-123")]
    entry = entries(app, "welfare_period.create")[-1]
    assert json.loads(entry.target_ids) == [family["household"]]
    assert json.loads(entry.changes)["welfare_period.housing_aid"] == [None, 41000]

    # A second open period overlaps the first: refused beside 開始日, nothing written.
    overlap = post(staff_client, welfare_url(family), welfare_form(start_date="2024-01-01"))
    assert overlap.status_code == 422
    assert errors_of(overlap, "welfare_start_date") == [
        "ほかの生活保護の期間（令和2年4月1日〜継続中）と重なっています。期間を確認してください。"
    ]
    assert len(periods(app, family["spouse"])) == 1

    # End the first one, then the next can start the day after (not on the 廃止日 itself).
    with opened(app):
        period_id = WelfarePeriod.get(WelfarePeriod.person == family["spouse"]).id
    end_form = staff_client.get(welfare_url(family, period_id=period_id, what="end"), headers=HX)
    assert end_form.status_code == 200
    too_early = post(
        staff_client, welfare_url(family, period_id=period_id, what="end"),
        welfare_form(end_date="2019-12-31", version="1"),
    )  # fmt: skip
    assert too_early.status_code == 422
    assert errors_of(too_early, "welfare_end_date") == [
        "廃止日は開始日（令和2年4月1日）と同じ日かそれより後にしてください。"
    ]
    ended = post(
        staff_client, welfare_url(family, period_id=period_id, what="end"),
        welfare_form(end_date="令和5年3月31日", version="1"),
    )  # fmt: skip
    assert ended.status_code == 200
    assert json.loads(ended.headers["HX-Trigger"])["toast"]["message"] == "生活保護の廃止日を登録しました。"
    on_the_end_day = post(staff_client, welfare_url(family), welfare_form(start_date="2023-03-31"))
    assert on_the_end_day.status_code == 422
    assert "令和2年4月1日〜令和5年3月31日" in errors_of(on_the_end_day, "welfare_start_date")[0]
    next_day = post(staff_client, welfare_url(family), welfare_form(start_date="2023-04-01"))
    assert next_day.status_code == 200
    assert [p[:2] for p in periods(app, family["spouse"])] == [
        (dt.date(2020, 4, 1), dt.date(2023, 3, 31)),
        (dt.date(2023, 4, 1), None),
    ]

    # Editing the first period so that it runs into the second is refused too.
    stretched = post(
        staff_client, welfare_url(family, period_id=period_id),
        welfare_form(start_date="2020-04-01", end_date="2023-06-30", housing_aid="41000", proxy_payment="y",
                     case_number="K-123", version="2"),
    )  # fmt: skip
    assert stretched.status_code == 422 and "継続中" in errors_of(stretched, "welfare_start_date")[0]
    edited = post(
        staff_client, welfare_url(family, period_id=period_id),
        welfare_form(start_date="2020-04-01", end_date="2023-03-31", housing_aid="43000", case_number="K-123",
                     version="2"),
    )  # fmt: skip
    assert edited.status_code == 200
    assert periods(app, family["spouse"])[0] == (
        dt.date(2020, 4, 1),
        dt.date(2023, 3, 31),
        43000,
        False,
        "K-123",
    )
    update = entries(app, "welfare_period.update")[-1]
    assert json.loads(update.changes) == {
        "welfare_period.housing_aid": [41000, 43000],
        "welfare_period.proxy_payment": [True, False],
    }
    # A stale version: 409, nothing written.
    stale = post(
        staff_client, welfare_url(family, period_id=period_id),
        welfare_form(start_date="2020-04-01", end_date="2023-03-31", housing_aid="1", version="2"),
    )  # fmt: skip
    assert stale.status_code == 409 and periods(app, family["spouse"])[0][2] == 43000


def test_welfare_input_errors(app, staff_client, family):
    response = post(
        staff_client,
        welfare_url(family),
        welfare_form(
            start_date="2024-04-01", end_date="2024-03-31", housing_aid="-500", case_number="x" * 21
        ),
    )
    assert response.status_code == 422
    assert errors_of(response, "welfare_end_date") == ["廃止日は開始日と同じ日かそれより後にしてください。"]
    assert errors_of(response, "welfare_housing_aid") == ["金額は0以上の整数（円）で入力してください。"]
    assert errors_of(response, "welfare_case_number") == ["20文字以内で入力してください。"]
    too_much = post(
        staff_client, welfare_url(family), welfare_form(start_date="2024-04-01", housing_aid="10000000")
    )
    assert errors_of(too_much, "welfare_housing_aid") == [
        "住宅扶助額が大きすぎます。月額を円で入力してください。"
    ]
    missing = post(staff_client, welfare_url(family), welfare_form(start_date=""))
    assert errors_of(missing, "welfare_start_date") == ["入力してください。"]
    assert periods(app, family["spouse"]) == []


def test_welfare_without_javascript(app, staff_client, family):
    page = staff_client.get(welfare_url(family))
    assert page.status_code == 200 and "<html" in text_of(page)
    saved = post(staff_client, welfare_url(family), welfare_form(start_date="2021-10-01"), htmx=False)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#members")
    assert "生活保護の期間を登録しました。" in text_of(staff_client.get(saved.headers["Location"]))


# --- My Number ------------------------------------------------------------------------------------------


def my_number_form(number: str, confirmed: bool = True) -> dict:
    data = {"mynumber_number": number}
    if confirmed:
        data["mynumber_confirmed"] = "y"
    return data


def number_row(app, person_id) -> PersonalNumber | None:
    with opened(app):
        return PersonalNumber.get_or_none(PersonalNumber.person == person_id)


def assert_never_shown(number: str, *texts: str) -> None:
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    for text in texts:
        assert number not in text and spaced not in text


def test_the_form_asks_for_a_step_up_first(app, staff_client, family, soft_keys):
    form = text_of(staff_client.get(my_number_url(family), headers=HX))
    assert "本人確認書類（通知カード・マイナンバーカード等）と照合しました" in form
    assert "保存の前に本人確認が必要です" in form and "/step-up?next=" in form
    assert 'autocomplete="off"' in form
    back = f"/staff/household/{family['household']}#members"
    assert f'name="next" value="{back}"' in form  # where the re-authentication returns
    assert "/step-up?next=/staff/household/" in form
    step_up(staff_client, soft_keys)
    assert "保存の前に本人確認が必要です" not in text_of(staff_client.get(my_number_url(family), headers=HX))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (wrong_check_digit(valid_number(1)), "個人番号の検査用数字が一致しません。入力を確認してください。"),
        (valid_number(2)[:11], "個人番号は12桁の数字で入力してください。"),
        ("12345678901a", "個人番号は12桁の数字で入力してください。"),
        ("", "個人番号を入力してください。"),
    ],
)
def test_invalid_numbers_are_422_and_never_echoed(app, staff_client, family, soft_keys, typed, message):
    step_up(staff_client, soft_keys)
    response = post(staff_client, my_number_url(family), my_number_form(typed))
    assert response.status_code == 422
    assert errors_of(response, "mynumber_number") == [message]
    page = response.get_data(as_text=True)
    if typed:
        assert typed not in page
    assert re.search(r'<input[^>]*name="mynumber_number"[^>]*value=""', page)
    assert number_row(app, family["spouse"]) is None


def test_missing_confirmation_is_422_and_the_number_must_be_typed_again(app, staff_client, family, soft_keys):
    step_up(staff_client, soft_keys)
    number = valid_number(3)
    response = post(staff_client, my_number_url(family), my_number_form(number, confirmed=False))
    assert response.status_code == 422
    assert errors_of(response, "mynumber_confirmed") == [
        "本人確認書類と照合したことを確認して、チェックを入れてください。"
    ]
    assert_never_shown(number, response.get_data(as_text=True))
    assert number_row(app, family["spouse"]) is None


def test_without_a_recent_step_up_nothing_is_stored(app, staff_client, family):
    number = valid_number(4)
    # The form carries the way back (a hidden "next"), as the browser sends it.
    back = f"/staff/household/{family['household']}#members"
    data = {**my_number_form(number), "next": back}
    page = post(staff_client, my_number_url(family), data, htmx=False)
    assert page.status_code == 303 and page.headers["Location"].startswith("/step-up?next=")
    assert f"/staff/household/{family['household']}" in unquote(page.headers["Location"])
    fragment = post(staff_client, my_number_url(family), data)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/step-up")
    assert_never_shown(number, page.get_data(as_text=True), fragment.get_data(as_text=True))
    assert number_row(app, family["spouse"]) is None
    assert entries(app, "my_number.store") == []


@BOTH_ENGINES
def test_registering_stores_only_ciphertext_and_never_shows_the_number(app, staff_client, family, soft_keys):
    step_up(staff_client, soft_keys)
    number = valid_number(5)
    typed = "".join(chr(ord(d) + 0xFEE0) for d in number)  # full width
    typed = f"{typed[:4]} {typed[4:8]}－{typed[8:]}"
    response = post(staff_client, my_number_url(family), my_number_form(typed))
    assert response.status_code == 200, text_of(response)
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "個人番号を登録しました。"
    section = response.get_data(as_text=True)
    assert_never_shown(number, section)
    assert "********" + number[-4:] in section
    assert "変更あり（内容は表示しません）" in html.unescape(section)

    row = number_row(app, family["spouse"])
    keyring = keyring_for(app.config)
    assert row.blind_index == keyring.blind_index(number)
    assert number.encode() not in bytes(row.ciphertext)
    assert mynumber.decrypt_row(row, keyring) == number
    assert row.checked_against_document and row.entered_by_id == staff_client.user.id
    with opened(app):
        raw = json.dumps([list(r) for r in PersonalNumber.select().tuples()], default=str)
    assert number not in raw.replace(row.blind_index, "")

    stored = entries(app, "my_number.store")[-1]
    assert (stored.target_table, json.loads(stored.target_ids)) == ("person", [family["spouse"]])
    history = entries(app, "person.my_number")[-1]
    assert (history.target_table, json.loads(history.target_ids)) == ("household", [family["household"]])
    assert json.loads(history.fields) == ["personal_number.ciphertext"] and history.changes is None
    assert_never_shown(number, all_entry_text(app))

    # The page shows it masked, with the reveal link, and never in clear.
    page = staff_client.get(f"/staff/household/{family['household']}").get_data(as_text=True)
    assert_never_shown(number, page)
    assert f"/staff/persons/{family['spouse']}/my-number" in page

    # Registering again replaces it.
    replacement = valid_number(6)
    again = post(staff_client, my_number_url(family), my_number_form(replacement))
    assert again.status_code == 200
    assert json.loads(again.headers["HX-Trigger"])["toast"]["message"] == "個人番号を置き換えました。"
    assert mynumber.decrypt_row(number_row(app, family["spouse"]), keyring) == replacement
    assert entries(app, "my_number.replace")
    assert_never_shown(replacement, again.get_data(as_text=True), all_entry_text(app))


@BOTH_ENGINES
def test_a_number_held_by_another_member_is_refused_without_saying_whose(
    app, staff_client, family, soft_keys
):
    number = valid_number(7)
    with opened(app):
        elsewhere = make_household(household_no="H7654321")
        holder = make_person(
            elsewhere, name="幸 秘密子", name_kana="サイワイ ヒミコ", kana_key="サイワイヒミコ"
        )
        mynumber.store(holder, number, checked_against_document=True, keyring=keyring_for(app.config))
    step_up(staff_client, soft_keys)
    response = post(staff_client, my_number_url(family), my_number_form(number))
    assert response.status_code == 422
    assert errors_of(response, "mynumber_number") == [
        "この個人番号はすでに別の世帯員に登録されているため、登録できません。本人確認書類の番号をもう一度確認し、誤りがない場合は保護責任者に相談してください。"
    ]
    page = text_of(response)
    assert_never_shown(number, page)
    assert "幸 秘密子" not in page and "H7654321" not in page
    assert number_row(app, family["spouse"]) is None
    refusal = [e for e in entries(app, "my_number.store") if e.outcome == "denied"][-1]
    assert (refusal.reason, json.loads(refusal.target_ids)) == ("duplicate", [family["spouse"]])
    assert entries(app, "person.my_number") == []
    # The same member may register the number they already hold (e.g. confirming it again).
    with opened(app):
        mynumber.store(
            Person.get_by_id(family["spouse"]), valid_number(8), checked_against_document=True,
            keyring=keyring_for(app.config),
        )  # fmt: skip
    assert post(staff_client, my_number_url(family), my_number_form(valid_number(8))).status_code == 200


def test_my_number_without_javascript(app, staff_client, family, soft_keys):
    step_up(staff_client, soft_keys)
    page = staff_client.get(my_number_url(family))
    assert page.status_code == 200 and "<html" in text_of(page) and "個人番号の登録" in text_of(page)
    number = valid_number(9)
    saved = post(staff_client, my_number_url(family), my_number_form(number), htmx=False)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#members")
    shown = staff_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "個人番号を登録しました。" in shown
    assert_never_shown(number, saved.get_data(as_text=True), shown)


def test_household_flags_on_a_protected_household_do_not_leak(app, staff_client, family):
    """A 支援措置 household the user is not assigned to answers 404 on every member form."""
    with opened(app):
        Household.update(support_measure=True).where(Household.id == family["household"]).execute()
    for url in (member_url(family), welfare_url(family), my_number_url(family)):
        assert staff_client.get(url).status_code == 404


# --- the service on both engines ------------------------------------------------------------------------


def test_member_records_service_on_each_engine(engine_db):
    """Overlap and duplicate checks and their writes, straight through the service (SQLite and PostgreSQL)."""
    from flask import current_app

    from services import editing, member_records

    keyring = keyring_for(current_app.config)
    household = make_household()
    first, second = make_person(household), make_person(household, relation="spouse", is_head=False)
    period = member_records.create_welfare_period(
        first,
        {"start_date": dt.date(2020, 4, 1), "end_date": dt.date(2021, 3, 31)},
        household_id=household.id,
    )
    with pytest.raises(editing.RuleViolation) as refused:
        member_records.create_welfare_period(
            first, {"start_date": dt.date(2021, 3, 31)}, household_id=household.id
        )
    assert refused.value.field == "start_date"
    member_records.create_welfare_period(
        first, {"start_date": dt.date(2021, 4, 1)}, household_id=household.id
    )
    member_records.create_welfare_period(
        second, {"start_date": dt.date(2020, 4, 1)}, household_id=household.id
    )
    with engine_db.atomic(), pytest.raises(editing.RuleViolation):
        member_records.checked_welfare_values(period, {"end_date": None})
    assert WelfarePeriod.select().count() == 3

    number = valid_number(11)
    member_records.register_my_number(
        first, number, checked_against_document=True, keyring=keyring, household_id=household.id
    )
    with pytest.raises(member_records.DuplicateNumber):
        member_records.register_my_number(
            second, number, checked_against_document=True, keyring=keyring, household_id=household.id
        )
    with pytest.raises(mynumber.MyNumberError):
        member_records.register_my_number(
            second,
            valid_number(12),
            checked_against_document=False,
            keyring=keyring,
            household_id=household.id,
        )
    assert [row.person_id for row in PersonalNumber.select()] == [first.id]
    assert mynumber.find_person_ids(number, keyring) == [first.id]


# --- nothing typed makes the server fail -----------------------------------------------------------------

NASTY = [
    "\x00",
    "a\x07b",
    "9" * 40,
    "999999999999",
    "-1",
    "😀" * 300,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "令和999年1月1日",
    "0000-00-00",
    "\u202eabc",
    " ",
]


@pytest.mark.slow
@BOTH_ENGINES
def test_no_input_makes_a_server_error(app, staff_client, family, soft_keys):
    step_up(staff_client, soft_keys)
    with opened(app):
        period = WelfarePeriod.create(person=family["spouse"], start_date=dt.date(2020, 4, 1))
    forms = {
        member_url(family): ("member_", list(member_form(app, family["spouse"]))),
        welfare_url(family): (
            "welfare_",
            ["start_date", "end_date", "housing_aid", "proxy_payment", "case_number"],
        ),
        welfare_url(family, period_id=period.id): (
            "welfare_",
            ["start_date", "end_date", "housing_aid", "version"],
        ),
        welfare_url(family, period_id=period.id, what="end"): ("welfare_", ["end_date", "version"]),
        my_number_url(family): ("mynumber_", ["number", "confirmed"]),
    }
    token = csrf_token_of(staff_client)
    base = member_form(app, family["spouse"])
    for url, (prefix, names) in forms.items():
        for name in (n.removeprefix(prefix) for n in names):
            for value in NASTY:
                data = {
                    **(base if prefix == "member_" else {}),
                    f"{prefix}{name}": value,
                    "csrf_token": token,
                }
                response = staff_client.post(url, data=data, headers=HX)
                assert response.status_code in (200, 409, 422), (url, name, value, response.status_code)
    with opened(app):
        assert PersonalNumber.select().count() == 0
