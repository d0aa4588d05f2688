"""Estates, buildings, units and the vacancy list (staff.estates): lists and their filters, inline edits
with 422 / 409 / history, the unit-status rule, the 利便性係数 range, plain forms, access, query counts."""

from __future__ import annotations

import datetime as dt
import json
import re
from contextlib import contextmanager
from decimal import Decimal

import pytest

from blueprints.policy import POLICY
from extensions import db
from models import AuditEntry, Building, Estate, MasterParameter, Unit, UnitYearFigure
from services import estates as service
from tests.conftest import csrf_token_of
from tests.factories import (
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

HX = {"HX-Request": "true"}
FY = service.current_fiscal_year()


@contextmanager
def opened(app):
    with app.app_context(), db.connection_context():
        yield


def figure(unit, year=FY, coefficient="0.850", rent=72_000):
    return UnitYearFigure.create(
        unit=unit, fiscal_year=year, convenience_coefficient=coefficient, market_rent=rent
    )


@pytest.fixture
def city(app):
    """Two wards; 川崎 holds 南 (2 buildings) and 北 (1 building), 中原 holds 東. Units of every status,
    one occupied by a household, one marked vacant although a tenancy is active (bad data)."""
    with opened(app):
        kawasaki = make_ward(code="14131", name="川崎区")
        nakahara = make_ward(code="14133", name="中原区")
        south = make_estate(kawasaki, code="31001", name="市営南住宅", name_kana="シエイミナミジュウタク")
        north = make_estate(kawasaki, code="31002", name="市営北住宅")
        east = make_estate(nakahara, code="33001", name="市営東住宅")
        s1 = make_building(south, number="1", floors=5, has_elevator=True)
        s2 = make_building(south, number="2", floors=3, structure="quasi_fire_resistant", year_built=1975)
        n1 = make_building(north, number="1", floors=4)
        e1 = make_building(east, number="1", floors=11, has_elevator=True)
        units = {
            "s101": make_unit(
                s1,
                housing_code="3100101101",
                room_number="101",
                floor=1,
                layout="2DK",
                floor_area="45.50",
                status="vacant",
            ),
            "s502": make_unit(
                s1,
                housing_code="3100101502",
                room_number="502",
                floor=5,
                layout="3DK",
                floor_area="62.00",
                status="occupied",
            ),
            "s201": make_unit(
                s2,
                housing_code="3100102201",
                room_number="201",
                floor=2,
                layout="2DK",
                floor_area="48.00",
                status="repair",
            ),
            "s301": make_unit(
                s2,
                housing_code="3100102301",
                room_number="301",
                floor=3,
                layout="1DK",
                floor_area="33.10",
                status="policy_vacant",
            ),
            "n101": make_unit(
                n1,
                housing_code="3100201101",
                room_number="101",
                floor=1,
                layout="3DK",
                floor_area="66.40",
                status="vacant",
            ),
            "n102": make_unit(
                n1,
                housing_code="3100201102",
                room_number="102",
                floor=1,
                layout="2DK",
                floor_area="50.00",
                status="vacant",
            ),  # bad data: someone lives there
            "e1001": make_unit(
                e1,
                housing_code="3300101001",
                room_number="1001",
                floor=10,
                layout="2LDK",
                floor_area="58.20",
                status="vacant",
            ),
        }
        figure(units["s101"], coefficient="0.850", rent=71_300)
        figure(units["s101"], year=FY + 1, coefficient="0.860", rent=72_500)
        figure(units["e1001"], coefficient="0.920", rent=88_800)
        tenant = make_household(household_no="H0000777")
        make_person(tenant, name="入居 花子", name_kana="ニュウキョ ハナコ")
        make_tenancy(tenant, units["s502"])
        squatter = make_household(household_no="H0000888")
        make_person(squatter, name="無断 太郎", name_kana="ムダン タロウ")
        make_tenancy(squatter, units["n102"])
        return {
            "wards": {"kawasaki": kawasaki.id, "nakahara": nakahara.id},
            "estates": {"south": south.id, "north": north.id, "east": east.id},
            "buildings": {"s1": s1.id, "s2": s2.id, "n1": n1.id, "e1": e1.id},
            "units": {k: u.id for k, u in units.items()},
            "tenant": tenant.id,
        }


def text_of(response) -> str:
    return response.get_data(as_text=True)


def estate_rows(html: str) -> list[list[str]]:
    """The estate list's rows as lists of cell texts."""
    body = html.split('class="table table--compact estate-list"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"<[^>]+>", " ", c).split()[0] for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
        for r in rows
    ]


def vacancy_codes(html: str) -> list[str]:
    if "vacancy-list" not in html or "<tbody>" not in html:
        return []
    body = html.split('class="table table--compact vacancy-list"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td class="file-mono">([0-9A-Z-]+)</td>', body)


# --- the list of estates --------------------------------------------------------------------------------


def test_the_estate_list_counts_buildings_units_and_statuses(staff_client, city):
    response = staff_client.get("/staff/estates/")
    html = text_of(response)
    assert response.status_code == 200
    # code, name, ward, buildings, units, occupied, vacant, repair, policy vacant
    assert estate_rows(html) == [
        ["31001", "市営南住宅", "川崎区", "2", "4", "1", "1", "1", "1"],
        ["31002", "市営北住宅", "川崎区", "1", "2", "0", "2", "0", "0"],
        ["33001", "市営東住宅", "中原区", "1", "1", "0", "1", "0", "0"],
    ]
    assert f'href="/staff/estates/{city["estates"]["south"]}"' in html
    assert "立地係数（市）: 1.00" in html
    assert 'href="/staff/estates/vacancies"' in html


def test_the_estate_list_filters_by_ward_and_name(staff_client, city):
    by_ward = text_of(staff_client.get(f"/staff/estates/?ward={city['wards']['nakahara']}"))
    assert [r[1] for r in estate_rows(by_ward)] == ["市営東住宅"]
    by_name = text_of(staff_client.get("/staff/estates/?name=北"))
    assert [r[1] for r in estate_rows(by_name)] == ["市営北住宅"]
    by_kana = text_of(staff_client.get("/staff/estates/?name=ミナミ"))
    assert [r[1] for r in estate_rows(by_kana)] == ["市営南住宅"]
    none = staff_client.get("/staff/estates/?name=存在しない")
    assert none.status_code == 200 and "条件に合う団地はありません。" in text_of(none)


def test_a_bad_estate_filter_is_422_with_the_message(staff_client, city):
    response = staff_client.get("/staff/estates/?name=" + "あ" * 60)
    assert response.status_code == 422
    assert "50文字以内で入力してください。" in text_of(response)
    # An unknown ward is no filter at all, never an error page.
    assert staff_client.get("/staff/estates/?ward=abc&page=zz").status_code == 200


def test_the_navigation_leads_city_staff_to_the_estates_and_the_vacancies(staff_client, officer_client):
    for client in (staff_client, officer_client):
        html = text_of(client.get("/"))
        assert 'href="/staff/estates/"' in html and 'href="/staff/estates/vacancies"' in html


# --- the vacancy list ---------------------------------------------------------------------------------


def test_the_vacancy_list_shows_only_vacant_units_nobody_lives_in(staff_client, city):
    response = staff_client.get("/staff/estates/vacancies")
    html = text_of(response)
    assert response.status_code == 200
    # Sorted by ward, estate, building and room; not 修繕中, 政策空家, 入居中, nor a "vacant" unit with a
    # tenant (n102).
    assert vacancy_codes(html) == ["3100101101", "3100201101", "3300101001"]
    # This fiscal year's figures, not next year's.
    assert "0.850" in html and "¥71,300" in html and "¥72,500" not in html
    assert "0.920" in html and "¥88,800" in html
    # No personal data on this page.
    for personal in ("H0000777", "H0000888", "入居 花子", "無断 太郎", "ニュウキョ"):
        assert personal not in html
    with_repair = text_of(staff_client.get("/staff/estates/vacancies?include_repair=y"))
    assert vacancy_codes(with_repair) == ["3100101101", "3100102201", "3100201101", "3300101001"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ward={kawasaki}", ["3100101101", "3100201101"]),
        ("estate={east}", ["3300101001"]),
        ("layout=3DK", ["3100201101"]),
        ("min_area=50", ["3100201101", "3300101001"]),
        ("max_area=５０㎡", ["3100101101"]),
        ("min_area=45.5&max_area=60", ["3100101101", "3300101001"]),
        ("max_floor=1", ["3100101101", "3100201101"]),
        ("elevator=y", ["3100101101", "3300101001"]),
        ("elevator=y&max_floor=3&ward={kawasaki}", ["3100101101"]),
    ],
)
def test_the_vacancy_filters(staff_client, city, query, expected):
    url = "/staff/estates/vacancies?" + query.format(**city["wards"], **city["estates"])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert vacancy_codes(text_of(response)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min_area=abc", "0から200.00までの数で入力してください。"),
        ("min_area=60&max_area=50", "上限は下限以上の数にしてください。"),
        ("max_area=50.123", "小数点以下2桁までで入力してください。"),
        ("max_floor=x", "数字で入力してください。"),
        ("max_floor=0", "1から60の数で入力してください。"),
        ("layout=9LDK", "選択"),
    ],
)
def test_bad_vacancy_filters_are_422_beside_the_field(staff_client, city, query, message):
    response = staff_client.get("/staff/estates/vacancies?" + query)
    html = text_of(response)
    assert response.status_code == 422
    assert message in html
    assert 'aria-invalid="true"' in html
    assert vacancy_codes(html) == []


