"""Inline editing in Chromium: the 世帯 section edited with htmx (422 beside the fields, the toast,
the history line), a conflict between two people, and the same edit with JavaScript off."""

from __future__ import annotations

import pytest

from extensions import db
from models import Household
from tests.e2e.helpers import enroll_and_sign_in, without_javascript
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.test_household_page import full_household

pytestmark = pytest.mark.browser


def sign_in_staff(app, page, origin, login_id="saiwai"):  # noqa: F811
    """Seed the demo city, enroll a staff member with the virtual authenticator and sign in."""
    enroll_and_sign_in(app, page, origin, login_id=login_id, seed=True)
    return full_household(app)


def phone_of(app, hid) -> str | None:
    with app.app_context(), db.connection_context():
        return Household.get_by_id(hid).contact_phone


def test_edit_the_household_section_inline(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    hid = sign_in_staff(app, page, origin)
    page.goto(f"{origin}/staff/household/{hid}")
    section = page.locator("section#household")
    section.get_by_role("link", name="世帯の情報を編集").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url == f"{origin}/staff/household/{hid}"  # htmx: no navigation

    # Invalid input: 422, the message beside the field, the typed value kept, nothing saved.
    form.get_by_label("連絡先", exact=True).fill("12345")
    form.get_by_role("button", name="保存").click()
    error = section.locator("#contact_phone-error")
    error.wait_for()
    assert "電話番号は0から始まる10桁" in error.inner_text()
    assert section.get_by_label("連絡先", exact=True).input_value() == "12345"
    screenshot("household-edit-422", target=section)

    # Postal code → address suggestion, copied into the field with one click.
    section.get_by_label("送付先郵便番号").fill("2108577")
    section.get_by_label("送付先郵便番号").dispatch_event("change")
    section.get_by_role("button", name="この住所を入れる").click()
    assert section.get_by_label("送付先", exact=True).input_value() == "神奈川県川崎市川崎区宮本町"
    section.get_by_label("送付先", exact=True).fill("神奈川県川崎市川崎区宮本町1番地")

    section.get_by_label("連絡先", exact=True).fill("０４４−２００−２９４８")
    section.get_by_role("button", name="保存").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "世帯の情報を保存しました。" in toast.inner_text()
    section = page.locator("section#household")
    assert section.locator("form").count() == 0  # the form is gone, the section shows the saved data
    assert "044-200-2948" in section.inner_text()
    # The history line: who changed what.
    section.locator(".file-changes__summary").click()
    history = section.locator(".file-changes__entry").first
    assert "saiwai" in history.inner_text() and "044-200-2948" in history.inner_text()
    screenshot("household-edit-saved", target=section)
    assert phone_of(app, hid) == "0442002948"
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose


def test_a_conflict_shows_both_versions(app, page, origin, authenticator, problems):  # noqa: F811
    hid = sign_in_staff(app, page, origin)
    page.goto(f"{origin}/staff/household/{hid}")
    section = page.locator("section#household")
    section.get_by_role("link", name="世帯の情報を編集").click()
    section.locator("form.inline-edit__form").wait_for()
    # Someone else saves the household while the form is open.
    with app.app_context(), db.connection_context():
        household = Household.get_by_id(hid)
        household.contact_phone = "0451112222"
        household.save_versioned(household.version, only=[Household.contact_phone])
    section.get_by_label("連絡先", exact=True).fill("044-333-4444")
    section.get_by_role("button", name="保存").click()
    page.locator("#toast-region .toast--error").wait_for()
    table = section.locator(".conflict-table")
    table.wait_for()
    assert "044-333-4444" in table.inner_text() and "045-111-2222" in table.inner_text()
    assert phone_of(app, hid) == "0451112222"
    section.get_by_role("button", name="保存").click()  # a knowing overwrite
    page.locator("#toast-region .toast--success").wait_for()
    assert phone_of(app, hid) == "0443334444"
    assert [p for p in problems if "409" not in p] == []


def test_the_same_edit_without_javascript(app, browser, page, origin, authenticator, screenshot):  # noqa: F811
    hid = sign_in_staff(app, page, origin)
    plain = without_javascript(browser, page)
    nojs = plain.new_page()
    try:
        nojs.goto(f"{origin}/staff/household/{hid}")
        nojs.locator("section#household").get_by_role("link", name="世帯の情報を編集").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}/edit")
        nojs.get_by_label("連絡先", exact=True).fill("090-1234-5678")
        nojs.get_by_label("連絡先氏名").fill("幸　花子")
        nojs.get_by_role("button", name="保存").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}#household")
        assert "世帯の情報を保存しました。" in nojs.locator(".flash-list").inner_text()
        assert "090-1234-5678" in nojs.locator("section#household").inner_text()
        screenshot("household-edit-nojs", target=nojs)
    finally:
        plain.close()
    assert phone_of(app, hid) == "09012345678"
