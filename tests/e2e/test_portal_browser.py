"""A 公社 contractor in Chromium on the demo city: signs in, finds a household of its office by kana,
opens it and records a move-out procedure (a plain form: 303 back to the household, the record listed)."""

from __future__ import annotations

import re
import shutil

import pytest

from extensions import db
from models import Building, Estate, Household, Person, Tenancy, Unit, Ward
from models.security import Office
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _household_of(app, office_code: str):
    """A household of the office with an active tenancy: (id, household number, head's kana)."""
    with app.app_context(), db.connection_context():
        office = Office.get(Office.code == office_code)
        row = (
            Household.select(Household.id, Household.household_no, Person.name_kana)
            .join(Tenancy, on=(Tenancy.household == Household.id) & (Tenancy.status == "active"))
            .join(Unit)
            .join(Building)
            .join(Estate)
            .join(Ward)
            .switch(Household)
            .join(Person, on=(Person.household == Household.id) & Person.is_head & Person.member_to.is_null())
            .where((Ward.office == office.id) & ~Household.support_measure)
            .order_by(Household.id)
            .tuples()
            .first()
        )
    return row


def test_contractor_finds_a_household_and_records_a_move_out(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    enroll_and_sign_in(
        app,
        page,
        origin,
        role="contractor",
        login_id="kosha-nanbu",
        name="公社 南子",
        seed=True,
        office="nanbu",
    )
    household_id, household_no, kana = _household_of(app, "nanbu")

    page.goto(f"{origin}/portal/")
    assert page.locator(".site-header__name").inner_text().strip().endswith("南部事務所")
    home = screenshot("portal-home", full_page=False)

    # Search by the head's family name in hiragana: kana- and width-insensitive, from its beginning.
    family = kana.split(" ")[0].split("\u3000")[0]
    hiragana = "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in family)
    page.get_by_role("link", name="世帯照会").click()
    page.get_by_label("検索語").fill(hiragana)
    page.get_by_role("button", name="検索", exact=True).click()
    page.locator(".household-list tbody tr").first.wait_for()
    assert page.url == f"{origin}/portal/households/"  # the term never reaches the address bar
    screenshot("portal-search", full_page=False)
    page.get_by_role("link", name=household_no, exact=True).click()
    page.wait_for_url(f"{origin}/portal/households/{household_id}")
    body = page.locator("main").inner_text()
    assert "世帯員" in body and "未納額" in body
    assert not re.search(r"生活保護|個人番号|障害者手帳|政令月収", body)
    shown = screenshot("portal-household", full_page=False)
    screenshot("portal-household-full", full_page=True)

    page.get_by_role("link", name="入退去手続を記録").click()
    page.get_by_label("種別").select_option(label="退去手続")
    page.get_by_label("鍵の受渡日").fill("令和7年3月31日")
    page.get_by_label("立会検査日").fill("2025-03-31")
    page.get_by_label("修繕の必要箇所").fill("和室の襖 2枚張替え")
    screenshot("portal-procedure-form", full_page=False)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{origin}/portal/households/{household_id}")
    page.get_by_text("入退去手続を記録しました。").wait_for()
    screenshot("portal-procedure-saved-top", full_page=False)
    page.locator("#records").scroll_into_view_if_needed()
    assert "和室の襖 2枚張替え" in page.locator("#records").inner_text()
    screenshot("portal-procedure-saved", full_page=False)
    assert problems == []

    for path in (home, shown):
        shutil.copy(path, f"/tmp/{path.name}")