def test_the_vacancy_list_pages_by_50(app, staff_client):
    with opened(app):
        building = make_building(make_estate(code="40001", name="市営大住宅"), floors=15)
        for n in range(60):
            make_unit(
                building,
                housing_code=f"40001{n:04d}",
                room_number=f"{n + 1}",
                floor=1 + n // 5,
                status="vacant",
            )
    first = text_of(staff_client.get("/staff/estates/vacancies"))
    assert "60戸中 1〜50件目" in first
    assert vacancy_codes(first)[:3] == ["400010000", "400010001", "400010002"]  # room 1, 2, 3 (not 1, 10, 11)
    assert len(vacancy_codes(first)) == 50
    assert 'href="/staff/estates/vacancies?page=2"' in first
    second = text_of(staff_client.get("/staff/estates/vacancies?page=2"))
    assert len(vacancy_codes(second)) == 10 and "60戸中 51〜60件目" in second
    # A page past the end shows the last page.
    assert "51〜60件目" in text_of(staff_client.get("/staff/estates/vacancies?page=9"))


def grow(app, estates: int) -> None:
    """Add estates with buildings, units of each status, figures and tenancies."""
    with opened(app):
        ward = make_ward()
        for _ in range(estates):
            estate = make_estate(ward)
            for _ in range(2):
                building = make_building(estate, has_elevator=True)
                for status in ("vacant", "vacant", "repair", "occupied"):
                    unit = make_unit(building, status=status, layout="2DK")
                    figure(unit)
                    if status == "occupied":
                        make_tenancy(make_household(), unit)


