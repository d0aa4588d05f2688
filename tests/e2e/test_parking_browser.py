"""Parking in Chromium: the one-field 車検 update inline on a household page (422 beside the field, the
toast, the history line), the same without JavaScript, and the lot and 車検切れ pages."""

from __future__ import annotations

import datetime as dt

import pytest

from extensions import db
from models import ParkingContract, ParkingSpace, Vehicle
from rules import wareki
from tests.e2e.helpers import without_javascript
from tests.e2e.test_household_edit_browser import sign_in_staff
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def current_vehicle(app, hid) -> Vehicle:
    with app.app_context(), db.connection_context():
        return (
            Vehicle.select(Vehicle)
            .join(ParkingContract)
            .where(
                (ParkingContract.household == hid)
                & (ParkingContract.status == "active")
                & Vehicle.valid_to.is_null()
            )
            .first()
        )


def expiry_of(app, vehicle_id) -> dt.date:
    with app.app_context(), db.connection_context():
        return Vehicle.get_by_id(vehicle_id).inspection_expiry


def lot_of(app, vehicle_id) -> int:
    with app.app_context(), db.connection_context():
        contract = Vehicle.get_by_id(vehicle_id).contract
        return ParkingSpace.get_by_id(contract.space_id).lot_id


def test_update_the_inspection_inline(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    hid = sign_in_staff(app, page, origin)
    vehicle = current_vehicle(app, hid)
    page.goto(f"{origin}/staff/household/{hid}#parking")
    section = page.locator("section#parking")
    screenshot("parking-section", target=section)
    section.get_by_role("link", name=f"車検を更新（{vehicle.registration_no}）").click()
    cell = section.locator(f"#vehicle-{vehicle.id}-inspection")
    field = cell.get_by_label(f"車検有効期間（{vehicle.registration_no}）")
    field.wait_for()
    assert page.url.startswith(f"{origin}/staff/household/{hid}")  # htmx: no navigation
    assert cell.locator("input:not([type=hidden])").count() == 1  # one field

    # Invalid input: 422, the message beside the field, nothing saved.
    field.fill("来年の春")
    cell.get_by_role("button", name="保存").click()
    error = cell.locator("#inspection_expiry-error")
    error.wait_for()
    assert error.inner_text().strip()
    screenshot("parking-inspection-422", target=section)

    cell.get_by_label(f"車検有効期間（{vehicle.registration_no}）").fill("令和10年5月31日")
    cell.get_by_role("button", name="保存").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "車検有効期間を更新しました。" in toast.inner_text()
    section = page.locator("section#parking")
    assert section.locator("form").count() == 0
    assert "令和10年5月31日" in section.locator(f"tr#vehicle-{vehicle.id}").inner_text()
    section.locator(".file-changes__summary").click()
    history = section.locator(".file-changes__entry").first
    line = history.inner_text()
    assert "saiwai" in line and "車検有効期間" in line and "令和10年5月31日" in line
    assert wareki.to_wareki(vehicle.inspection_expiry) in line  # the value before
    screenshot("parking-inspection-saved", target=section)
    assert expiry_of(app, vehicle.id) == dt.date(2028, 5, 31)
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose

    # The other forms open in the section's slot: a vehicle's full edit, a new contract.
    section.get_by_role("row", name=vehicle.registration_no).get_by_role("link", name="変更").click()
    slot = section.locator("#parking-slot")
    slot.get_by_label("車両登録番号").wait_for()
    assert slot.get_by_label("車両登録番号").input_value() == vehicle.registration_no
    screenshot("parking-vehicle-form", target=section)
    section.get_by_role("link", name="駐車場の契約を登録").click()
    slot.get_by_label("区画使用者").wait_for()
    screenshot("parking-contract-form", target=section)

    # The lot with its spaces and the 車検切れ list (printable).
    page.goto(f"{origin}/staff/parking/lots/{lot_of(app, vehicle.id)}")
    assert page.get_by_role("heading", level=1).is_visible()
    screenshot("parking-lot", full_page=True)
    page.goto(f"{origin}/staff/parking/")
    screenshot("parking-lots")
    page.goto(f"{origin}/staff/parking/inspections")
    assert page.get_by_role("heading", name="車検切れの一覧").is_visible()
    screenshot("parking-inspections", full_page=True)
    page.emulate_media(media="print")
    screenshot("parking-inspections-print")
    assert [p for p in problems if "422" not in p] == []


def test_the_same_update_without_javascript(app, browser, page, origin, authenticator, screenshot):  # noqa: F811
    hid = sign_in_staff(app, page, origin)
    vehicle = current_vehicle(app, hid)
    plain = without_javascript(browser, page)
    nojs = plain.new_page()
    try:
        nojs.goto(f"{origin}/staff/household/{hid}#parking")
        nojs.locator("section#parking").get_by_role(
            "link", name=f"車検を更新（{vehicle.registration_no}）"
        ).click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}/parking/vehicles/{vehicle.id}/inspection")
        screenshot("parking-inspection-nojs-form", target=nojs)
        nojs.get_by_label(f"車検有効期間（{vehicle.registration_no}）").fill("2029-01-31")
        nojs.get_by_role("button", name="保存").click()
        nojs.wait_for_url(f"{origin}/staff/household/{hid}#parking")
        assert "車検有効期間を更新しました。" in nojs.locator(".flash-list").inner_text()
        section = nojs.locator("section#parking")
        assert "令和11年1月31日" in section.locator(f"tr#vehicle-{vehicle.id}").inner_text()
        section.locator(".file-changes__summary").click()
        line = section.locator(".file-changes__entry").first.inner_text()
        assert "saiwai" in line and "車検有効期間" in line and "令和11年1月31日" in line
        screenshot("parking-inspection-nojs-saved", target=section)
    finally:
        plain.close()
    assert expiry_of(app, vehicle.id) == dt.date(2029, 1, 31)
