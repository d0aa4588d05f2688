"""A staff member finds households on the demo city in Chromium: the search box, the list and the pager."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_search_demo_city(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    enroll_and_sign_in(app, page, origin, login_id="nakahara", name="中原 三郎", seed=True)

    page.goto(f"{origin}/staff/households/")
    page.get_by_label("検索語").fill("ヤマ")
    page.get_by_role("button", name="検索", exact=True).click()
    page.locator(".household-list tbody tr").first.wait_for()
    assert page.url == f"{origin}/staff/households/"  # the term never reaches the address bar
    rows = page.locator(".household-list tbody tr")
    assert rows.count() == 50
    assert "ヤマ" in rows.first.inner_text()
    screenshot("staff-household-search-ja", full_page=True)

    # The pager posts the same terms with the next page number.
    page.get_by_role("button", name="次へ").click()
    page.get_by_text(re.compile(r"51〜\d+件目")).wait_for()
    assert page.url == f"{origin}/staff/households/"

    # An empty search: the message beside the field (422), the list gone.
    page.get_by_label("検索語").fill("")
    page.get_by_role("button", name="検索", exact=True).click()
    page.locator("#q-error").get_by_text("検索条件を入力してください。").wait_for()
    assert problems == [] or all(re.search(r"status of 422", p) for p in problems)
