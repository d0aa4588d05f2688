"""マスタ in Chromium: an officer adds a future 立地係数 inline (422 beside the field first, then the toast
and the version marked 予定), and copies the 家賃算定基礎額 into a new version whose rows open for editing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from extensions import db
from rules.filters import today_tokyo
from services import masters
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

TODAY = today_tokyo()
NEXT_APRIL = dt.date(TODAY.year + (1 if dt.date(TODAY.year, 4, 1) <= TODAY else 0), 4, 1)


def test_an_officer_adds_a_version_inline(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    enroll_and_sign_in(app, page, origin, role="officer", login_id="kacho", name="川崎 一郎")
    page.get_by_role("link", name="マスタ").first.click()
    page.get_by_role("link", name="立地係数", exact=True).click()
    section = page.locator("section#versions")
    assert "適用中" in section.inner_text()

    section.get_by_role("link", name="新しい版を追加").click()
    form = section.locator("form.inline-edit__form")
    form.wait_for()
    assert page.url.endswith("/staff/masters/parameters/location_coefficient")  # htmx: no navigation
    form.get_by_label("適用開始日").fill(NEXT_APRIL.isoformat())
    form.get_by_label("値").fill("1.7")
    form.get_by_role("button", name="保存").click()
    error = section.locator("#value-error")
    error.wait_for()
    assert "0.7から1.6までの値にしてください" in error.inner_text()

    section.get_by_label("値").fill("1.15")
    section.get_by_role("button", name="保存").click()
    page.locator(".toast").filter(has_text="新しい版を登録しました。").wait_for()
    row = page.get_by_test_id(f"version-{NEXT_APRIL.isoformat()}")
    row.wait_for()
    assert "予定" in row.inner_text() and "1.15" in row.inner_text()
    screenshot("masters-parameter-versions", target=page.locator("section#versions"))
    with app.app_context(), db.connection_context():
        assert masters.parameter("location_coefficient", NEXT_APRIL) == Decimal("1.15")

    page.goto(f"{origin}/staff/masters/tables/rent-bands")
    page.get_by_role("link", name="適用中の版を写して新しい版を作る").click()
    page.get_by_label("適用開始日").fill(NEXT_APRIL.isoformat())
    page.get_by_role("button", name="版を作る").click()
    grid = page.locator("table.master-grid")
    grid.wait_for()
    assert grid.get_by_label("区分8 家賃算定基礎額").input_value() == "91100"
    screenshot("masters-rent-bands-edit", target=page.locator("section#versions"))
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose
