"""A staff member opens a demo household's file in Chromium: every section there, readable, no errors."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.test_household_page import full_household

pytestmark = pytest.mark.browser


def test_household_file_in_the_browser(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    enroll_and_sign_in(app, page, origin, seed=True)
    hid = full_household(app)

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
