"""In Chromium: register a bank transfer by searching the bank by kana and picking a branch (htmx),
confirm the converted holder name, see the section with names and the masked number; add a guarantor
with the postal-code suggestion; and the same registration with JavaScript off (codes typed)."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import BankTransfer, Guarantor
from tests.e2e.helpers import enroll_and_sign_in, without_javascript
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_household, make_person, make_tenancy

pytestmark = pytest.mark.browser


def sign_in(app, page, origin):  # noqa: F811
    """A household without guarantor or bank transfer; a staff member enrolled and signed in."""
    with app.app_context(), db.connection_context():
        household = make_household(household_no="H0000777")
        make_person(household, name="川崎　太郎", name_kana="カワサキ　タロウ")
        make_tenancy(household)
        hid = household.id
    enroll_and_sign_in(app, page, origin)
    return hid


def transfers_of(app, hid):
    with app.app_context(), db.connection_context():
        return list(BankTransfer.select().where(BankTransfer.household == hid))


def test_register_a_transfer_and_add_a_guarantor(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    hid = sign_in(app, page, origin)
    page.goto(f"{origin}/staff/household/{hid}#transfers")
    section = page.locator("section#transfers")
    section.get_by_role("link", name="口座振替を登録").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url.startswith(f"{origin}/staff/household/{hid}")  # htmx: no navigation

    # The bank by its reading, as people say it: results appear while typing.
    form.get_by_label("金融機関コード・名前").press_sequentially("みつい", delay=50)
    pick = form.locator("#transfer-bank-results").get_by_role("button", name="0009 三井住友")
    pick.wait_for()
    screenshot("transfer-bank-search")
    pick.click()
    section.get_by_test_id("chosen-bank").wait_for()
    assert "ミツイスミトモ" in section.get_by_test_id("chosen-bank").inner_text()

    # The branch, within that bank; its field has the focus after the bank was picked.
    branch_field = section.get_by_label("支店コード・名前")
    assert branch_field.evaluate("el => el === document.activeElement")
    branch_field.press_sequentially("かわさき", delay=50)
    branch = section.locator("#transfer-branch-results").get_by_role("button", name="755 川崎")
    branch.wait_for()
    branch.click()
    section.get_by_test_id("chosen-branch").wait_for()

    section.get_by_label("口座番号").fill("１２３４５６７")
    section.get_by_label("口座名義（カナ）").fill("かわさき　たろう")
    section.get_by_label("開始日").fill("令和8年4月1日")
    screenshot("transfer-form-filled")
    section.get_by_role("button", name="確認する", exact=True).click()
    confirm = section.get_by_test_id("transfer-confirm")
    confirm.wait_for()
    assert section.get_by_test_id("holder-kana").inner_text() == "ｶﾜｻｷ ﾀﾛｳ"
    assert "三井住友" in confirm.inner_text() and "川崎" in confirm.inner_text()
    screenshot("transfer-confirm")
    section.get_by_role("button", name="この内容で登録する").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "口座振替を登録しました。" in toast.inner_text()
    section = page.locator("section#transfers")
    assert section.locator("form").count() == 0
    row = section.locator("tbody tr").first
    assert "三井住友" in row.inner_text() and "****567" in row.inner_text() and "ｶﾜｻｷ ﾀﾛｳ" in row.inner_text()
    assert "1234567" not in section.inner_text()
    section.scroll_into_view_if_needed()
    screenshot("transfer-saved")
    (transfer,) = transfers_of(app, hid)
    assert (transfer.bank_code, transfer.branch_code, transfer.account_number) == ("0009", "755", "1234567")

    # A guarantor: the household is flagged until one is added.
    guarantors = page.locator("section#guarantors")
    assert "現在の連帯保証人・緊急連絡人が登録されていません。" in guarantors.inner_text()
    guarantors.get_by_role("link", name="連帯保証人・緊急連絡人を追加").click()
    guarantors.locator("form.inline-edit__form").wait_for()
    guarantors.get_by_label("種別").select_option(label="連帯保証人")
    guarantors.get_by_label("氏名 必須").fill("幸　一郎")
    guarantors.get_by_label("氏名カナ").fill("さいわい　いちろう")
    guarantors.get_by_label("生年月日").fill("昭和35年4月1日")
    guarantors.get_by_label("続柄").fill("兄")
    guarantors.get_by_label("電話番号").fill("044-200-2948")
    guarantors.get_by_role("button", name="保存").click()  # no address yet: 422 beside the field
    guarantors.locator("#guarantor_address-error").wait_for()
    assert (
        "連帯保証人は住所を入力してください。" in guarantors.locator("#guarantor_address-error").inner_text()
    )
    guarantors.get_by_label("郵便番号").fill("2108577")
    guarantors.get_by_label("郵便番号").dispatch_event("change")
    guarantors.get_by_role("button", name="この住所を入れる").click()
    guarantors.get_by_label("住所", exact=True).fill("神奈川県川崎市川崎区宮本町1番地")
    guarantors.get_by_label("就任日").fill("2024-04-01")
    screenshot("guarantor-form")
    guarantors.get_by_role("button", name="保存").click()
    page.locator(
        "#toast-region .toast--success", has_text="連帯保証人・緊急連絡人を登録しました。"
    ).wait_for()
    guarantors = page.locator("section#guarantors")
    assert "幸　一郎" in guarantors.inner_text() and "サイワイ　イチロウ" in guarantors.inner_text()
    assert "現在の連帯保証人・緊急連絡人が登録されていません。" not in guarantors.inner_text()
    guarantors.scroll_into_view_if_needed()
    screenshot("guarantor-saved")
    with app.app_context(), db.connection_context():
        (g,) = Guarantor.select().where(Guarantor.household == hid)
        assert (g.birth_date, g.postal_code) == (dt.date(1960, 4, 1), "2108577")
    assert [p for p in problems if "422" not in p] == []


def test_register_by_code_without_javascript(app, browser, page, origin, authenticator, screenshot):  # noqa: F811
    hid = sign_in(app, page, origin)
    plain = without_javascript(browser, page)
    nojs = plain.new_page()
    try:
        nojs.goto(f"{origin}/staff/household/{hid}")
        nojs.locator("section#transfers").get_by_role("link", name="口座振替を登録").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}/transfers/new")
        nojs.get_by_label("対象").select_option(label="駐車場使用料")
        nojs.get_by_label("金融機関コード・名前").fill("0009")
        nojs.get_by_label("支店コード・名前").fill("755")
        nojs.get_by_label("口座番号").fill("765")
        nojs.get_by_label("口座名義（カナ）").fill("ｶﾜｻｷ ﾀﾛｳ")
        nojs.get_by_label("開始日").fill("2026-05-01")
        nojs.get_by_label("口座番号").press("Enter")  # the default button is 確認する
        confirm = nojs.get_by_test_id("transfer-confirm")
        confirm.wait_for()
        assert "三井住友" in confirm.inner_text() and "0000765" in confirm.inner_text()
        screenshot("transfer-confirm-nojs", target=nojs)
        nojs.get_by_role("button", name="この内容で登録する").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}#transfers")
        assert "口座振替を登録しました。" in nojs.locator(".flash-list").inner_text()
        assert "****765" in nojs.locator("section#transfers").inner_text()
    finally:
        plain.close()
    (transfer,) = transfers_of(app, hid)
    assert (transfer.purpose, transfer.account_number) == ("parking", "0000765")
