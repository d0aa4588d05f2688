"""Finding households: reading the search box, the search service (scope, filters, cap, audit) and the screen."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from extensions import db
from models import (
    AuditEntry,
    Charge,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Payment,
    Vehicle,
    WelfarePeriod,
)
from rules import search as rules
from services import access, search
from tests.conftest import csrf_token_of
from tests.factories import (
    make_account,
    make_assignment,
    make_building,
    make_estate,
    make_household,
    make_office,
    make_person,
    make_tenancy,
    make_unit,
    make_ward,
)

TODAY = dt.date(2026, 3, 10)
URL = "/staff/households/"

# --- reading the search box -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind", "values"),
    [
        ("ヤマダ", rules.KANA_PREFIX, {"text": "ヤマダ"}),
        ("やまだ", rules.KANA_PREFIX, {"text": "ヤマダ"}),
        ("ﾔﾏﾀﾞ", rules.KANA_PREFIX, {"text": "ヤマダ"}),
        ("ヤマダ　タロウ", rules.KANA_PREFIX, {"text": "ヤマダタロウ"}),
        ("さとー", rules.KANA_PREFIX, {"text": "サトー"}),
        ("山田", rules.KANJI_NAME, {"text": "山田"}),
        ("山田　太郎", rules.KANJI_NAME, {"text": "山田太郎"}),
        ("山田 はな", rules.KANJI_NAME, {"text": "山田はな"}),
        ("131001030101", rules.HOUSING_CODE, {"code": "131001030101"}),
        ("１３１００１０３０１０１", rules.HOUSING_CODE, {"code": "131001030101"}),
        ("00000277", rules.HOUSEHOLD_NO, {"code": "00000277"}),
        ("1001242486", rules.ATENA_NO, {"code": "1001242486"}),
        ("１００１２４２４８６", rules.ATENA_NO, {"code": "1001242486"}),
        ("0442001234", rules.PHONE, {"code": "0442001234"}),
        ("044-200-1234", rules.PHONE, {"code": "0442001234"}),
        ("０４４－２００－１２３４", rules.PHONE, {"code": "0442001234"}),
        ("090-1234-5678", rules.PHONE, {"code": "09012345678"}),
        ("U000123", rules.CODE, {"code": "U000123"}),
        ("市営小田住宅 3棟 101", rules.ESTATE_ROOM, {"text": "小田", "building": "3", "room": "101"}),
        ("小田 3-101", rules.ESTATE_ROOM, {"text": "小田", "building": "3", "room": "101"}),
        ("小田住宅３号棟１０１号室", rules.ESTATE_ROOM, {"text": "小田", "building": "3", "room": "101"}),
        ("小田住宅 101", rules.ESTATE_ROOM, {"text": "小田", "building": "", "room": "101"}),
        ("市営小田住宅", rules.ESTATE, {"text": "小田"}),
        ("  ", rules.NONE, {}),
        ("", rules.NONE, {}),
    ],
)
def test_parse(typed, kind, values):
    intent = rules.parse(typed)
    assert intent.kind == kind
    for name, value in values.items():
        assert getattr(intent, name) == value


@pytest.mark.parametrize("typed", ["ヤマ\x07ダ", "ヤマ\u200bダ", "a" * 101, "\u202eヤマダ"])
def test_parse_refuses_control_characters_and_long_text(typed):
    with pytest.raises(ValueError):
        rules.parse(typed)


def test_parse_accepts_exactly_100_characters():
    assert rules.parse("ア" * 100).kind == rules.KANA_PREFIX


# --- a small world ----------------------------------------------------------------------------------------


def _world():
    """Two wards; 山田 in 小田 3-101 (ward A), 佐藤 with every flag in 日進町 (ward B), a DV household."""
    office_a = make_office()
    ward_a, ward_b = make_ward(office=office_a), make_ward()
    oda = make_estate(ward=ward_a, name="市営小田住宅")
    nisshin = make_estate(ward=ward_b, name="市営日進町住宅")
    unit_a = make_unit(make_building(oda, number="3"), housing_code="131001030101", room_number="101")
    unit_b = make_unit(make_building(nisshin, number="1"), housing_code="131004010203", room_number="203")
    unit_c = make_unit(make_building(oda, number="4"), room_number="405")

    yamada = make_household(household_no="00000001", contact_phone="0442001234")
    head_a = make_person(
        yamada,
        name="山田\u3000太郎",
        name_kana="ヤマダ\u3000タロウ",
        kana_key="ヤマダタロウ",
        atena_no="1001242486",
    )
    make_person(
        yamada,
        name="山本\u3000花",
        name_kana="ヤマモト\u3000ハナ",
        kana_key="ヤマモトハナ",
        relation="child",
        is_head=False,
        phone="09012345678",
        member_to=dt.date(2020, 1, 1),
        atena_no="1000000001",
    )
    make_tenancy(yamada, unit_a)

    sato = make_household(household_no="00000002", over_income=True, high_income=True, proxy_payment=True)
    head_b = make_person(sato, name="佐藤\u3000花子", name_kana="サトウ\u3000ハナコ", kana_key="サトウハナコ")
    make_tenancy(sato, unit_b)

    dv = make_household(household_no="00000003", support_measure=True)
    make_person(dv, name="山田\u3000次郎", name_kana="ヤマダ\u3000ジロウ", kana_key="ヤマダジロウ")
    make_tenancy(dv, unit_c)

    # 生活保護 now for 佐藤; an ended period for 山田.
    WelfarePeriod.create(person=head_b, start_date=dt.date(2024, 4, 1))
    WelfarePeriod.create(person=head_a, start_date=dt.date(2020, 4, 1), end_date=dt.date(2023, 3, 31))

    # 滞納: 佐藤 owes part of a past charge (a reversed payment does not count); 山田 paid the past one
    # and has an unpaid charge that is not due yet.
    past = Charge.create(
        household=sato,
        kind="rent",
        period=dt.date(2026, 1, 1),
        source_key="rent",
        amount=30000,
        reduction_amount=5000,
        due_date=dt.date(2026, 1, 31),
    )
    Payment.create(
        charge=past,
        amount=20000,
        receipt_date=dt.date(2026, 1, 30),
        posted_date=dt.date(2026, 2, 2),
        method="counter",
    )
    Payment.create(
        charge=past,
        amount=5000,
        receipt_date=dt.date(2026, 1, 30),
        posted_date=dt.date(2026, 2, 2),
        method="counter",
        reversed=True,
    )
    paid = Charge.create(
        household=yamada,
        kind="rent",
        period=dt.date(2026, 1, 1),
        source_key="rent",
        amount=30000,
        reduction_amount=5000,
        due_date=dt.date(2026, 1, 31),
    )
    Payment.create(
        charge=paid,
        amount=25000,
        receipt_date=dt.date(2026, 1, 30),
        posted_date=dt.date(2026, 2, 2),
        method="bank_transfer",
    )
    Charge.create(
        household=yamada,
        kind="rent",
        period=dt.date(2026, 3, 1),
        source_key="rent",
        amount=30000,
        due_date=dt.date(2026, 3, 31),
    )

    # 車検切れ: 佐藤's current vehicle expired yesterday; 山田's is valid; 山田's old vehicle expired
    # but was deregistered.
    lot = ParkingLot.create(estate=oda, code="P1", name="小田駐車場", monthly_fee=5000)
    for household, person, number, expiry, valid_to in (
        (sato, head_b, "1", TODAY - dt.timedelta(days=1), None),
        (yamada, head_a, "2", TODAY, None),
        (yamada, head_a, "3", dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
    ):
        space = ParkingSpace.create(lot=lot, space_no=number, monthly_fee=5000, status="contracted")
        contract = ParkingContract.create(
            space=space,
            household=household,
            user_person=person,
            start_date=dt.date(2019, 4, 1),
            monthly_fee=5000,
        )
        Vehicle.create(
            contract=contract,
            registration_no=f"川崎 500 あ {number}",
            model="軽自動車",
            owner_name=person.name,
            user_name=person.name,
            inspection_expiry=expiry,
            valid_from=dt.date(2019, 4, 1),
            valid_to=valid_to,
        )
    return {
        "yamada": yamada,
        "sato": sato,
        "dv": dv,
        "ward_a": ward_a,
        "ward_b": ward_b,
        "oda": oda,
        "office_a": office_a,
    }


def _nos(result) -> list[str]:
    return [row.household_no for row in result.rows]


@pytest.fixture
def world(database):
    return _world()


@pytest.fixture
def staff(database):
    return make_account("staff")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("やまだ", ["00000001"]),
        ("ﾔﾏﾀﾞ", ["00000001"]),
        ("ヤマダ　タ", ["00000001"]),
        ("ヤマモト", []),  # a former member: only current members are searched by name
        ("サト", ["00000002"]),
        ("山田", ["00000001"]),
        ("山田太郎", ["00000001"]),
        ("田　太", ["00000001"]),
        ("131001030101", ["00000001"]),
        ("00000002", ["00000002"]),
        ("市営小田住宅 3棟 101", ["00000001"]),
        ("小田 3-101", ["00000001"]),
        ("小田 3-102", []),
        ("日進町住宅", ["00000002"]),
        ("1001242486", ["00000001"]),
        ("1000000001", ["00000001"]),  # 宛名番号 of a former member still finds the household
        ("044-200-1234", ["00000001"]),
        ("090-1234-5678", []),  # a former member's phone
        ("ヤ%", []),
        ("ヤ_", []),
    ],
)
def test_search_by_query(world, staff, typed, expected):
    assert _nos(search.search(staff, typed, today=TODAY)) == expected


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("arrears", ["00000002"]),
        ("over_income", ["00000002"]),
        ("high_income", ["00000002"]),
        ("welfare", ["00000002"]),
        ("proxy_payment", ["00000002"]),
        ("inspection_expired", ["00000002"]),
    ],
)
def test_each_flag_filter(world, staff, flag, expected):
    result = search.search(staff, "", search.Filters(**{flag: True}), today=TODAY)
    assert _nos(result) == expected
    assert flag in result.rows[0].flags


def test_estate_ward_and_status_filters(world, staff):
    assert _nos(search.search(staff, "", search.Filters(ward_id=world["ward_b"].id), today=TODAY)) == [
        "00000002"
    ]
    assert _nos(search.search(staff, "", search.Filters(estate_id=world["oda"].id), today=TODAY)) == [
        "00000001"
    ]
    assert _nos(search.search(staff, "ヤマダ", search.Filters(status="moved_out"), today=TODAY)) == []
    both = search.Filters(ward_id=world["ward_a"].id, arrears=True)
    assert _nos(search.search(staff, "", both, today=TODAY)) == []


def test_row_carries_what_the_list_shows(world, staff):
    row = search.search(staff, "サトウ", today=TODAY).rows[0]
    assert (row.head_name, row.head_kana, row.estate_name, row.building, row.room) == (
        "佐藤\u3000花子",
        "サトウ\u3000ハナコ",
        "市営日進町住宅",
        "1",
        "203",
    )
    assert row.housing_code == "131004010203"
    assert row.ward_name == world["ward_b"].name
    assert row.members == 1
    assert set(row.flags) == set(search.FLAGS)
    yamada = search.search(staff, "ヤマダタロウ", today=TODAY).rows[0]
    assert yamada.members == 1  # the former member is not counted
    assert yamada.flags == ()


def test_nothing_to_search_is_refused(world, staff):
    for filters in (None, search.Filters(status="active")):
        with pytest.raises(search.SearchInvalid, match="検索条件を入力してください"):
            search.search(staff, "  ", filters, today=TODAY)
    assert not AuditEntry.select().where(AuditEntry.action == "household.search").exists()


def test_dv_households_only_for_assigned_staff(world, staff):
    assert _nos(search.search(staff, "ヤマダ", today=TODAY)) == ["00000001"]
    assigned = make_account("staff")
    make_assignment(world["dv"], assigned)
    assert _nos(search.search(assigned, "ヤマダ", today=TODAY)) == [
        "00000003",
        "00000001",
    ]  # ジロウ before タロウ
    entry = (
        AuditEntry.select()
        .where(AuditEntry.action == "household.search")
        .order_by(AuditEntry.id.desc())
        .get()
    )
    assert access.DV_FLAG in entry.reason


def test_contractor_sees_its_office_only_and_needs_a_term(world):
    contractor = make_account("contractor", office=world["office_a"])
    with pytest.raises(access.SearchRefused):  # one character narrows nothing
        search.search(contractor, "ヤ", today=TODAY)
    assert _nos(search.search(contractor, "ヤマダ", today=TODAY)) == ["00000001"]
    assert _nos(search.search(contractor, "サトウ", today=TODAY)) == []
    with pytest.raises(access.SearchRefused):
        search.search(contractor, "", search.Filters(ward_id=world["ward_b"].id), today=TODAY)


def test_no_role_sees_nothing(world):
    for role in ("auditor", "sysadmin"):
        with pytest.raises(access.SearchRefused):
            search.search(make_account(role), "ヤマダ", today=TODAY)


def test_cap_cuts_the_list(app, world, staff):
    app.config["SEARCH_CAP_STAFF"] = 1
    result = search.search(staff, "市営", today=TODAY)  # every estate: 山田 and 佐藤
    assert result.capped and result.total == 1 and len(result.rows) == 1
    assert not search.search(staff, "サトウ", today=TODAY).capped


def test_pages_of_fifty(database, staff):
    estate = make_estate(name="市営多数住宅")
    building = make_building(estate)
    for n in range(120):
        household = make_household(household_no=f"9{n:07d}")
        make_person(household, name="多田\u3000一", name_kana="タダ\u3000ハジメ", kana_key=f"タダ{n:03d}")
        make_tenancy(household, make_unit(building))
    first = search.search(staff, "タダ", today=TODAY)
    assert (first.total, first.pages, len(first.rows), first.first, first.last) == (120, 3, 50, 1, 50)
    third = search.search(staff, "タダ", page=3, today=TODAY)
    assert (len(third.rows), third.first, third.last) == (20, 101, 120)
    assert _nos(third)[0] == "90000100"  # ordered by the 名義人's kana
    assert search.search(staff, "タダ", page=99, today=TODAY).page == 3


def test_audit_has_the_ids_and_never_the_term(world, staff):
    result = search.search(staff, "044-200-1234", today=TODAY, session_ref="s1", ip="127.0.0.1")
    entry = AuditEntry.select().where(AuditEntry.action == "household.search").get()
    assert json.loads(entry.target_ids) == [row.id for row in result.rows] == [world["yamada"].id]
    assert entry.actor_id == staff.id and entry.target_table == "household"
    assert "kind=phone" in entry.reason
    row = " ".join(str(value) for value in entry.__data__.values())
    for fragment in ("044", "2001234", "0442001234"):
        assert fragment not in row


class QueryCounter:
    """Counts the statements sent through the database (peewee funnels all of them into execute_sql)."""

    def __init__(self, monkeypatch):
        self.statements: list[str] = []
        real = db.obj.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            self.statements.append(sql)
            return real(sql, params, *args, **kwargs)

        monkeypatch.setattr(db.obj, "execute_sql", counting)

    def reads_of_households(self) -> int:
        return sum(
            1 for sql in self.statements if sql.lstrip().upper().startswith("SELECT") and '"household"' in sql
        )


def test_query_count_does_not_grow_with_rows(database, staff, monkeypatch):
    estate = make_estate()
    building = make_building(estate)
    for n in range(60):
        household = make_household()
        make_person(household, kana_key="カワイ" if n == 0 else f"カワサキ{n:03d}")
        make_tenancy(household, make_unit(building))
    counts = []
    for typed in ("カワイ", "カワ"):  # 1 row, then a full page of 50
        counter = QueryCounter(monkeypatch)
        result = search.search(staff, typed, today=TODAY)
        counts.append((len(result.rows), len(counter.statements), counter.reads_of_households()))
        monkeypatch.undo()
    (one, statements_one, reads_one), (fifty, statements_fifty, reads_fifty) = counts
    assert (one, fifty) == (1, 50)
    assert statements_one == statements_fifty
    assert reads_one == reads_fifty == 2  # the ids, then the page


# --- both engines: the kana prefix through the index ------------------------------------------------------


def test_kana_prefix_on_each_engine(engine_db):
    household = make_household()
    make_person(household, name="山田\u3000太郎", name_kana="ヤマダ\u3000タロウ", kana_key="ヤマダタロウ")
    make_tenancy(household)
    other = make_household()
    make_person(other, name="矢\u3000真", name_kana="ヤ\u3000マ", kana_key="ヤ%マ")
    make_tenancy(other)
    staff = make_account("staff")
    assert _nos(search.search(staff, "やまだ", today=TODAY)) == [household.household_no]
    assert _nos(search.search(staff, "ﾔﾏﾀﾞﾀﾛｳ", today=TODAY)) == [household.household_no]
    assert set(_nos(search.search(staff, "ヤ", today=TODAY))) == {household.household_no, other.household_no}
    assert _nos(search.search(staff, "山田", today=TODAY)) == [household.household_no]
    from models import Person

    escaped = Person.select(Person.household).where(search.kana_prefix(Person.kana_key, "ヤ%"))
    assert [p.household_id for p in escaped] == [other.id]  # % is a character, not a wildcard
    query = Person.select(Person.id).where(search.kana_prefix(Person.kana_key, "ヤマダ"))
    sql, params = query.sql()
    if engine_db.obj.__class__.__name__.startswith("Sqlite"):
        plan = " ".join(str(row) for row in engine_db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "INDEX" in plan.upper()
    else:
        assert " LIKE " in sql


# --- the screen -------------------------------------------------------------------------------------------


def _post(client, data=None, **headers):
    body = {"csrf_token": csrf_token_of(client), "q": "", **(data or {})}
    return client.post(URL, data=body, headers=headers)


@pytest.fixture
def web_world(app):
    with app.app_context(), db.connection_context():
        return _world()


def test_get_shows_the_empty_form(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="q"' in html and 'method="post"' in html
    assert "search-results" in html and "<table" not in html


def test_post_shows_rows_and_no_term_in_any_url(staff_client, web_world):
    response = _post(staff_client, {"q": "ヤマダ"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "00000001" in html and "山田\u3000太郎" in html and "ヤマダ\u3000タロウ" in html
    assert "市営小田住宅 3-101" in html and "131001030101" in html
    assert "00000003" not in html  # the DV household
    assert "Location" not in response.headers
    urls = re.findall(r'(?:href|action|src|hx-post|hx-get)="([^"]*)"', html)
    assert urls and not any("ヤマ" in url or "%E3%83%A4" in url.upper() for url in urls)


def test_flags_shown_as_badges(staff_client, web_world):
    html = _post(staff_client, {"q": "サトウ"}).get_data(as_text=True)
    for label in ("収入超過", "高額所得", "生活保護", "代理納付", "滞納", "車検切れ"):
        assert f">{label}</li>" in html


def test_filter_only_search(staff_client, web_world):
    response = _post(staff_client, {"ward": str(web_world["ward_b"].id)})
    assert response.status_code == 200
    assert "00000002" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"q": ""}, "検索条件を入力してください。"),
        ({"q": "", "status": "active"}, "検索条件を入力してください。"),
        ({"q": "ヤマ\x07ダ"}, "使えない文字"),
        ({"q": "ア" * 101}, "検索語は100文字以内で入力してください。"),
    ],
)
def test_invalid_input_is_422_beside_the_field(staff_client, web_world, data, message):
    response = _post(staff_client, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="q-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert "<table" not in html


def test_422_writes_no_search_entry(app, staff_client, web_world):
    _post(staff_client, {"q": ""})
    with app.app_context(), db.connection_context():
        assert not AuditEntry.select().where(AuditEntry.action == "household.search").exists()


def test_htmx_post_returns_the_results_fragment(staff_client, web_world):
    response = _post(staff_client, {"q": "やまだ"}, **{"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "site-header" not in html
    assert html.lstrip().startswith('<div class="search-results" id="search-results"')
    assert 'hx-swap-oob="true"' in html and "00000001" in html
    assert "HX-Request" in response.headers.get("Vary", "")


def test_htmx_invalid_is_422_fragment(staff_client, web_world):
    response = _post(staff_client, {"q": ""}, **{"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and "検索条件を入力してください。" in html


def test_paging_by_post(staff_client, app):
    with app.app_context(), db.connection_context():
        building = make_building()
        for n in range(60):
            household = make_household(household_no=f"8{n:07d}")
            make_person(household, kana_key=f"ページ{n:03d}")
            make_tenancy(household, make_unit(building))
    first = _post(staff_client, {"q": "ページ"}).get_data(as_text=True)
    assert "60世帯中 1〜50件目" in first and 'name="page" value="2"' in first
    second = _post(staff_client, {"q": "ページ", "page": "2"}).get_data(as_text=True)
    assert "60世帯中 51〜60件目" in second and "80000059" in second and "80000000" not in second


def test_cap_message(app, staff_client, web_world):
    app.config["SEARCH_CAP_STAFF"] = 1
    html = _post(staff_client, {"q": "市営"}).get_data(as_text=True)
    assert "条件に合う世帯が多すぎます。条件を絞ってください。" in html


def test_officer_may_search(officer_client, web_world):
    assert _post(officer_client, {"q": "サトウ"}).status_code == 200


@pytest.mark.parametrize("role_client", ["contractor_client", "auditor_client", "sysadmin_client"])
def test_other_roles_are_refused(request, role_client):
    client = request.getfixturevalue(role_client)
    assert client.get(URL).status_code == 403
    assert _post(client, {"q": "ヤマダ"}).status_code == 403


def test_http_search_is_audited_without_the_term(app, staff_client, web_world):
    _post(staff_client, {"q": "山田太郎"})
    with app.app_context(), db.connection_context():
        entry = AuditEntry.select().where(AuditEntry.action == "household.search").get()
        assert json.loads(entry.target_ids) == [web_world["yamada"].id]
        assert entry.actor_id == staff_client.user.id
        assert entry.session_ref
        row = " ".join(str(value) for value in entry.__data__.values())
        assert "山田" not in row and "太郎" not in row


def test_result_links_only_when_the_household_page_exists(app, staff_client, web_world):
    from blueprints.main.navigation import has_endpoint

    html = _post(staff_client, {"q": "サトウ"}).get_data(as_text=True)
    with app.test_request_context():
        exists = has_endpoint("staff.household.show")
    linked = f"/staff/household/{web_world['sato'].id}" in html
    assert linked == exists