def queries_of(app, client, url: str) -> int:
    with counting_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("url", ["/staff/estates/", "/staff/estates/vacancies"])
def test_the_lists_run_the_same_number_of_queries_for_2_or_12_estates(app, staff_client, url):
    grow(app, 2)
    small = queries_of(app, staff_client, url)
    grow(app, 10)
    large = queries_of(app, staff_client, url)
    assert small == large, (small, large)
    assert large <= 20


def test_the_estate_page_runs_the_same_number_of_queries_whatever_its_size(app, staff_client, city):
    small = queries_of(app, staff_client, f"/staff/estates/{city['estates']['east']}")
    large = queries_of(app, staff_client, f"/staff/estates/{city['estates']['south']}")
    assert small == large, (small, large)


# --- the estate page and its edits -----------------------------------------------------------------------------


def audit_of(app, table: str, record_id: int, action: str | None = None) -> list[AuditEntry]:
    with opened(app):
        query = AuditEntry.select().where(
            (AuditEntry.target_table == table) & (AuditEntry.target_ids == f"[{record_id}]")
        )
        if action:
            query = query.where(AuditEntry.action == action)
        return list(query.order_by(AuditEntry.id))


def toast(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


def test_the_estate_page_shows_facts_buildings_and_units(staff_client, city):
    response = staff_client.get(f"/staff/estates/{city['estates']['south']}")
    html = text_of(response)
    assert response.status_code == 200
    for text in (
        "市営南住宅",
        "シエイミナミジュウタク",
        "川崎区",
        "1号棟",
        "2号棟",
        "準耐火",
        "1975",
        "3100101101",
        "45.50㎡",
        "修繕中",
        "政策空家",
        "入居中",
        "0.850",
        "¥71,300",
    ):
        assert text in html, text
    assert f'href="/staff/estates/units/{city["units"]["s101"]}"' in html
    assert "H0000777" not in html and "入居 花子" not in html  # the estate page names no household


def estate_form(client, version=1, **overrides):
    data = {
        "csrf_token": csrf_token_of(client),
        "version": str(version),
        "name": "市営南住宅",
        "name_kana": "シエイミナミジュウタク",
        "ward": "",
        "postal_code": "",
        "address": "川崎市",
        "residents_association": "",
        "note": "",
    }
    data.update(overrides)
    return data


def test_an_estate_edit_round_trip_with_history(app, staff_client, city):
    eid = city["estates"]["south"]
    form = staff_client.get(f"/staff/estates/{eid}/edit", headers=HX)
    assert form.status_code == 200 and "<html" not in text_of(form)
    assert 'name="version" type="hidden" value="1"' in text_of(form)
    data = estate_form(
        staff_client,
        ward=str(city["wards"]["kawasaki"]),
        name="市営南第一住宅",
        name_kana="しえいみなみだいいちじゅうたく",  # ひらがな → カタカナ
        postal_code="２１０－８５７７",
        address="神奈川県川崎市川崎区宮本町1",
        residents_association="南住宅自治会",
    )
    response = staff_client.post(f"/staff/estates/{eid}/edit", data=data, headers=HX)
    html = text_of(response)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#estate" and response.headers["HX-Reswap"] == "outerHTML"
    assert toast(response) == "団地の情報を保存しました。"
    assert html.lstrip().startswith('<section class="section file-section" id="estate"')
    with opened(app):
        estate = Estate.get_by_id(eid)
    assert (estate.name, estate.name_kana, estate.postal_code) == (
        "市営南第一住宅",
        "シエイミナミダイイチジュウタク",
        "2108577",
    )
    assert estate.version == 2
    (entry,) = audit_of(app, "estate", eid, "estate.update")
    assert entry.actor_id == staff_client.user.id
    changes = json.loads(entry.changes)
    assert changes["estate.name"] == ["市営南住宅", "市営南第一住宅"]
    assert changes["estate.residents_association"] == [None, "南住宅自治会"]
    assert "estate.ward" not in changes  # unchanged
    # The history beside the facts: who, what, before and after.
    assert "変更履歴" in html and staff_client.user.login_id in html
    assert "住宅名" in html and "市営南第一住宅" in html
    page = text_of(staff_client.get(f"/staff/estates/{eid}"))
    assert "南住宅自治会" in page and "〒210-8577" in page


def test_an_estate_move_to_another_ward_is_shown_by_name_in_the_history(app, staff_client, city):
    eid = city["estates"]["north"]
    data = estate_form(staff_client, name="市営北住宅", ward=str(city["wards"]["nakahara"]))
    assert staff_client.post(f"/staff/estates/{eid}/edit", data=data, headers=HX).status_code == 200
    page = text_of(staff_client.get(f"/staff/estates/{eid}"))
    assert re.search(
        r"区</span>:\s*<span class=\"file-changes__before\">川崎区</span>\s*→\s*"
        r"<span class=\"file-changes__after\">中原区</span>",
        page,
    )


def test_invalid_estate_input_is_422_and_nothing_is_written(app, staff_client, city):
    eid = city["estates"]["south"]
    data = estate_form(staff_client, name="", name_kana="Minami", postal_code="210", address="", ward="99999")
    response = staff_client.post(f"/staff/estates/{eid}/edit", data=data, headers=HX)
    html = text_of(response)
    assert response.status_code == 422
    assert "カタカナ（またはひらがな）で入力してください。" in html
    assert "郵便番号は7桁の数字で入力してください" in html
    assert html.count("入力してください。") >= 3  # name, address, ward
    assert 'id="name-error"' in html and 'value="Minami"' in html
    with opened(app):
        assert Estate.get_by_id(eid).version == 1
    assert audit_of(app, "estate", eid) == []


def building_form(client, version=1, **overrides):
    data = {
        "csrf_token": csrf_token_of(client),
        "version": str(version),
        "number": "1",
        "structure": "fire_resistant",
        "year_built": "1990",
        "floors": "5",
        "has_elevator": "y",
    }
    data.update(overrides)
    return data


def test_a_building_edit_saves_and_refreshes_the_units_too(app, staff_client, city):
    eid, bid = city["estates"]["south"], city["buildings"]["s1"]
    url = f"/staff/estates/{eid}/buildings/{bid}/edit"
    response = staff_client.post(
        url, data=building_form(staff_client, number="1A", floors="6", year_built="１９８８"), headers=HX
    )
    html = text_of(response)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#buildings"
    assert toast(response) == "棟の情報を保存しました。"
    # The units section (headed by the building number) comes along, swapped out of band.
    assert (
        '<section class="section file-section" id="units" aria-labelledby="units-heading" hx-swap-oob="true">'
        in html
    )
    assert "1A号棟" in html
    with opened(app):
        building = Building.get_by_id(bid)
    assert (building.number, building.floors, building.year_built) == ("1A", 6, 1988)
    (entry,) = audit_of(app, "building", bid, "building.update")
    assert json.loads(entry.changes) == {
        "building.number": ["1", "1A"],
        "building.year_built": [1990, 1988],
        "building.floors": [5, 6],
    }
    assert "1A号棟" in html and "棟番号" in html and staff_client.user.login_id in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"floors": "4"}, "floors", "この棟には5階の住戸があります。階数は5以上にしてください。"),
        ({"floors": "61"}, "floors", "階数は1から60までで入力してください。"),
        ({"year_built": "1850"}, "year_built", "建設年度は1900から"),
        ({"number": "2"}, "number", "この団地には同じ棟番号の棟があります。"),
        ({"structure": "steel"}, "structure", "選択"),
    ],
)
def test_invalid_building_input_is_422_beside_the_field(app, staff_client, city, overrides, field, message):
    eid, bid = city["estates"]["south"], city["buildings"]["s1"]
    response = staff_client.post(
        f"/staff/estates/{eid}/buildings/{bid}/edit",
        data=building_form(staff_client, **overrides),
        headers=HX,
    )
    html = text_of(response)
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html
    with opened(app):
        assert Building.get_by_id(bid).version == 1
    assert audit_of(app, "building", bid) == []


