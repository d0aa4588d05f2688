"""マスタ (SPEC §4): officers add a version from a future date and edit or delete it until its day; a
version in force never changes; the tables are checked as a whole; stale forms answer 409; the history of
each version comes from the audit trail; staff read, never change."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager
from decimal import Decimal

import pytest

from extensions import db
from models import AuditEntry, MasterParameter, OverIncomeRate, RentBaseBand, SalaryIncomeBand
from rules.filters import today_tokyo
from services import master_edits, masters
from tests.conftest import csrf_token_of

HX = {"HX-Request": "true"}
TODAY = today_tokyo()
TOMORROW = TODAY + dt.timedelta(days=1)
# The next 1 April to come (2027-04-01 when the suite runs in the fiscal year 2026).
NEXT_APRIL = dt.date(TODAY.year + (1 if dt.date(TODAY.year, 4, 1) <= TODAY else 0), 4, 1)
LOCATION = "/staff/masters/parameters/location_coefficient"


def post(client, url, data, htmx=True):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data}, headers=HX if htmx else {})


def toast(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


@contextmanager
def opened(app):
    """An app context with an open connection, for reading the database directly."""
    with app.app_context(), db.connection_context():
        yield


def parameter_rows(app, code="location_coefficient") -> list[MasterParameter]:
    with opened(app):
        return list(
            MasterParameter.select().where(MasterParameter.code == code).order_by(MasterParameter.valid_from)
        )


def new_location(client, valid_from=NEXT_APRIL, value="1.15", htmx=True, **extra):
    data = {"valid_from": valid_from.isoformat(), "value": value, "basis": "条例改正（立地係数の見直し）"}
    data.update(extra)
    return post(client, f"{LOCATION}/new", data, htmx=htmx)


# --- scalar parameters ----------------------------------------------------------------------------------


def test_an_officer_adds_a_location_coefficient_from_next_april(app, officer_client):
    form = officer_client.get(f"{LOCATION}/new", headers=HX)
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    assert 'value="1.000000"' in form.get_data(as_text=True)  # pre-filled with the value in force

    response = new_location(officer_client)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#versions" and toast(response) == "新しい版を登録しました。"
    assert 'id="versions"' in html and "予定" in html and "1.15" in html

    with opened(app):
        assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1.15")
        assert masters.parameter("location_coefficient", NEXT_APRIL - dt.timedelta(days=1)) == Decimal("1")
        assert masters.parameter("location_coefficient", dt.date(2026, 4, 1)) == Decimal("1")
        (entry,) = AuditEntry.select().where(AuditEntry.action == "master_parameter.create")
        assert entry.actor_login == officer_client.user.login_id
        assert entry.target_table == "master_parameter"
        changes = json.loads(entry.changes)
        assert changes["master_parameter.value"] == [None, "1.15"]
        assert changes["master_parameter.valid_from"] == [None, NEXT_APRIL.isoformat()]

    page = officer_client.get(LOCATION).get_data(as_text=True)
    assert "適用中" in page and "予定" in page and "令和" in page and NEXT_APRIL.isoformat() in page
    index = officer_client.get("/staff/masters/").get_data(as_text=True)
    assert "立地係数" in index and "1.15" in index  # listed among the coming versions


def test_without_javascript_a_new_version_redirects_to_the_page(app, officer_client):
    response = new_location(officer_client, htmx=False)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{LOCATION}#versions")
    page = officer_client.get(LOCATION).get_data(as_text=True)
    assert "新しい版を登録しました。" in page
    whole = officer_client.get(f"{LOCATION}/new")
    assert whole.status_code == 200 and "<html" in whole.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "valid_from", "message"),
    [
        ("1.7", NEXT_APRIL, "0.7から1.6までの値にしてください（令2条1項2号）。"),
        ("0.69", NEXT_APRIL, "0.7から1.6までの値にしてください（令2条1項2号）。"),
        ("1.15", TODAY, "適用開始日は明日"),
        ("1.15", dt.date(2009, 4, 1), "適用開始日は明日"),
        ("abc", NEXT_APRIL, "数で入力してください"),
    ],
)
def test_invalid_versions_are_422_beside_the_field_and_nothing_written(
    app, officer_client, value, valid_from, message
):
    response = new_location(officer_client, valid_from=valid_from, value=value)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(parameter_rows(app)) == 1


def test_a_second_version_on_the_same_day_is_refused(app, officer_client):
    assert new_location(officer_client).status_code == 200
    response = new_location(officer_client, value="1.2")
    assert response.status_code == 422 and "すでにあります" in response.get_data(as_text=True)


def test_integer_and_flag_parameters_are_checked(app, officer_client):
    url = "/staff/masters/parameters/income_limit.general/new"
    data = {"valid_from": NEXT_APRIL.isoformat(), "basis": "条例"}
    response = post(officer_client, url, {**data, "value": "158000.5"})
    assert response.status_code == 422 and "整数で入力" in response.get_data(as_text=True)
    flag = post(
        officer_client, "/staff/masters/parameters/over_income_count_resets/new", {**data, "value": "2"}
    )
    assert flag.status_code == 422 and "0、1" in flag.get_data(as_text=True)
    months = post(officer_client, "/staff/masters/parameters/eviction.min_months/new", {**data, "value": "5"})
    assert months.status_code == 422 and "法29条3項" in months.get_data(as_text=True)
    ok = post(officer_client, url, {**data, "value": "160,000"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    with opened(app):
        assert masters.parameter("income_limit.general", NEXT_APRIL) == 160_000


def test_a_version_in_force_is_read_only(app, officer_client):
    (row,) = parameter_rows(app)  # 2009-04-01, in force today
    for path in ("edit", "delete"):
        response = officer_client.get(f"/staff/masters/parameters/{row.id}/{path}", headers=HX)
        assert response.status_code == 409
        assert "適用が始まった版は" in response.get_data(as_text=True)
        posted = post(
            officer_client,
            f"/staff/masters/parameters/{row.id}/{path}",
            {"version": "1", "valid_from": NEXT_APRIL.isoformat(), "value": "1.3", "basis": "x"},
        )
        assert posted.status_code == 409
    with opened(app), pytest.raises(master_edits.RuleViolation):
        master_edits.save_parameter(row, 1, {"valid_from": NEXT_APRIL, "value": Decimal("1.3")})
    (after,) = parameter_rows(app)
    assert after.value == Decimal("1") and after.version == 1
    page = officer_client.get(LOCATION).get_data(as_text=True)
    assert f"/staff/masters/parameters/{row.id}/edit" not in page  # no link to a change that would be refused


def test_a_future_version_is_edited_then_deleted_and_the_history_says_who_and_what(app, officer_client):
    assert new_location(officer_client).status_code == 200
    row = parameter_rows(app)[-1]
    url = f"/staff/masters/parameters/{row.id}/edit"
    form = officer_client.get(url, headers=HX)
    assert form.status_code == 200 and 'value="1.150000"' in form.get_data(as_text=True)
    response = post(
        officer_client,
        url,
        {"version": "1", "valid_from": NEXT_APRIL.isoformat(), "value": "1.2", "basis": "条例改正"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "変更履歴" in html and officer_client.user.login_id in html
    assert "1.15" in html and "1.2" in html  # before → after
    with opened(app):
        assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1.2")

    delete = post(officer_client, f"/staff/masters/parameters/{row.id}/delete", {"version": "2"})
    html = delete.get_data(as_text=True)
    assert delete.status_code == 200, html
    assert "削除した版" in html  # the deleted version's history stays on the page
    assert len(parameter_rows(app)) == 1
    with opened(app):
        assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1")
        actions = [
            e.action
            for e in AuditEntry.select()
            .where(AuditEntry.target_table == "master_parameter")
            .order_by(AuditEntry.id)
        ]
        assert actions == ["master_parameter.create", "master_parameter.update", "master_parameter.delete"]


def test_a_stale_form_gets_a_409_with_both_versions(app, officer_client, make_user, login):
    assert new_location(officer_client).status_code == 200
    row = parameter_rows(app)[-1]
    other = app.test_client()
    login(other, make_user("officer"))
    url = f"/staff/masters/parameters/{row.id}/edit"
    data = {"valid_from": NEXT_APRIL.isoformat(), "basis": "条例改正"}
    first = post(other, url, {**data, "version": "1", "value": "1.25"})
    assert first.status_code == 200
    late = post(officer_client, url, {**data, "version": "1", "value": "1.3"})
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html and "1.3" in html and "1.25" in html
    with opened(app):
        assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1.25")
    again = post(officer_client, url, {**data, "version": "2", "value": "1.3"})
    assert again.status_code == 200
    stale_delete = post(other, f"/staff/masters/parameters/{row.id}/delete", {"version": "2"})
    assert stale_delete.status_code == 409 and len(parameter_rows(app)) == 2


def test_staff_read_the_masters_but_cannot_change_them(app, staff_client):
    for url in (
        "/staff/masters/",
        LOCATION,
        "/staff/masters/tables/rent-bands",
        "/staff/masters/tables/salary-bands",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert "新しい版" not in response.get_data(as_text=True)
    (row,) = parameter_rows(app)
    changes = [
        f"{LOCATION}/new",
        f"/staff/masters/parameters/{row.id}/edit",
        f"/staff/masters/parameters/{row.id}/delete",
        "/staff/masters/tables/rent-bands/new",
        f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/edit",
        f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/delete",
    ]
    for url in changes:
        assert staff_client.get(url, headers=HX).status_code == 403, url
    response = new_location(staff_client)
    assert response.status_code == 403
    assert len(parameter_rows(app)) == 1


def test_the_navigation_leads_to_the_masters(staff_client, contractor_client):
    assert 'href="/staff/masters/"' in staff_client.get("/").get_data(as_text=True)
    assert 'href="/staff/masters/"' not in contractor_client.get("/").get_data(as_text=True)
    assert contractor_client.get("/staff/masters/").status_code == 403


def test_unknown_parameters_kinds_and_versions_are_404(officer_client):
    for url in (
        "/staff/masters/parameters/no_such_code",
        "/staff/masters/parameters/no_such_code/new",
        "/staff/masters/parameters/999999/edit",
        "/staff/masters/tables/no-such-table",
        "/staff/masters/tables/rent-bands/2009-13-01/edit",
        "/staff/masters/tables/rent-bands/2099-04-01/edit",
        "/staff/masters/tables/salary-bands/20x5/edit",
    ):
        assert officer_client.get(url).status_code == 404, url


# --- tables ----------------------------------------------------------------------------------------------


def rent_rows(app, key) -> list[RentBaseBand]:
    with opened(app):
        return list(
            RentBaseBand.select().where(RentBaseBand.valid_from == key).order_by(RentBaseBand.bracket)
        )


def rent_form(rows, stamp, **overrides) -> dict:
    data = {"stamp": stamp}
    for i, row in enumerate(rows):
        data[f"rows-{i}-income_min"] = str(row.income_min)
        data[f"rows-{i}-income_max"] = "" if row.income_max is None else str(row.income_max)
        data[f"rows-{i}-base_amount"] = str(row.base_amount)
    data.update(overrides)
    return data


def copy_rent_bands(client, key=NEXT_APRIL):
    return post(client, "/staff/masters/tables/rent-bands/new", {"key": key.isoformat()})


def test_a_table_version_is_copied_from_the_one_in_force_then_edited(app, officer_client):
    response = copy_rent_bands(officer_client)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "行を確認して保存してください" in toast(response)
    assert 'name="rows-7-base_amount"' in html and 'value="91100"' in html  # the edit form follows
    rows = rent_rows(app, NEXT_APRIL)
    assert [r.base_amount for r in rows] == [34400, 39700, 45400, 51200, 58500, 67500, 79000, 91100]
    with opened(app):
        assert AuditEntry.select().where(AuditEntry.action == "rent_base_band.create").count() == 8

    url = f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/edit"
    stamp = master_edits.stamp_of(rows)
    response = post(officer_client, url, rent_form(rows, stamp, **{"rows-2-base_amount": "46,000"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert toast(response) == "版を保存しました。"
    assert "¥45,400" in html and "¥46,000" in html  # the version's history: before → after
    assert officer_client.user.login_id in html
    with opened(app):
        assert masters.rent_bands(NEXT_APRIL)[2].base_amount == 46_000
        assert masters.rent_bands(TODAY)[2].base_amount == 45_400  # the version in force is untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rows-1-income_min": "100000"}, "前の区分と重なっています。104,001円から始めてください。"),
        ({"rows-1-income_min": "105000"}, "前の区分との間にすき間があります。104,001円から始めてください。"),
        ({"rows-0-income_min": "1"}, "最初の区分は0円から始めてください。"),
        ({"rows-7-income_max": "400000"}, "最後の区分の上限は空欄にしてください"),
        ({"rows-3-income_max": ""}, "上限を入力してください"),
        ({"rows-4-base_amount": "50000"}, "家賃算定基礎額は上の区分ほど高くしてください。"),
        ({"rows-4-base_amount": ""}, "入力してください。"),
    ],
)
def test_bands_that_overlap_or_leave_gaps_are_refused(app, officer_client, overrides, message):
    assert copy_rent_bands(officer_client).status_code == 200
    rows = rent_rows(app, NEXT_APRIL)
    url = f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/edit"
    response = post(officer_client, url, rent_form(rows, master_edits.stamp_of(rows), **overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert [r.version for r in rent_rows(app, NEXT_APRIL)] == [1] * 8  # nothing written


def test_a_table_version_in_force_is_read_only_and_a_new_one_starts_tomorrow(app, officer_client):
    in_force = "/staff/masters/tables/rent-bands/2009-04-01/edit"
    assert officer_client.get(in_force, headers=HX).status_code == 409
    rows = rent_rows(app, dt.date(2009, 4, 1))
    response = post(
        officer_client, in_force, rent_form(rows, master_edits.stamp_of(rows), **{"rows-0-base_amount": "1"})
    )
    assert response.status_code == 409
    assert rent_rows(app, dt.date(2009, 4, 1))[0].base_amount == 34_400
    today = copy_rent_bands(officer_client, TODAY)
    assert today.status_code == 422 and "適用開始日は明日" in today.get_data(as_text=True)
    assert copy_rent_bands(officer_client, TOMORROW).status_code == 200
    again = copy_rent_bands(officer_client, TOMORROW)
    assert again.status_code == 422 and "すでにあります" in again.get_data(as_text=True)


def test_a_stale_table_form_gets_a_409(app, officer_client, make_user, login):
    assert copy_rent_bands(officer_client).status_code == 200
    rows = rent_rows(app, NEXT_APRIL)
    stamp = master_edits.stamp_of(rows)
    url = f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/edit"
    other = app.test_client()
    login(other, make_user("officer"))
    assert post(other, url, rent_form(rows, stamp, **{"rows-0-base_amount": "35,000"})).status_code == 200
    late = post(officer_client, url, rent_form(rows, stamp, **{"rows-0-base_amount": "36,000"}))
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "ほかの職員が先に保存しました" in html
    assert "36,000" in html and "35,000" in html
    assert rent_rows(app, NEXT_APRIL)[0].base_amount == 35_000
    fresh = rent_rows(app, NEXT_APRIL)
    again = post(
        officer_client,
        url,
        rent_form(fresh, master_edits.stamp_of(fresh), **{"rows-0-base_amount": "36,000"}),
    )
    assert again.status_code == 200 and rent_rows(app, NEXT_APRIL)[0].base_amount == 36_000
    stale_delete = post(
        officer_client, f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/delete", {"stamp": stamp}
    )
    assert stale_delete.status_code == 409 and len(rent_rows(app, NEXT_APRIL)) == 8


def test_a_future_table_version_is_deleted_with_its_history_kept(app, officer_client):
    assert copy_rent_bands(officer_client).status_code == 200
    rows = rent_rows(app, NEXT_APRIL)
    url = f"/staff/masters/tables/rent-bands/{NEXT_APRIL.isoformat()}/delete"
    assert officer_client.get(url, headers=HX).status_code == 200
    response = post(officer_client, url, {"stamp": master_edits.stamp_of(rows)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert rent_rows(app, NEXT_APRIL) == [] and "削除した版" in html
    with opened(app):
        assert AuditEntry.select().where(AuditEntry.action == "rent_base_band.delete").count() == 8


def over_income_form(rows, stamp, **overrides) -> dict:
    data = {"stamp": stamp}
    for row in rows:
        i = row.band - 1
        data[f"rows-{i}-income_min"] = str(row.income_min)
        data[f"rows-{i}-income_max"] = "" if row.income_max is None else str(row.income_max)
        data[f"rows-{i}-year_{row.year_over}"] = f"{row.numerator}/{row.denominator}"
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"rows-0-year_2": "1/10"}, 422, "超過年数が進むほど割合を大きく"),
        ({"rows-0-year_5": "4/5"}, 422, "最後の年の割合は1"),
        ({"rows-0-year_1": "6/5"}, 422, "割合は0以上1以下の分数"),
        ({"rows-1-year_1": "1/10"}, 422, "政令月収の高い区分ほど割合を大きく"),
        ({"rows-0-year_1": "一割"}, 422, "割合は分数で入力してください"),
        ({"rows-0-year_1": "１／６"}, 200, ""),
    ],
)
def test_over_income_shares_are_checked(app, officer_client, overrides, status, message):
    response = post(
        officer_client, "/staff/masters/tables/over-income-rates/new", {"key": NEXT_APRIL.isoformat()}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    with opened(app):
        rows = list(OverIncomeRate.select().where(OverIncomeRate.valid_from == NEXT_APRIL))
    assert len(rows) == 20
    url = f"/staff/masters/tables/over-income-rates/{NEXT_APRIL.isoformat()}/edit"
    response = post(officer_client, url, over_income_form(rows, master_edits.stamp_of(rows), **overrides))
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.get_data(as_text=True)
    if status == 200:
        with opened(app):
            (band,) = [b for b in masters.over_income_bands(NEXT_APRIL) if b.band == 1]
            assert band.share(1) == (1, 6)
            assert masters.over_income_bands(TODAY)[0].share(1) == (1, 5)


def salary_form(rows, stamp, extra=(), **overrides) -> dict:
    data = {"stamp": stamp}
    for i, row in enumerate(rows):
        data[f"rows-{i}-row_id"] = str(row.id)
        data[f"rows-{i}-revenue_min"] = str(row.revenue_min)
        data[f"rows-{i}-revenue_max"] = "" if row.revenue_max is None else str(row.revenue_max)
        data[f"rows-{i}-round_to"] = str(row.round_to)
        data[f"rows-{i}-rate"] = str(row.rate)
        data[f"rows-{i}-offset"] = str(row.offset)
    for j, values in enumerate(extra, start=len(rows)):
        data.update({f"rows-{j}-{k}": v for k, v in values.items()})
    data.update(overrides)
    return data


def test_income_year_tables_lock_once_the_year_is_over(app, officer_client):
    # Incomes of last year are being declared: their table is in force and read-only.
    last_year = TODAY.year - 1
    with opened(app):
        page = master_edits.table_page(master_edits.KINDS["salary-bands"])
    assert page.current is not None and page.current.key <= last_year
    assert (
        officer_client.get(
            f"/staff/masters/tables/salary-bands/{page.current.key}/edit", headers=HX
        ).status_code
        == 409
    )
    refused = post(officer_client, "/staff/masters/tables/salary-bands/new", {"key": str(last_year)})
    assert refused.status_code == 422 and f"{TODAY.year}年分以降" in refused.get_data(as_text=True)

    # This year's incomes: a new table can still be made, edited (a band split in two) and checked.
    assert (
        post(officer_client, "/staff/masters/tables/salary-bands/new", {"key": str(TODAY.year)}).status_code
        == 200
    )
    with opened(app):
        rows = list(
            SalaryIncomeBand.select()
            .where(SalaryIncomeBand.income_year_from == TODAY.year)
            .order_by(SalaryIncomeBand.revenue_min)
        )
    url = f"/staff/masters/tables/salary-bands/{TODAY.year}/edit"
    stamp = master_edits.stamp_of(rows)
    top = len(rows) - 1  # 8,500,000 and over: 収入 − 1,950,000
    split = [{"revenue_min": "20,000,000", "round_to": "1", "rate": "1", "offset": "-1,950,000"}]
    falling = salary_form(
        rows, stamp, split, **{f"rows-{top}-revenue_max": "19999999", "rows-5-offset": "-2000000"}
    )
    response = post(officer_client, url, falling)
    assert response.status_code == 422
    assert "給与所得が前の区分より小さくなります" in response.get_data(as_text=True)
    ok = post(officer_client, url, salary_form(rows, stamp, split, **{f"rows-{top}-revenue_max": "19999999"}))
    assert ok.status_code == 200, ok.get_data(as_text=True)
    with opened(app):
        assert (
            SalaryIncomeBand.select().where(SalaryIncomeBand.income_year_from == TODAY.year).count()
            == len(rows) + 1
        )
        assert masters.income_masters(TODAY.year).salary_bands[-1].revenue_min == 20_000_000
        assert masters.income_masters(last_year).salary_bands[-1].revenue_min == 8_500_000


def test_versions_and_their_history_on_each_engine(engine_db):
    """Copy, save, read back and delete a version on SQLite and PostgreSQL (dates, decimals, the trail)."""
    kind = master_edits.KINDS["rent-bands"]
    master_edits.copy_version(kind, NEXT_APRIL)
    rows = list(
        RentBaseBand.select().where(RentBaseBand.valid_from == NEXT_APRIL).order_by(RentBaseBand.bracket)
    )
    values = [
        {"income_min": r.income_min, "income_max": r.income_max, "base_amount": r.base_amount} for r in rows
    ]
    values[0]["base_amount"] = 35_000
    stamp = {r.id: r.version for r in rows}
    changed = master_edits.save_rent_bands(NEXT_APRIL, stamp, values)
    assert list(changed) == [rows[0].id]
    with pytest.raises(master_edits.ConflictError):
        master_edits.save_rent_bands(NEXT_APRIL, stamp, values)  # the same stamp again is stale
    page = master_edits.table_page(kind)
    version = page.version(NEXT_APRIL)
    assert version.state == "future" and page.current.key == dt.date(2009, 4, 1)
    lines = [(line.label, line.before, line.after) for e in version.changes for line in e.lines]
    assert ("家賃算定基礎額", "¥34,400", "¥35,000") in lines
    master_edits.add_parameter("location_coefficient", {"valid_from": NEXT_APRIL, "value": Decimal("1.05")})
    assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1.05")
    master_edits.delete_version(
        kind,
        NEXT_APRIL,
        {r.id: r.version for r in RentBaseBand.select().where(RentBaseBand.valid_from == NEXT_APRIL)},
    )
    page = master_edits.table_page(kind)
    assert page.version(NEXT_APRIL) is None and page.deleted
