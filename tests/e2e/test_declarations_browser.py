"""The 収入申告 cycle in Chromium: staff open the cycle page, start the year for a small city, follow the
printing job to 完了 and find the PDF link. Screenshots at 1366×768 (SCREENSHOT_DIR=/tmp/shots/declarations
to keep them)."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import IncomeDeclaration
from services import declarations, jobs
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_household, make_person, make_tenancy

pytestmark = pytest.mark.browser


def small_city(app, count: int = 3) -> list[str]:
    """Households in residence, each a head and a child; their household numbers."""
    numbers = []
    with app.app_context(), db.connection_context():
        for n in range(count):
            household = make_household()
            make_tenancy(household)
            make_person(household, name=f"中原 一郎{n}", birth_date=dt.date(1965 + n, 4, 2))
            make_person(
                household, name=f"中原 二郎{n}", name_kana="ナカハラ ジロウ", kana_key="ナカハラジロウ",
                relation="child", is_head=False, birth_date=dt.date(2003, 9, 9),
            )  # fmt: skip
            numbers.append(household.household_no)
    return numbers


def test_start_the_cycle_and_follow_the_printing(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    enroll_and_sign_in(app, page, origin, login_id="shinkoku", name="申告 担当")
    numbers = small_city(app)
    fy = declarations.current_fiscal_year()

    page.get_by_role("link", name="収入申告").first.click()
    page.wait_for_url(f"{origin}/staff/declarations/")
    page.locator(f"a[href='/staff/declarations/{fy}']").first.click()
    page.wait_for_url(f"{origin}/staff/declarations/{fy}")
    screenshot("declarations-year-before")

    page.get_by_role("link", name="収入申告書を送付する（3世帯）").click()
    page.wait_for_url(f"{origin}/staff/declarations/{fy}/start")
    assert page.get_by_test_id("to-send").inner_text() == "3"
    screenshot("declarations-start-confirm")
    page.get_by_role("button", name="3世帯に送付して申告書を印刷する").click()
    page.wait_for_url(f"{origin}/staff/jobs/*")
    assert page.get_by_text("3世帯の収入申告を「送付済」にしました。").is_visible()

    # The worker (a thread of its own in production) runs the job; the page polls until 完了.
    with app.app_context(), db.connection_context():
        assert IncomeDeclaration.select().where(IncomeDeclaration.fiscal_year == fy).count() == 3
        assert jobs.run_pending() == 1
    page.locator(".job-state--done").wait_for()
    assert page.locator(".job-state--done").inner_text() == "完了"
    link = page.get_by_role("link", name="PDFをダウンロード")
    assert link.is_visible()
    assert "/staff/notices/" in link.get_attribute("href")
    screenshot("declarations-job-done")

    # Back on the year: every household 送付済, with the link to its entry screen, and the PDF listed.
    page.goto(f"{origin}/staff/declarations/{fy}")
    rows = page.locator("table.declaration-list tbody tr")
    assert rows.count() == 3
    for number in numbers:
        assert page.get_by_role("link", name=number).is_visible()
    assert page.locator(".declaration-status--sent").count() == 3
    assert page.get_by_role("link", name="収入申告書（PDF）").is_visible()
    screenshot("declarations-year-after", full_page=True)
    assert problems == []
