"""Notices in Chromium: a job's page follows the job by itself (htmx polling, CSP intact) until the PDF
link appears, the PDF downloads, and the runs list shows the run; without JavaScript a link refreshes."""

from __future__ import annotations

import pytest

from extensions import db
from models import User
from services import jobs, notices
from tests.e2e.helpers import enroll_and_sign_in, without_javascript
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_building, make_estate, make_household, make_person, make_tenancy, make_unit

pytestmark = pytest.mark.browser


@jobs.handler("e2e_notices", label="家賃決定通知書の作成")
def _issue(job, report):
    from models import Household

    pages = [
        notices.NoticePage(
            "rent_decision",
            household.id,
            notices.address_of(household),
            "令和8年度 家賃決定通知書",
            [
                notices.Paragraph("あなたの家賃を次のとおり決定しました。"),
                notices.Table([("家賃", "38,600円")]),
            ],
        )
        for household in Household.select().where(Household.id.in_(jobs.params_of(job)["households"]))
    ]
    return notices.issue_run("rent_decision", 2026, pages, job.created_by_id, report, job=job)


def _queue(app) -> int:
    with app.app_context(), db.connection_context():
        estate = make_estate(postal_code="2100001", address="川崎市川崎区本町1-1")
        households = []
        for name in ("山田 太郎", "鈴木 花子"):
            household = make_household()
            make_person(household=household, name=name)
            make_tenancy(household=household, unit=make_unit(building=make_building(estate=estate)))
            households.append(household.id)
        staff = User.get(User.login_id == "saiwai")
        return jobs.submit("e2e_notices", {"households": households}, staff.id).id


def test_job_page_polls_until_the_pdf(app, browser, page, origin, authenticator, screenshot, problems):  # noqa: F811
    enroll_and_sign_in(app, page, origin)
    job_id = _queue(app)
    page.goto(f"{origin}/staff/jobs/{job_id}")
    status = page.locator("#job-status")
    assert "待機中" in status.inner_text()
    screenshot("job-queued")

    # Without JavaScript nothing polls: the page offers a refresh link instead.
    context = without_javascript(browser, page)
    plain = context.new_page()
    plain.goto(f"{origin}/staff/jobs/{job_id}")
    assert plain.get_by_role("link", name="最新の状態を表示").is_visible()
    context.close()

    with app.app_context(), db.connection_context():
        assert jobs.run_pending() == 1
    link = status.get_by_role("link", name="PDFをダウンロード")
    link.wait_for(timeout=10_000)  # the fragment polled itself to the finished state, no reload
    assert "処理が完了しました" in page.locator("#job-status").inner_text()
    screenshot("job-done")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".pdf")

    page.goto(f"{origin}/staff/notices/")
    assert "家賃決定通知書" in page.locator("table.notice-runs").inner_text()
    screenshot("notice-runs")
    assert problems == []
