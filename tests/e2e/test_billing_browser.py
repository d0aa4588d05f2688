"""Billing entry in Chromium: a counter payment recorded inline changes the balance (422 beside the
field first, then the toast and the history line), and the forms of the 減免, 滞納対応 and 問合せ
sections open in place."""

from __future__ import annotations

import re

import pytest

from extensions import db
from models import Payment
from services import billing
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_household_edit_browser import sign_in_staff
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def yen_of(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


def unpaid_of(app, hid) -> int:
    with app.app_context(), db.connection_context():
        return billing.totals(hid).unpaid


def test_record_a_payment_inline_and_see_the_balance_change(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    hid = sign_in_staff(app, page, origin, login_id="shuno")
    before = unpaid_of(app, hid)
    assert before > 0
    page.goto(f"{origin}/staff/household/{hid}#charges")
    section = page.locator("section#charges")
    assert yen_of(section.get_by_test_id("unpaid-total").inner_text()) == before

    section.get_by_role("link", name="収納を記録").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url.startswith(f"{origin}/staff/household/{hid}")  # htmx: no navigation
    assert "未納の古い順に充当" in form.get_by_label("充当先").inner_text()

    # More than is owed: 422, the message beside the field, nothing written.
    form.get_by_label("収納額（円）").fill(f"{before + 1:,}")
    form.get_by_role("button", name="収納を記録").click()
    error = section.locator("#payment_amount-error")
    error.wait_for()
    assert "それを超える額は収納できません" in error.inner_text()
    screenshot("billing-payment-422", target=section)
    assert unpaid_of(app, hid) == before

    section.get_by_label("収納額（円）").fill("1,000円")
    section.get_by_label("備考").fill("窓口 領収書 No.0001")
    section.get_by_role("button", name="収納を記録").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "収納を記録しました。" in toast.inner_text()
    section = page.locator("section#charges")
    assert section.locator("form").count() == 0
    assert yen_of(section.get_by_test_id("unpaid-total").inner_text()) == before - 1_000
    assert unpaid_of(app, hid) == before - 1_000
    section.locator(".file-changes__summary").click()
    history = section.locator(".file-changes__entry").first
    assert "shuno" in history.inner_text() and "¥1,000" in history.inner_text()
    screenshot("billing-payment-saved", target=section)
    with app.app_context(), db.connection_context():
        assert Payment.select().where(Payment.note == "窓口 領収書 No.0001").count() >= 1
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose


def test_the_other_forms_open_in_place(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    hid = sign_in_staff(app, page, origin, login_id="taino")
    page.goto(f"{origin}/staff/household/{hid}")
    for section_id, link, shot in (
        ("reductions", "減免の申請を登録", "billing-reduction-form"),
        ("arrears", "滞納対応を記録", "billing-arrears-form"),
        ("inquiries", "問合せを記録", "billing-inquiry-form"),
    ):
        section = page.locator(f"section#{section_id}")
        section.get_by_role("link", name=link).click()
        section.locator("form.inline-edit__form").wait_for()
        screenshot(shot, target=section)

    # A contact about the arrears, saved inline.
    arrears = page.locator("section#arrears")
    arrears.locator("#action_kind").select_option("phone")
    arrears.get_by_label("記録", exact=True).fill("電話で納付を依頼。来週窓口に来る予定。")
    arrears.get_by_role("button", name="記録する").click()
    page.locator("#toast-region .toast--success").wait_for()
    arrears = page.locator("section#arrears")
    assert "来週窓口に来る予定" in arrears.inner_text()
    screenshot("billing-arrears-saved", target=arrears)

    # A charge correction opens from its row.
    charges = page.locator("section#charges")
    charges.locator(".file-row-actions").get_by_role("link", name=re.compile("^訂正")).first.click()
    charges.locator("form.inline-edit__form").wait_for()
    screenshot("billing-charge-correct", target=charges.locator(".inline-edit"))
    assert problems == []


def sign_in_officer(app, page, origin, login_id="kacho"):  # noqa: F811
    """Seed the demo city, enroll an officer with the virtual authenticator and sign in."""
    from tests.test_household_page import full_household

    enroll_and_sign_in(
        app, page, origin, role="officer", login_id=login_id, name="川崎 課長", device="課長PC", seed=True
    )
    return full_household(app)


def test_an_officer_decides_a_reduction_request_inline(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    import datetime as dt

    from models import RentReduction

    hid = sign_in_officer(app, page, origin)
    with app.app_context(), db.connection_context():
        year = dt.date.today().year
        rid = RentReduction.create(
            household=hid,
            reason="medical",
            rate="0.5",
            minimum_rent=5_000,
            start_date=dt.date(year + 1, 4, 1),
            end_date=dt.date(year + 2, 3, 31),
            note="入院のため",
        ).id

    page.goto(f"{origin}/staff/household/{hid}#reductions")
    section = page.locator("section#reductions")
    section.get_by_role("link", name=re.compile("^承認・却下")).click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    form.get_by_label("承認する").check()
    form.get_by_label("理由・条件").fill("診断書を確認")
    screenshot("billing-reduction-decide", target=section)
    form.get_by_role("button", name="決定を保存").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "減免を承認しました。" in toast.inner_text()
    section = page.locator("section#reductions")
    assert "承認" in section.inner_text() and "50%" in section.inner_text()
    screenshot("billing-reduction-approved", target=section)
    with app.app_context(), db.connection_context():
        decided = RentReduction.get_by_id(rid)
    assert decided.status == "approved" and decided.approved_by_id is not None
    assert problems == []