def test_a_building_of_another_estate_is_404(staff_client, city):
    url = f"/staff/estates/{city['estates']['north']}/buildings/{city['buildings']['s1']}/edit"
    assert staff_client.get(url, headers=HX).status_code == 404
    assert staff_client.post(url, data=building_form(staff_client), headers=HX).status_code == 404


# --- units ----------------------------------------------------------------------------------------------------------


def unit_form(client, version=1, **overrides):
    data = {
        "csrf_token": csrf_token_of(client),
        "version": str(version),
        "housing_code": "3100101101",
        "room_number": "101",
        "floor": "1",
        "layout": "2DK",
        "floor_area": "45.50",
        "unit_type": "general",
        "status": "vacant",
        "note": "",
    }
    data.update(overrides)
    return data


def test_a_unit_edit_round_trip_with_history(app, staff_client, city):
    uid = city["units"]["s101"]
    form = staff_client.get(f"/staff/estates/units/{uid}/edit", headers=HX)
    assert form.status_code == 200 and 'value="45.50"' in text_of(form)
    data = unit_form(
        staff_client,
        floor_area="４６．２５㎡",
        layout="2ldk",
        status="repair",
        unit_type="elderly",
        note="浴室改修中",
    )
    response = staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX)
    html = text_of(response)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#unit"
    assert toast(response) == "住戸の情報を保存しました。"
    with opened(app):
        unit = Unit.get_by_id(uid)
    assert (unit.floor_area, unit.layout, unit.status, unit.unit_type) == (
        Decimal("46.25"),
        "2LDK",
        "repair",
        "elderly",
    )
    (entry,) = audit_of(app, "unit", uid, "unit.update")
    changes = json.loads(entry.changes)
    assert [Decimal(v) for v in changes["unit.floor_area"]] == [Decimal("45.5"), Decimal("46.25")]
    assert changes["unit.status"] == ["vacant", "repair"]
    # History with labels, not codes.
    assert "床面積(㎡)" in html and "46.25" in html
    assert re.search(r"空家</span>\s*→\s*<span class=\"file-changes__after\">修繕中", html)
    # It leaves the vacancy list.
    assert "3100101101" not in vacancy_codes(text_of(staff_client.get("/staff/estates/vacancies")))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"floor_area": "0"}, "floor_area", "0より大きく200.00以下の数で入力してください。"),
        ({"floor_area": "-5"}, "floor_area", "0より大きく200.00以下の数で入力してください。"),
        ({"floor_area": "6000"}, "floor_area", "0より大きく200.00以下の数で入力してください。"),
        ({"floor_area": "45.555"}, "floor_area", "小数点以下2桁までで入力してください。"),
        ({"floor_area": "abc"}, "floor_area", "0より大きく200.00以下の数で入力してください。"),
        ({"floor_area": ""}, "floor_area", "入力してください。"),
        ({"floor": "6"}, "floor", "この棟は5階建てです。階は1から5までで入力してください。"),
        ({"floor": "0"}, "floor", "階は1から60までで入力してください。"),
        ({"housing_code": "3100101502"}, "housing_code", "この住宅コードはほかの住戸で使われています。"),
        (
            {"housing_code": "31-00 あ"},
            "housing_code",
            "住宅コードは英数字（とハイフン）で入力してください。",
        ),
        ({"room_number": "502"}, "room_number", "この棟には同じ部屋番号の住戸があります。"),
        ({"status": "occupied"}, "status", "入居中の世帯がないため「入居中」にはできません。"),
        ({"status": "demolished"}, "status", "選択"),
    ],
)
def test_invalid_unit_input_is_422_beside_the_field_and_nothing_is_written(
    app, staff_client, city, overrides, field, message
):
    uid = city["units"]["s101"]
    response = staff_client.post(
        f"/staff/estates/units/{uid}/edit", data=unit_form(staff_client, **overrides), headers=HX
    )
    html = text_of(response)
    assert response.status_code == 422, html
    assert message in html
    assert f'id="{field}-error"' in html
    with opened(app):
        unit = Unit.get_by_id(uid)
    assert (unit.version, unit.floor_area, unit.status) == (1, Decimal("45.50"), "vacant")
    assert audit_of(app, "unit", uid) == []


