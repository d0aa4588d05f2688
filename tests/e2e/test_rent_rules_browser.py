"""家賃試算 in Chromium: E1 typed in (和暦 birth dates, ¥ amounts), the result swapped into the panel by
htmx without leaving the page, a bad date answered beside the field. Screenshot at 1366×768
(SCREENSHOT_DIR=/tmp/shots/rent to keep it)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_quote_e1_in_the_browser(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    enroll_and_sign_in(app, page, origin, login_id="yachin", name="家賃 担当")
    page.goto(f"{origin}/")
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="家賃試算").click()
    page.wait_for_url(f"{origin}/staff/rent/quote")
    form = page.locator("form.rent-quote__form")
    form.locator("#fiscal_year").select_option("2026")
    form.locator("#members-0-birth_date").fill("昭和60年5月1日")
    form.locator("#members-0-salary_revenue").fill("3,500,000")
    for number, (relation, birth) in enumerate([("配偶者", "S62.6.1"), ("子", "平成27年4月1日")], start=1):
        form.get_by_role("button", name="世帯員を追加").click()
        row = form.locator(f"#members-{number}-relation")
        row.wait_for()
        row.select_option(relation)
        form.locator(f"#members-{number}-birth_date").fill(birth)
        form.locator(f"#members-{number}-dependent").check()
    # A bad date: 422, the message beside the field, no figures.
    form.locator("#members-2-birth_date").fill("令和7年2月30日")
    form.locator("#floor_area").fill("60")
    form.locator("#age_years").fill("20")
    form.locator("#convenience_coefficient").fill("1.00")
    form.locator("#market_rent").fill("90,000")
    form.get_by_role("button", name="計算する", exact=True).click()
    page.locator("#members-2-birth_date-error").wait_for()
    assert page.locator("[data-testid=quote-rent]").count() == 0
    page.locator("#members-2-birth_date").fill("平成27年4月1日")
    page.get_by_role("button", name="計算する", exact=True).click()
    rent = page.locator("[data-testid=quote-rent]")
    rent.wait_for()
    assert rent.inner_text() == "¥38,600"
    assert page.locator("[data-testid=quote-seirei]").inner_text() == "¥125,833"
    assert page.locator("[data-testid=quote-deposit]").inner_text() == "¥115,800"
    assert page.url == f"{origin}/staff/rent/quote"
    screenshot("rent-quote-e1")
