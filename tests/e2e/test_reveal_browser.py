"""A staff member reveals a member's My Number in Chromium: purpose, re-authentication, then the digits."""

from __future__ import annotations

import random
import re

import pytest

from extensions import db
from rules import mynumber as rules
from services import mynumber
from services.vault import keyring_for
from tests.e2e.helpers import enroll_and_sign_in
from tests.e2e.test_login_browser import authenticator, origin, problems  # noqa: F401 - fixtures
from tests.factories import make_person

pytestmark = pytest.mark.browser


def test_reveal_with_purpose_and_step_up(app, page, origin, authenticator, screenshot, problems):  # noqa: F811
    number = rules.generate(random.Random(2026))
    with app.app_context(), db.connection_context():
        person = make_person(
            name="川崎 花子", name_kana="カワサキ ハナコ", kana_key="カワサキハナコ", sex="female"
        )
        mynumber.store(person, number, checked_against_document=True, keyring=keyring_for(app.config))
    enroll_and_sign_in(app, page, origin)

    page.goto(f"{origin}/staff/persons/{person.id}/my-number")
    shown = page.get_by_test_id("my-number")
    assert shown.inner_text() == "********" + number[-4:]
    assert number not in page.content()
    screenshot("staff-my-number-masked-ja", full_page=True)

    # Without a purpose: the message beside the field, nothing revealed.
    page.get_by_role("button", name="目的を記録して全桁を表示").click()
    page.get_by_text("利用目的を選んでください。").first.wait_for()
    assert number not in page.content()

    # With a purpose: first a re-authentication, then the digits.
    page.get_by_label("利用目的").select_option("rent_deposit")
    page.get_by_role("button", name="目的を記録して全桁を表示").click()
    page.wait_for_url(re.compile(r".*/step-up\?next=.*"))
    page.get_by_role("button", name="認証器で本人確認").click()
    page.wait_for_url(f"{origin}/staff/persons/{person.id}/my-number")
    page.get_by_label("利用目的").select_option("rent_deposit")
    page.get_by_role("button", name="目的を記録して全桁を表示").click()
    page.get_by_text("個人番号を表示しています").wait_for()
    assert page.get_by_test_id("my-number").inner_text() == number
    screenshot("staff-my-number-revealed-ja", full_page=True)
    # The 422 (missing purpose) and 401 (step-up due) answers are expected; nothing else may fail.
    unexpected = [p for p in problems if not re.search(r"status of (422|401)", p)]
    assert unexpected == []
