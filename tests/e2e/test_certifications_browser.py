"""明渡請求 in Chromium: an officer finds a prepared request in the tracking list, approves it and follows
the 明渡請求書 being issued; the 意見申出 page shows the decision beside its recomputation."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import EvictionRequest, User
from rules.filters import today_tokyo
from services import evictions, jobs
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_account
from tests.test_evictions import make_high_income_household
from tests.test_objections import make_decided_household

pytestmark = pytest.mark.browser


def test_an_officer_approves_a_request_and_the_notice_is_issued(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    enroll_and_sign_in(app, page, origin, role="officer", login_id="kacho", name="川崎 一郎")
    with app.test_request_context(), db.connection_context():
        household = make_high_income_household()
        request = evictions.prepare(
            household.id, ground="high_income", requested_on=today_tokyo(), actor=make_account("staff")
        )
        number = household.household_no
    page.goto(f"{origin}/staff/evictions/")
    row = page.get_by_role("row").filter(has_text=number)
    assert "承認待ち" in row.inner_text()
    screenshot("evictions-list")
    row.get_by_role("link", name="詳細").click()
    page.wait_for_url(f"{origin}/staff/evictions/{request.id}")
    screenshot("eviction-before-approval", full_page=True)
    page.get_by_role("button", name="承認して明渡請求書を発行する").click()
    page.wait_for_url(f"{origin}/staff/jobs/*")
    assert "明渡請求を承認しました" in page.content()
    with app.app_context(), db.connection_context():
        assert jobs.run_pending() == 1
        officer = User.get(User.login_id == "kacho")
        assert EvictionRequest.get_by_id(request.id).approved_by_id == officer.id
    page.goto(f"{origin}/staff/evictions/{request.id}")
    assert page.get_by_role("link", name="PDFを開く").is_visible()
    screenshot("eviction-approved", full_page=True)


def test_the_objection_page_shows_old_and_new(
    app,
    page,
    origin,  # noqa: F811
    authenticator,  # noqa: F811
    screenshot,
    problems,  # noqa: F811
):
    enroll_and_sign_in(app, page, origin, role="officer", login_id="kacho", name="川崎 一郎")
    with app.test_request_context(), db.connection_context():
        household, decision = make_decided_household()
        from models import IncomeDeclaration
        from services import objections

        review = objections.receive(
            household.id,
            decision.id,
            received_on=dt.date(2026, 4, 1),
            content="収入申告の給与収入が誤っています",
            actor=make_account("staff"),
        )
        IncomeDeclaration.update(seirei_getsushu=110_000).where(
            IncomeDeclaration.household == household.id
        ).execute()
    page.goto(f"{origin}/staff/rent-reviews/{review.id}")
    assert "33,700" in page.content() and "38,600" in page.content()
    screenshot("review", full_page=True)
    page.get_by_label("再決定する（更正）").check()
    page.get_by_label("回答・決定の理由").fill("申告の訂正により再計算しました")
    page.get_by_role("button", name="決定する").click()
    page.wait_for_url(f"{origin}/staff/jobs/*")
    page.goto(f"{origin}/staff/rent-reviews/{review.id}")
    assert "更正後の決定" in page.content()
    screenshot("review-redecided", full_page=True)
