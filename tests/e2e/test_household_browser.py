"""A staff member opens a demo household's file in Chromium: every section there, readable, no errors."""

from __future__ import annotations

import pytest

from tests.e2e.test_login_browser import LINK, authenticator, origin, problems  # noqa: F401 - fixtures
from tests.test_household_page import full_household

pytestmark = pytest.mark.browser


def test_household_file_in_the_browser(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    seeded = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert seeded.exit_code == 0, seeded.output
    hid = full_household(app)
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--role", "staff", "--name", "幸 次郎", "--login-id", "saiwai"]
    )
    page.goto(LINK.search(result.output).group(1))
    page.get_by_label("認証器の名前").fill("窓口PC")
    page.get_by_role("button", name="認証器を登録").click()
    page.wait_for_url(origin + "/login")
    page.get_by_role("button", name="認証器でログイン").click()
    page.wait_for_url(origin + "/")

    page.goto(f"{origin}/staff/household/{hid}")
    for heading in ("世帯", "世帯員", "連帯保証人・緊急連絡人", "調定・収納", "駐車場", "滞納対応", "履歴"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    assert page.get_by_test_id("masked-number").first.inner_text().startswith("********")
    screenshot("staff-household-file-ja", full_page=True)

    # The table of contents jumps to a section.
    page.get_by_role("navigation", name="目次").get_by_role("link", name="駐車場").click()
    assert page.url.endswith("#parking")
    screenshot("staff-household-file-parking-ja")
    assert problems == []