@pytest.mark.parametrize("status", ["vacant", "repair", "policy_vacant"])
def test_a_unit_someone_lives_in_stays_occupied(app, staff_client, city, status):
    uid = city["units"]["s502"]
    data = unit_form(
        staff_client,
        housing_code="3100101502",
        room_number="502",
        floor="5",
        floor_area="62.00",
        layout="3DK",
        status=status,
    )
    response = staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX)
    assert response.status_code == 422
    assert "入居中の世帯があるため、状態は「入居中」のままです。" in text_of(response)
    with opened(app):
        assert Unit.get_by_id(uid).status == "occupied"
    # Its other facts can be edited as long as it stays 入居中.
    data.update(status="occupied", note="玄関ドア交換済")
    assert staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX).status_code == 200


def test_a_vacant_unit_with_a_tenant_must_be_corrected_to_occupied(app, staff_client, city):
    uid = city["units"]["n102"]  # bad data: vacant in the table, a household lives there
    data = unit_form(staff_client, housing_code="3100201102", room_number="102", floor_area="50.00")
    response = staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX)
    assert response.status_code == 422
    data["status"] = "occupied"
    assert staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX).status_code == 200
    with opened(app):
        assert Unit.get_by_id(uid).status == "occupied"


def test_two_people_editing_a_unit_get_a_409_with_both_versions(app, make_user, login, staff_client, city):
    uid = city["units"]["s101"]
    other = app.test_client()
    login(other, make_user("staff"))
    first = other.post(
        f"/staff/estates/units/{uid}/edit", data=unit_form(other, floor_area="47.00"), headers=HX
    )
    assert first.status_code == 200
    late = staff_client.post(
        f"/staff/estates/units/{uid}/edit", data=unit_form(staff_client, floor_area="49.90"), headers=HX
    )
    html = text_of(late)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html
    assert "49.90" in html and "47.00" in html  # mine and theirs
    assert 'name="version" type="hidden" value="2"' in html
    with opened(app):
        assert Unit.get_by_id(uid).floor_area == Decimal("47.00")
    again = staff_client.post(
        f"/staff/estates/units/{uid}/edit",
        data=unit_form(staff_client, version=2, floor_area="49.90"),
        headers=HX,
    )
    assert again.status_code == 200
    with opened(app):
        assert Unit.get_by_id(uid).floor_area == Decimal("49.90")
    assert len(audit_of(app, "unit", uid, "unit.update")) == 2


@pytest.mark.parametrize("version", ["", "abc", "-1", "99999999999"])
def test_a_missing_or_forged_version_is_refused(app, staff_client, city, version):
    uid = city["units"]["s101"]
    response = staff_client.post(
        f"/staff/estates/units/{uid}/edit",
        data=unit_form(staff_client, version=version, floor_area="50"),
        headers=HX,
    )
    assert response.status_code in (409, 422)
    with opened(app):
        assert Unit.get_by_id(uid).floor_area == Decimal("45.50")


def test_a_save_with_nothing_changed_writes_nothing(app, staff_client, city):
    uid = city["units"]["s101"]
    response = staff_client.post(f"/staff/estates/units/{uid}/edit", data=unit_form(staff_client), headers=HX)
    assert response.status_code == 200 and toast(response) == "変更はありませんでした。"
    with opened(app):
        assert Unit.get_by_id(uid).version == 1
    assert audit_of(app, "unit", uid) == []


def test_without_javascript_the_forms_are_pages_and_a_save_redirects(app, staff_client, city):
    uid = city["units"]["s101"]
    page = staff_client.get(f"/staff/estates/units/{uid}/edit")
    html = text_of(page)
    assert page.status_code == 200 and "<html" in html and "住戸の情報の編集" in html
    assert f'action="/staff/estates/units/{uid}/edit"' in html
    assert "市営南住宅" in html  # the breadcrumbs lead back
    invalid = staff_client.post(
        f"/staff/estates/units/{uid}/edit", data=unit_form(staff_client, floor_area="x")
    )
    assert invalid.status_code == 422 and "<html" in text_of(invalid)
    saved = staff_client.post(f"/staff/estates/units/{uid}/edit", data=unit_form(staff_client, layout="2LDK"))
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/staff/estates/units/{uid}#unit")
    after = text_of(staff_client.get(f"/staff/estates/units/{uid}"))
    assert "住戸の情報を保存しました。" in after and "2LDK" in after
    # Cancel without JavaScript goes back to the page at the section.
    cancel = staff_client.get(f"/staff/estates/units/{uid}/section/unit")
    assert cancel.status_code == 303 and cancel.headers["Location"].endswith(
        f"/staff/estates/units/{uid}#unit"
    )
    estate_cancel = staff_client.get(f"/staff/estates/{city['estates']['south']}/section/buildings")
    assert estate_cancel.status_code == 303 and estate_cancel.headers["Location"].endswith("#buildings")


