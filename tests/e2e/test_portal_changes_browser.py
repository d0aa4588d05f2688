"""The 公社's changes in Chromium: a contractor updates a vehicle's 車検 inline and keys in an income
declaration on the portal (both wait for approval, the rows say 承認待ち), a city staff member in a
second browser approves both, and the household page shows the new data with a history naming both."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import Estate, Household, IncomeDeclaration, Office, ParkingContract, Tenancy, Unit, Vehicle, Ward
from models.housing import Building
from rules import wareki
from rules.filters import today_tokyo
from services import declarations
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _target(app) -> dict:
    """A demo household with a current car, its office, and a fiscal year the city has no incomes for."""
    with app.app_context(), db.connection_context():
        row = (
            Vehicle.select(Vehicle, ParkingContract, Household.id, Office.code, Office.name)
            .join(ParkingContract)
            .join(Household)
            .join(Tenancy, on=((Tenancy.household == Household.id) & (Tenancy.status == "active")))
            .join(Unit)
            .join(Building)
            .join(Estate)
            .join(Ward)
            .join(Office)
            .where(
                (ParkingContract.status == "active") & Vehicle.valid_to.is_null() & ~Household.support_measure
            )
            .order_by(Household.id)
            .objects()
            .first()
        )
        hid = row.contract.household_id
        declared = {
            d.fiscal_year
            for d in IncomeDeclaration.select().where(
                (IncomeDeclaration.household == hid)
                & IncomeDeclaration.status.in_(list(declarations.FIGURE_STATUSES))
            )
        }
        latest = declarations.latest_fiscal_year()
        year = next(y for y in range(latest, latest - 6, -1) if y not in declared)
        return {
            "household": hid,
            "vehicle": row.id,
            "plate": row.registration_no,
            "office_code": row.code,
            "office_name": row.name,
            "year": year,
        }


def _expiry(app, vehicle_id) -> dt.date:
    with app.app_context(), db.connection_context():
        return Vehicle.get_by_id(vehicle_id).inspection_expiry


def _new_signed_in_page(browser, app, origin, **user):  # noqa: F811
    """A second browser (its own context and virtual authenticator), signed in."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    enroll_and_sign_in(app, page, origin, **user)
    return page


def test_agent_enters_city_approves(app, page, browser, origin, authenticator, screenshot, problems):  # noqa: F811
    app.test_cli_runner().invoke(args=["seed", "demo"])
    target = _target(app)
    hid, vid, plate = target["household"], target["vehicle"], target["plate"]
    before = _expiry(app, vid)
    enroll_and_sign_in(
        app,
        page,
        origin,
        role="contractor",
        login_id="kosha1",
        name="公社 一郎",
        office=target["office_code"],
    )

    # The agent: the 車検 inline, as a proposal.
    page.goto(f"{origin}/portal/changes/household/{hid}")
    section = page.locator("section#parking")
    section.get_by_role("link", name=f"車検を更新（{plate}）").click()
    cell = section.locator(f"#vehicle-{vid}-inspection")
    field = cell.get_by_label(f"車検有効期間（{plate}）")
    field.wait_for()
    assert page.url == f"{origin}/portal/changes/household/{hid}"  # htmx: no navigation
    field.fill("令和10年5月31日")
    cell.get_by_role("button", name="提出").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "市の承認後" in toast.inner_text()
    row = page.locator(f"section#parking tr#vehicle-{vid}")
    assert "承認待ち" in row.inner_text() and "令和10年5月31日" in row.inner_text()
    assert _expiry(app, vid) == before  # nothing in the file yet
    screenshot("portal-parking-pending", target=page.locator("section#parking"))

    # The agent: a paper 収入申告 for a year the city has no incomes for.
    year = target["year"]
    income = page.locator("section#income")
    income.locator("tr", has_text=wareki.fiscal_year_label(year)).get_by_role(
        "link", name="収入申告を入力"
    ).click()
    form = income.locator("form.inline-edit__form")
    form.wait_for()
    received = min(today_tokyo(), dt.date(year, 7, 15))
    form.get_by_label("提出日").fill(wareki.to_wareki(received))
    form.locator("fieldset.income-member").first.get_by_label("給与収入").fill("3,000,000")
    screenshot("portal-income-form")
    form.get_by_role("button", name="承認を依頼する").click()
    page.locator("section#income .pending-change").wait_for()
    screenshot("portal-income-pending", target=page.locator("section#income"))
    page.goto(f"{origin}/portal/changes/")
    assert page.locator("[data-testid=submissions] tbody tr").count() == 2
    screenshot("portal-submissions", full_page=True)

    # The city: a second browser, a staff member approves both.
    staff = _new_signed_in_page(browser, app, origin, role="staff", login_id="shinsa", name="審査 花子")
    staff.goto(f"{origin}/staff/approvals/")
    listing = staff.locator("[data-testid=approvals-list] tbody tr")
    assert listing.count() == 2
    screenshot("staff-approvals", target=staff, full_page=True)
    for _ in range(2):
        staff.goto(f"{origin}/staff/approvals/")
        staff.locator("[data-testid=approvals-list]").get_by_role("link", name="確認する").first.click()
        review = staff.locator("#approval-review")
        review.wait_for()
        if "収入申告" in staff.locator("h1").inner_text():
            assert "3,000,000円" in review.inner_text()
            screenshot("staff-approval-income", target=review)
        else:
            assert (
                "令和10年5月31日" in review.inner_text() and wareki.to_wareki(before) in review.inner_text()
            )
            screenshot("staff-approval-inspection", target=review)
        review.get_by_role("button", name="承認する").click()
        staff.locator("#approval-review .notice--success").wait_for()
    assert _expiry(app, vid) == dt.date(2028, 5, 31)

    # The household page: the new data, and a history naming both people.
    staff.goto(f"{origin}/staff/household/{hid}#parking")
    parking = staff.locator("section#parking")
    assert "令和10年5月31日" in parking.locator(f"tr#vehicle-{vid}").inner_text()
    parking.locator(".file-changes__summary").click()
    line = parking.locator(".file-changes__entry").first.inner_text()
    assert "shinsa" in line and f"公社 {target['office_name']}: 公社 一郎 入力、審査 花子 承認" in line
    screenshot("staff-household-parking-history", target=parking)
    income_section = staff.locator("section#income")
    assert wareki.fiscal_year_label(year) in income_section.inner_text()
    income_section.locator(".file-changes__summary").click()
    assert (
        "公社 一郎 入力、審査 花子 承認" in income_section.locator(".file-changes__entry").first.inner_text()
    )
    screenshot("staff-household-income", target=income_section)
    staff.context.close()
    assert not problems, problems
