"""The yearly rent run in Chromium: staff start it, the page follows the computation by itself (htmx
polling, CSP intact) and reloads into the preview, whose filters work; no console errors."""

from __future__ import annotations

import pytest

from extensions import db
from services import jobs, rent_run
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.test_rent_run import FY, build_city

pytestmark = pytest.mark.browser


def test_start_and_preview(app, page, origin, authenticator, screenshot, problems, monkeypatch):  # noqa: F811
    monkeypatch.setattr(rent_run, "next_fiscal_year", lambda today=None: FY)
    with app.app_context(), db.connection_context():
        build_city()
    enroll_and_sign_in(app, page, origin)
    page.goto(f"{origin}/staff/rent/runs/")
    page.get_by_role("button", name="令和9年度(2027年度)の計算を開始").click()
    page.wait_for_url(f"{origin}/staff/rent/runs/*")
    assert "計算中" in page.locator("#rent-run-progress").inner_text()
    screenshot("rent-run-running")

    with app.app_context(), db.connection_context():
        assert jobs.run_pending() == 1
    page.get_by_role("heading", name="計算結果").wait_for(timeout=15_000)  # polled, then reloaded
    assert "確認待ち" in page.locator("#rent-run-progress").inner_text()
    page.get_by_label("変更の理由").select_option("over_income")
    page.get_by_role("button", name="表示").click()
    rows = page.locator("table.rent-run-rows")
    assert "収入超過2年目" in rows.inner_text() and "¥61,800" in rows.inner_text()
    assert page.locator("table.rent-run-rows tbody tr").count() == 1
    screenshot("rent-run-preview")
    assert problems == []
