"""収入申告 in Chromium: a two-member household's incomes entered inline (422 beside the field, the saved
section with 政令月収 and 区分, a correction that moves them), a remote dependent's row added, and the
same entry without JavaScript. Screenshots at 1366×768 (SCREENSHOT_DIR=/tmp/shots/income to keep them)."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import IncomeDeclaration
from tests.e2e.helpers import enroll_and_sign_in, without_javascript
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_household, make_person, make_tenancy

pytestmark = pytest.mark.browser


def sign_in_staff(app, page, origin):  # noqa: F811
    """Enroll a staff member with the virtual authenticator and sign in."""
    enroll_and_sign_in(app, page, origin, login_id="shunyu", name="収入 担当")


def couple(app) -> int:
    """A salaried head and a pensioner spouse (70 at the end of 2025), with a tenancy."""
    with app.app_context(), db.connection_context():
        household = make_household()
        make_tenancy(household)
        make_person(household, name="川崎 太郎", birth_date=dt.date(1975, 5, 1))
        make_person(
            household, name="川崎 花子", name_kana="カワサキ ハナコ", kana_key="カワサキハナコ", sex="female",
            relation="spouse", is_head=False, birth_date=dt.date(1955, 3, 1),
        )  # fmt: skip
        return household.id


def stored(app, hid):
    with app.app_context(), db.connection_context():
        return IncomeDeclaration.get_or_none(IncomeDeclaration.household == hid)


def test_enter_a_two_member_household_inline(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    sign_in_staff(app, page, origin)
    hid = couple(app)
    page.goto(f"{origin}/staff/household/{hid}#income")
    section = page.locator("section#income")
    section.get_by_role("link", name="新しい年度の申告を入力").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url.startswith(f"{origin}/staff/household/{hid}")  # htmx: no navigation
    assert form.locator("[data-testid=income-member]").count() == 2
    form.get_by_label("提出日").fill("令和8年7月15日")

    # Invalid input: 422, the message beside the field, nothing saved.
    form.locator("#members-0-salary_revenue").fill("３５０万")
    form.locator("#members-1-pension_revenue").fill("2,000,000")
    form.get_by_role("button", name="保存", exact=True).click()
    error = section.locator("#members-0-salary_revenue-error")
    error.wait_for()
    assert "金額は0以上の整数（円）で入力してください。" in error.inner_text()
    assert section.locator("#members-0-salary_revenue").input_value() == "３５０万"
    screenshot("income-form-422", target=section)
    assert stored(app, hid) is None

    # Full-width with 円 is fine.
    section.locator("#members-0-salary_revenue").fill("３，５００，０００円")
    section.get_by_role("button", name="保存", exact=True).click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "政令月収 224,166円・収入分位 7" in toast.inner_text()
    section = page.locator("section#income")
    assert section.locator("form").count() == 0
    assert section.locator("[data-testid=seirei-getsushu]").inner_text() == "¥224,166"
    assert section.locator("[data-testid=bracket]").inner_text() == "7"
    section.locator("[data-testid=income-explanation] summary").click()
    assert "名義人 = 川崎 太郎" in section.locator("[data-testid=income-explanation]").inner_text()
    screenshot("income-saved", target=section)

    # A correction: the spouse's pension rises, a remote dependent is added; 政令月収 and 区分 move.
    section.locator("[data-testid=income-year-2026] .income-year__head a").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    form.locator("#members-1-pension_revenue").fill("3,000,000")
    form.get_by_role("button", name="遠隔地扶養親族を追加").click()
    section.locator("#remote-0-name").wait_for()
    assert section.locator("#members-1-pension_revenue").input_value() == "3,000,000"  # kept
    section.locator("#remote-0-name").fill("山田　一郎")
    section.locator("#remote-0-birth_date").fill("昭和20年1月1日")
    screenshot("income-form-edit", target=section)
    section.get_by_role("button", name="保存", exact=True).click()
    page.locator("#toast-region .toast--success", has_text="267,500").wait_for()
    section = page.locator("section#income")
    # 2,370,000 + 1,900,000 − (580,000 + 480,000) = 3,210,000 → 267,500 → 区分8.
    assert section.locator("[data-testid=seirei-getsushu]").inner_text() == "¥267,500"
    assert section.locator("[data-testid=bracket]").inner_text() == "8"
    section.locator(".file-changes__summary").click()
    history = section.locator(".file-changes__entry").first.inner_text()
    assert "shunyu" in history
    screenshot("income-corrected", target=section)
    page.set_viewport_size({"width": 1366, "height": 768})
    screenshot("income-page", full_page=False)
    declaration = stored(app, hid)
    assert (declaration.seirei_getsushu, declaration.bracket, declaration.version) == (267_500, 8, 2)
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose


def test_the_same_entry_without_javascript(app, browser, page, origin, authenticator, screenshot):  # noqa: F811
    sign_in_staff(app, page, origin)
    hid = couple(app)
    plain = without_javascript(browser, page)
    nojs = plain.new_page()
    try:
        nojs.goto(f"{origin}/staff/household/{hid}")
        nojs.locator("section#income").get_by_role("link", name="新しい年度の申告を入力").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}/income/new")
        nojs.get_by_label("提出日").fill("2026-07-15")
        nojs.locator("#members-0-salary_revenue").fill("3,500,000")
        nojs.get_by_role("button", name="遠隔地扶養親族を追加").click()  # the form comes back with a row
        nojs.locator("#remote-0-name").wait_for()
        assert nojs.locator("#members-0-salary_revenue").input_value() == "3,500,000"
        screenshot("income-nojs-form", target=nojs, full_page=True)
        nojs.locator("#members-1-pension_revenue").fill("2,000,000")
        nojs.get_by_role("button", name="保存", exact=True).click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}#income")
        assert "政令月収 224,166円・収入分位 7" in nojs.locator(".flash-list").inner_text()
        assert nojs.locator("section#income [data-testid=seirei-getsushu]").inner_text() == "¥224,166"
    finally:
        plain.close()
    assert stored(app, hid).seirei_getsushu == 224_166
