"""Estates in Chromium: the lists, an estate's page, and a unit's 利便性係数 edited inline (422 beside the
field, then saved with a toast and a history line); the same kind of edit with JavaScript off."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from extensions import db
from models import Unit, UnitYearFigure
from services import estates as service
from tests.e2e.helpers import without_javascript
from tests.e2e.test_household_edit_browser import sign_in_staff
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_edit_a_units_convenience_coefficient_inline(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    sign_in_staff(app, page, origin)

    # The menu leads to the estates; the list shows each estate's counts.
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="団地・住戸").click()
    page.wait_for_url(origin + "/staff/estates/")
    assert page.get_by_role("heading", name="団地・住戸", level=1).is_visible()
    assert page.locator("table.estate-list tbody tr").count() >= 10
    screenshot("estates-list", full_page=True)

    page.locator("table.estate-list tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/staff/estates/\d+$"))
    for heading in ("団地の情報", "棟", "住戸"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    screenshot("estate-page", full_page=True)

    # The estate's facts inline: postal code → address suggestion, saved with a toast and history.
    facts = page.locator("section#estate")
    facts.get_by_role("link", name="団地の情報を編集").click()
    facts.locator("form.inline-edit__form").wait_for()
    facts.get_by_label("郵便番号").fill("2108577")
    facts.get_by_label("郵便番号").dispatch_event("change")
    facts.get_by_role("button", name="この住所を入れる").click()
    assert facts.get_by_label("所在地").input_value() == "神奈川県川崎市川崎区宮本町"
    facts.get_by_label("所在地").fill("神奈川県川崎市川崎区宮本町1番地")
    facts.get_by_label("自治会").fill("宮本町自治会")
    screenshot("estate-edit")
    facts.get_by_role("button", name="保存").click()
    page.locator("#toast-region .toast--success").wait_for()
    facts = page.locator("section#estate")
    assert "宮本町自治会" in facts.inner_text() and facts.locator("form").count() == 0
    facts.locator(".file-changes__summary").click()
    assert "宮本町自治会" in facts.locator(".file-changes__entry").first.inner_text()

    # A building cannot get lower than its highest unit: the message beside 階数.
    buildings = page.locator("section#buildings")
    buildings.get_by_role("link", name=re.compile("号棟を編集")).first.click()
    buildings.locator("form.inline-edit__form").wait_for()
    buildings.get_by_label("階数").fill("1")
    buildings.get_by_role("button", name="保存").click()
    buildings.locator("#floors-error").wait_for()
    assert "階数は" in buildings.locator("#floors-error").inner_text()
    screenshot("building-edit-422")
    buildings.get_by_role("link", name="取消").click()
    buildings.locator("form").wait_for(state="detached")
    # A new 棟番号: the units section below follows (swapped out of band with the buildings).
    buildings.get_by_role("link", name=re.compile("号棟を編集")).first.click()
    buildings.locator("form.inline-edit__form").wait_for()
    buildings.get_by_label("棟番号").fill("99")
    buildings.get_by_role("button", name="保存").click()
    page.locator("#toast-region .toast--success", has_text="棟の情報を保存しました。").wait_for()
    assert page.locator("section#units").get_by_role("heading", name=re.compile("^99号棟")).is_visible()

    # The vacancy list, filtered to units with an elevator.
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="空き住戸").click()
    page.wait_for_url(origin + "/staff/estates/vacancies")
    page.get_by_label("エレベーターのある棟").check()
    page.get_by_role("button", name="表示").click()
    page.wait_for_url(re.compile(r".*/staff/estates/vacancies\?.*elevator=y.*"))
    rows = page.locator("table.vacancy-list tbody tr")
    assert rows.count() >= 1
    screenshot("vacancies", full_page=True)

    # A vacant unit's page; its figure of this fiscal year edited inline.
    rows.first.get_by_role("link", name=re.compile("号室")).click()
    page.wait_for_url(re.compile(r".*/staff/estates/units/\d+$"))
    uid = int(page.url.rsplit("/", 1)[1])
    url = page.url
    year = service.current_fiscal_year()
    from rules import wareki

    section = page.locator("section#figures")
    section.get_by_role("link", name=f"{wareki.fiscal_year_label(year)}の数値を編集").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url == url  # htmx: no navigation

    form.get_by_label("利便性係数").fill("1.5")
    form.get_by_role("button", name="保存").click()
    error = section.locator("#convenience_coefficient-error")
    error.wait_for()
    assert "0.500から1.300までの数で入力してください。" in error.inner_text()
    assert section.get_by_label("利便性係数").input_value() == "1.5"
    screenshot("unit-figure-422")

    section.get_by_label("利便性係数").fill("０．７７７")
    section.get_by_role("button", name="保存").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "年度の数値を保存しました。" in toast.inner_text()
    section = page.locator("section#figures")
    assert section.locator("form").count() == 0
    assert "0.777" in section.locator("table.figure-table").inner_text()
    section.locator(".file-changes__summary").click()
    entry = section.locator(".file-changes__entry").first
    assert "saiwai" in entry.inner_text() and "0.777" in entry.inner_text()
    assert wareki.fiscal_year_label(year) in entry.inner_text()
    screenshot("unit-figure-saved", full_page=True)
    with app.app_context(), db.connection_context():
        figure = UnitYearFigure.get((UnitYearFigure.unit == uid) & (UnitYearFigure.fiscal_year == year))
        assert figure.convenience_coefficient == Decimal("0.777")
    # The browser logs the deliberate 422; anything else (a CSP violation, a script error) fails.
    assert [p for p in problems if "422" not in p] == []


def test_edit_a_unit_without_javascript(app, browser, page, origin, authenticator, screenshot):  # noqa: F811
    sign_in_staff(app, page, origin, login_id="saiwai2")
    with app.app_context(), db.connection_context():
        uid = Unit.select(Unit.id).where(Unit.status == "vacant").order_by(Unit.id).first().id
    plain = without_javascript(browser, page)
    nojs = plain.new_page()
    try:
        nojs.goto(f"{origin}/staff/estates/units/{uid}")
        nojs.locator("section#unit").get_by_role("link", name="住戸の情報を編集").click()
        nojs.wait_for_url(f"{origin}/staff/estates/units/{uid}/edit")
        nojs.get_by_label("状態").select_option("repair")
        nojs.get_by_label("備考").fill("浴室の改修中")
        screenshot("unit-edit-nojs", target=nojs)
        nojs.get_by_role("button", name="保存").click()
        nojs.wait_for_url(f"{origin}/staff/estates/units/{uid}#unit")
        assert "住戸の情報を保存しました。" in nojs.locator(".flash-list").inner_text()
        assert "浴室の改修中" in nojs.locator("section#unit").inner_text()
    finally:
        plain.close()
    with app.app_context(), db.connection_context():
        assert Unit.get_by_id(uid).status == "repair"
