"""世帯の異動 in Chromium: a member's 転出 registered inline (422 beside the field, then the toast and the
member among the former ones), and a 退去 taken to its confirmation page and confirmed."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from extensions import db
from models import Charge, Household, Person
from rules import household as rules
from rules.filters import today_tokyo
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.test_household_events import make_family, previous_month_15th

pytestmark = pytest.mark.browser


def sign_in_staff(app, page, origin):  # noqa: F811
    enroll_and_sign_in(app, page, origin)


def test_leave_inline_and_move_out(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    family = make_family(app)
    hid = family["hid"]
    today = today_tokyo()
    sign_in_staff(app, page, origin)
    page.goto(f"{origin}/staff/household/{hid}")

    # 転出: from the member's own link in the 世帯員 section; the form opens in place.
    members = page.locator("section#members")
    members.locator("summary", has_text="転出・死亡").click()
    screenshot("events-member-menu", target=members)
    members.get_by_role("link", name=re.compile(r"^転出\s*（川崎 一郎）$")).click()
    form = members.locator("#event-edit form")
    form.wait_for()
    assert page.url == f"{origin}/staff/household/{hid}"  # htmx: no navigation
    assert form.get_by_label("転出する世帯員").input_value() == str(family["child"])
    form.get_by_label("異動理由").select_option("marriage")
    form.get_by_role("button", name="転出を登録").click()  # no date: 422 beside the field
    error = members.locator("#event_date-error")
    error.wait_for()
    assert "入力してください。" in error.inner_text()
    screenshot("events-leave-422", target=members)

    yesterday = today - dt.timedelta(days=1)
    members.get_by_label("転出日").fill(f"令和{yesterday.year - 2018}年{yesterday.month}月{yesterday.day}日")
    members.get_by_role("button", name="転出を登録").click()
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "川崎 一郎さんの転出を登録しました。" in toast.inner_text()
    members = page.locator("section#members")
    assert members.locator("form").count() == 0
    former = members.locator("table", has=page.locator("caption", has_text="以前の世帯員"))
    assert "川崎 一郎" in former.inner_text() and "婚姻" in former.inner_text()
    history = page.locator("section#history")
    assert "川崎 一郎（子）が世帯から婚姻。" in history.inner_text()  # swapped out of band
    screenshot("events-leave-done", target=members)
    with app.app_context(), db.connection_context():
        assert Person.get_by_id(family["child"]).member_to == yesterday

    # 退去: the form, then the confirmation with the computed figures, then 確定.
    last_day = previous_month_15th(today)
    with app.app_context(), db.connection_context():
        period = last_day.replace(day=1)
        Charge.create(
            household=hid, kind="rent", period=period, source_key="rent", amount=38_600, due_date=period
        )
    household = page.locator("section#household")
    household.get_by_role("link", name="退去", exact=True).click()
    form = household.locator("#event-edit form")
    form.wait_for()
    form.get_by_label("退去日（最終日）").fill(last_day.isoformat())
    form.get_by_label("修繕費（世帯の負担）").fill("30,000")
    form.get_by_role("button", name="精算額を確認").click()
    preview = household.locator(".event-preview")
    preview.wait_for()
    days = rules.days_in_month(last_day)
    rent = 38_600 * 15 // days
    assert f"38,600円 × 15日 ÷ {days}日 = {rent:,}円" in preview.inner_text()
    refund = 115_800 - rent - 30_000
    assert preview.get_by_test_id("settlement-refund").inner_text() == f"¥{refund:,}"
    screenshot("events-move-out-preview", target=household)
    with app.app_context(), db.connection_context():
        assert Household.get_by_id(hid).status == "active"  # nothing saved yet

    preview.get_by_role("button", name="退去を確定").click()
    page.wait_for_url(f"{origin}/staff/household/{hid}")
    page.locator(".flash-list").wait_for()
    assert "退去を登録しました（返還額" in page.locator(".flash-list").inner_text()
    screenshot("events-move-out-done", full_page=False)
    with app.app_context(), db.connection_context():
        assert Household.get_by_id(hid).status == "moved_out"
    assert [p for p in problems if "422" not in p] == []  # the 422 was on purpose