def test_sections_alone_for_cancel(staff_client, city):
    uid, eid = city["units"]["s101"], city["estates"]["south"]
    for url, section in (
        (f"/staff/estates/units/{uid}/section/figures", "figures"),
        (f"/staff/estates/{eid}/section/units", "units"),
    ):
        response = staff_client.get(url, headers=HX)
        assert response.status_code == 200
        assert text_of(response).lstrip().startswith(f'<section class="section file-section" id="{section}"')
    assert staff_client.get(f"/staff/estates/units/{uid}/section/nonsense", headers=HX).status_code == 404
    assert staff_client.get(f"/staff/estates/{eid}/section/nonsense", headers=HX).status_code == 404


def test_the_unit_page_links_the_household_only_for_those_who_may_see_it(app, make_user, staff_client, city):
    uid = city["units"]["s502"]
    html = text_of(staff_client.get(f"/staff/estates/units/{uid}"))
    assert f'href="/staff/household/{city["tenant"]}"' in html and "H0000777" in html
    assert "入居 花子" not in html  # a household number, never a name
    with opened(app):
        Unit.update(status="vacant").where(Unit.id == uid).execute()
        from models import Household

        Household.update(support_measure=True).where(Household.id == city["tenant"]).execute()
        make_assignment(Household.get_by_id(city["tenant"]), make_user("staff"))
    hidden = text_of(staff_client.get(f"/staff/estates/units/{uid}"))
    assert "H0000777" not in hidden and f"/staff/household/{city['tenant']}" not in hidden
    assert "入居中" in hidden


# --- 利便性係数 and 近傍同種家賃 per fiscal year ------------------------------------------------------------------------


def figure_form(client, version=None, **overrides):
    data = {
        "csrf_token": csrf_token_of(client),
        "convenience_coefficient": "0.900",
        "market_rent": "75,000円",
    }
    if version is not None:
        data["version"] = str(version)
    else:
        data["fiscal_year"] = str(FY + 2)
    data.update(overrides)
    return data


def test_a_fiscal_years_figures_are_added_and_edited_with_history(app, staff_client, city):
    uid = city["units"]["s101"]
    new = staff_client.get(f"/staff/estates/units/{uid}/figures/new", headers=HX)
    assert f'value="{FY + 2}"' in text_of(new)  # the first year not yet entered
    added = staff_client.post(
        f"/staff/estates/units/{uid}/figures/new", data=figure_form(staff_client), headers=HX
    )
    assert added.status_code == 200, text_of(added)
    assert added.headers["HX-Retarget"] == "#figures"
    assert toast(added) == "年度の数値を登録しました。"
    with opened(app):
        created = UnitYearFigure.get((UnitYearFigure.unit == uid) & (UnitYearFigure.fiscal_year == FY + 2))
        current = UnitYearFigure.get((UnitYearFigure.unit == uid) & (UnitYearFigure.fiscal_year == FY))
    assert (created.convenience_coefficient, created.market_rent) == (Decimal("0.900"), 75_000)
    (entry,) = audit_of(app, "unit_year_figure", created.id, "unit_year_figure.create")
    assert json.loads(entry.changes)["unit_year_figure.market_rent"] == [None, 75_000]

    edited = staff_client.post(
        f"/staff/estates/units/{uid}/figures/{current.id}/edit",
        data=figure_form(staff_client, version=1, convenience_coefficient="０．８", market_rent="71300"),
        headers=HX,
    )
    html = text_of(edited)
    assert edited.status_code == 200, html
    with opened(app):
        assert UnitYearFigure.get_by_id(current.id).convenience_coefficient == Decimal("0.800")
    (entry,) = audit_of(app, "unit_year_figure", current.id, "unit_year_figure.update")
    before, after = json.loads(entry.changes)["unit_year_figure.convenience_coefficient"]
    assert (Decimal(before), after) == (Decimal("0.85"), "0.8")
    assert list(json.loads(entry.changes)) == ["unit_year_figure.convenience_coefficient"]  # rent unchanged
    # The figures' history names the year and the change.
    assert "利便性係数" in html and "0.85" in html and "0.8" in html
    from rules import wareki

    assert wareki.fiscal_year_label(FY) in html and wareki.fiscal_year_label(FY + 2) in html
    assert staff_client.user.login_id in html
    # The vacancy list shows the new figure of this year.
    assert "0.800" in text_of(staff_client.get("/staff/estates/vacancies"))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"convenience_coefficient": "1.35"},
            "convenience_coefficient",
            "0.500から1.300までの数で入力してください。",
        ),
        (
            {"convenience_coefficient": "0.45"},
            "convenience_coefficient",
            "0.500から1.300までの数で入力してください。",
        ),
        (
            {"convenience_coefficient": "0.8555"},
            "convenience_coefficient",
            "小数点以下3桁までで入力してください。",
        ),
        ({"market_rent": "-1"}, "market_rent", "金額は0以上の整数（円）で入力してください。"),
        ({"market_rent": "0"}, "market_rent", "近傍同種家賃は1円から1,000,000円までで入力してください。"),
        (
            {"market_rent": "2000000"},
            "market_rent",
            "近傍同種家賃は1円から1,000,000円までで入力してください。",
        ),
        ({"fiscal_year": str(FY)}, "fiscal_year", "この年度の数値はすでに登録されています。"),
        ({"fiscal_year": "1999"}, "fiscal_year", "年度は2000から"),
        ({"fiscal_year": "令和8"}, "fiscal_year", "数字で入力してください。"),
    ],
)
def test_invalid_figures_are_422_and_nothing_is_written(app, staff_client, city, overrides, field, message):
    uid = city["units"]["s101"]
    response = staff_client.post(
        f"/staff/estates/units/{uid}/figures/new", data=figure_form(staff_client, **overrides), headers=HX
    )
    html = text_of(response)
    assert response.status_code == 422, html
    assert message in html and f'id="{field}-error"' in html
    with opened(app):
        assert UnitYearFigure.select().where(UnitYearFigure.unit == uid).count() == 2
    with opened(app):
        assert AuditEntry.select().where(AuditEntry.target_table == "unit_year_figure").count() == 0


def test_the_convenience_coefficient_is_capped_by_the_location_coefficient(app, staff_client, city):
    """令2条1項5号: R ≤ min(1.3, 1.6 ÷ 立地係数): with 立地係数 1.30 from the fiscal year FY + 2, 1.230 at most."""
    with opened(app):
        MasterParameter.create(
            code="location_coefficient", valid_from=dt.date(FY + 2, 4, 1), value="1.300000", basis="test"
        )
    assert service.convenience_range(FY + 2) == (Decimal("0.500"), Decimal("1.230"))
    uid = city["units"]["s101"]
    refused = staff_client.post(
        f"/staff/estates/units/{uid}/figures/new",
        data=figure_form(staff_client, convenience_coefficient="1.25"),
        headers=HX,
    )
    assert refused.status_code == 422
    assert "の利便性係数は0.500から1.230までです（令2条1項5号）。" in text_of(refused)
    accepted = staff_client.post(
        f"/staff/estates/units/{uid}/figures/new",
        data=figure_form(staff_client, convenience_coefficient="1.23"),
        headers=HX,
    )
    assert accepted.status_code == 200
    # This year keeps the old 立地係数: 1.25 is allowed there.
    with opened(app):
        current = UnitYearFigure.get((UnitYearFigure.unit == uid) & (UnitYearFigure.fiscal_year == FY))
    ok = staff_client.post(
        f"/staff/estates/units/{uid}/figures/{current.id}/edit",
        data=figure_form(staff_client, version=1, convenience_coefficient="1.25"),
        headers=HX,
    )
    assert ok.status_code == 200


def test_a_figure_of_another_unit_is_404(staff_client, city):
    url = f"/staff/estates/units/{city['units']['e1001']}/figures/1/edit"
    assert staff_client.get(url, headers=HX).status_code == 404


def test_two_people_editing_a_figure_get_a_409(app, make_user, login, staff_client, city):
    uid = city["units"]["e1001"]
    with opened(app):
        fid = UnitYearFigure.get(UnitYearFigure.unit == uid).id
    other = app.test_client()
    login(other, make_user("officer"))
    url = f"/staff/estates/units/{uid}/figures/{fid}/edit"
    assert (
        other.post(url, data=figure_form(other, version=1, market_rent="90000"), headers=HX).status_code
        == 200
    )
    late = staff_client.post(url, data=figure_form(staff_client, version=1, market_rent="91000"), headers=HX)
    assert late.status_code == 409
    assert "¥90,000" in text_of(late) or "90000" in text_of(late)
    with opened(app):
        assert UnitYearFigure.get_by_id(fid).market_rent == 90_000


# --- access -----------------------------------------------------------------------------------------------------------


def estate_urls(city) -> list[tuple[str, str]]:
    eid, bid, uid = city["estates"]["south"], city["buildings"]["s1"], city["units"]["s101"]
    return [
        ("GET", "/staff/estates/"),
        ("GET", "/staff/estates/vacancies"),
        ("GET", f"/staff/estates/{eid}"),
        ("GET", f"/staff/estates/{eid}/section/estate"),
        ("GET", f"/staff/estates/{eid}/edit"),
        ("POST", f"/staff/estates/{eid}/edit"),
        ("GET", f"/staff/estates/{eid}/buildings/{bid}/edit"),
        ("POST", f"/staff/estates/{eid}/buildings/{bid}/edit"),
        ("GET", f"/staff/estates/units/{uid}"),
        ("GET", f"/staff/estates/units/{uid}/section/unit"),
        ("GET", f"/staff/estates/units/{uid}/edit"),
        ("POST", f"/staff/estates/units/{uid}/edit"),
        ("GET", f"/staff/estates/units/{uid}/figures/new"),
        ("POST", f"/staff/estates/units/{uid}/figures/new"),
        ("GET", f"/staff/estates/units/{uid}/figures/1/edit"),
        ("POST", f"/staff/estates/units/{uid}/figures/1/edit"),
    ]


def test_every_estates_endpoint_is_listed_and_for_city_staff_only(app, city):
    endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.estates.")
    }
    assert len(endpoints) == 11
    for endpoint in endpoints:
        assert set(POLICY[endpoint].values()) == {frozenset({"staff", "officer"})}, endpoint


@pytest.mark.parametrize("role", ["contractor", "auditor", "sysadmin"])
def test_other_roles_get_403_on_every_estates_endpoint(request, app, city, role):
    client = request.getfixturevalue(f"{role}_client")
    token = csrf_token_of(client)
    urls = estate_urls(city)
    for method, url in urls:
        data = unit_form(client) if method == "POST" else None
        for headers in ({}, HX):
            response = client.open(url, method=method, data=data, headers={"X-CSRFToken": token, **headers})
            assert response.status_code == 403, (role, method, url, response.status_code)
    with opened(app):
        assert Unit.get_by_id(city["units"]["s101"]).version == 1
        assert (
            AuditEntry.select().where(AuditEntry.target_table.in_(["estate", "building", "unit"])).count()
            == 0
        )
        denied = (
            AuditEntry.select()
            .where((AuditEntry.action == "access.denied") & (AuditEntry.actor_id == client.user.id))
            .count()
        )
    assert denied == 2 * len(urls)


def test_signed_out_requests_go_to_login(client, city):
    response = client.get("/staff/estates/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert client.get("/staff/estates/vacancies", headers=HX).status_code == 401


def test_unknown_records_are_404(staff_client):
    for url in (
        "/staff/estates/999999",
        "/staff/estates/999999/edit",
        "/staff/estates/units/999999",
        "/staff/estates/units/999999/edit",
        "/staff/estates/units/999999/figures/new",
        "/staff/estates/999999/section/estate",
    ):
        assert staff_client.get(url, headers=HX).status_code == 404, url
    response = staff_client.post("/staff/estates/units/999999/edit", data=unit_form(staff_client), headers=HX)
    assert response.status_code == 404


def test_fields_outside_the_form_are_ignored(app, staff_client, city):
    """Mass assignment: the building, the estate code or the version column cannot be posted in."""
    uid, eid = city["units"]["s101"], city["estates"]["south"]
    data = unit_form(staff_client, building=str(city["buildings"]["e1"]), id="1", layout="1DK")
    assert staff_client.post(f"/staff/estates/units/{uid}/edit", data=data, headers=HX).status_code == 200
    data = estate_form(staff_client, ward=str(city["wards"]["kawasaki"]), code="HACKED", name="市営南住宅")
    assert staff_client.post(f"/staff/estates/{eid}/edit", data=data, headers=HX).status_code == 200
    with opened(app):
        assert Unit.get_by_id(uid).building_id == city["buildings"]["s1"]
        assert Estate.get_by_id(eid).code == "31001"


# --- the service on both engines -------------------------------------------------------------------------------------


def test_the_service_on_each_engine(engine_db):
    """Counts, the vacancy query, the pages, a save with its history and the status rule, on SQLite
    and PostgreSQL (aggregates, CASE, LENGTH ordering, decimals as each engine returns them)."""
    from services import editing
    from tests.factories import make_account

    ward = make_ward(code="14135", name="多摩区")
    estate = make_estate(ward, code="35001", name="市営多摩住宅")
    low = make_building(estate, number="2", floors=3)
    high = make_building(estate, number="10", floors=8, has_elevator=True)
    a = make_unit(low, housing_code="A1", room_number="101", floor=1, layout="2DK", floor_area="45.50")
    make_unit(high, housing_code="B1", room_number="801", floor=8, layout="3DK", floor_area="66.00")
    c = make_unit(high, housing_code="B2", room_number="802", floor=8, status="occupied")
    make_tenancy(make_household(), c)
    figure(a, coefficient="0.850", rent=70_000)

    (row,) = service.estates(ward_id=ward.id).rows
    assert (row.buildings, row.units, row.vacant, row.occupied) == (2, 3, 2, 1)
    page = service.vacancies(service.VacancyFilters(ward_id=ward.id), fiscal_year=FY)
    assert [r.housing_code for r in page.rows] == ["A1", "B1"]  # building "2" before "10"
    assert page.rows[0].convenience_coefficient == Decimal("0.850") and page.rows[0].market_rent == 70_000
    assert page.rows[1].convenience_coefficient is None
    elevator = service.vacancies(
        service.VacancyFilters(elevator=True, min_area=Decimal("60")), fiscal_year=FY
    )
    assert [r.housing_code for r in elevator.rows] == ["B1"]

    estate_page = service.load_estate(estate.id)
    assert [b.building.number for b in estate_page.buildings] == ["2", "10"]
    assert estate_page.buildings[0].units[0].figure.market_rent == 70_000

    staff = make_account("staff")
    unit = Unit.get_by_id(a.id)
    values = {
        "housing_code": "A1",
        "room_number": "101",
        "floor": 1,
        "layout": "2DK",
        "floor_area": Decimal("45.50"),
        "unit_type": "general",
        "status": "vacant",
        "note": None,
    }
    assert service.save_unit(unit, 1, values, actor=staff) == {}  # 45.50 is what is stored: no change
    changes = service.save_unit(unit, 1, {**values, "floor_area": Decimal("46.00")}, actor=staff)
    assert list(changes) == ["floor_area"]
    occupied = Unit.get_by_id(c.id)
    with pytest.raises(editing.RuleViolation) as refused:
        service.save_unit(occupied, 1, {"status": "vacant"}, actor=staff)
    assert refused.value.field == "status"
    unit_page = service.load_unit(a.id)
    (change,) = unit_page.unit_changes
    assert change.actor_login == staff.login_id
    assert [(line.label, Decimal(line.before), Decimal(line.after)) for line in change.lines] == [
        ("床面積(㎡)", Decimal("45.5"), Decimal("46"))
    ]
    assert Unit.get_by_id(a.id).floor_area == Decimal("46.00")


def test_the_pages_in_english(staff_client, city):
    staff_client.post("/language", data={"lang": "en", "csrf_token": csrf_token_of(staff_client)})
    uid, eid = city["units"]["s101"], city["estates"]["south"]
    for url in (
        "/staff/estates/",
        "/staff/estates/vacancies",
        f"/staff/estates/{eid}",
        f"/staff/estates/units/{uid}",
        f"/staff/estates/units/{uid}/edit",
        f"/staff/estates/units/{uid}/figures/new",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="en">' in text_of(response)
