"""Revealing a My Number from the staff screen: role, purpose, step-up, audit, no-store, rate limit."""

from __future__ import annotations

import random

import pytest
from flask import Flask

from extensions import db
from models import AuditEntry, Household
from rules import mynumber as rules
from services import mynumber
from services.vault import keyring_for
from tests.conftest import csrf_token_of, post_json
from tests.factories import make_household, make_person


@pytest.fixture
def member(app: Flask):
    """A member with a stored My Number: (person id, number)."""
    number = rules.generate(random.Random(42))
    with app.app_context(), db.connection_context():
        person = make_person()
        mynumber.store(person, number, checked_against_document=True, keyring=keyring_for(app.config))
        return person.id, number


def step_up(client, user, soft_keys):
    token = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=token).get_json()
    response = post_json(
        client, "/step-up/verify", {"credential": soft_keys[user.id].get(options), "next": "/"}, token=token
    )
    assert response.status_code == 200


def reveal(client, person_id, purpose="rent_deposit", **headers):
    return client.post(
        f"/staff/persons/{person_id}/my-number/reveal",
        data={"purpose": purpose, "csrf_token": csrf_token_of(client)},
        headers=headers,
    )


def actions(app, action):
    with app.app_context(), db.connection_context():
        return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def test_page_shows_only_the_masked_number(app, staff_client, member):
    person_id, number = member
    page = staff_client.get(f"/staff/persons/{person_id}/my-number")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "********" + number[-4:] in html and number not in html
    assert page.headers["Cache-Control"] == "no-store"
    view = actions(app, "person.view")[-1]
    assert view.actor_id == staff_client.user.id and str(person_id) not in (view.reason or "")


def test_reveal_needs_a_fresh_step_up_then_shows_and_audits(app, staff_client, member, soft_keys):
    person_id, number = member
    first = reveal(staff_client, person_id)
    assert first.status_code == 303 and first.headers["Location"].startswith("/step-up")
    assert number not in first.get_data(as_text=True)
    step_up(staff_client, staff_client.user, soft_keys)
    shown = reveal(staff_client, person_id)
    assert shown.status_code == 200
    assert number in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    entry = actions(app, "my_number.reveal")[-1]
    assert (entry.outcome, entry.purpose, entry.actor_id) == ("allowed", "rent_deposit", staff_client.user.id)
    assert number not in (entry.changes or "") + (entry.reason or "") + (entry.fields or "")


def test_reveal_without_a_purpose_is_a_422_with_the_message(app, staff_client, member, soft_keys):
    person_id, number = member
    step_up(staff_client, staff_client.user, soft_keys)
    response = reveal(staff_client, person_id, purpose="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "利用目的を選んでください" in html and number not in html
    assert reveal(staff_client, person_id, purpose="curiosity").status_code == 422


def test_htmx_reveal_returns_the_fragment(app, staff_client, member, soft_keys):
    person_id, number = member
    step_up(staff_client, staff_client.user, soft_keys)
    response = reveal(staff_client, person_id, **{"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and number in html
    assert "<html" not in html and 'id="my-number"' in html


@pytest.mark.parametrize("fixture", ["contractor_client", "auditor_client", "sysadmin_client"])
def test_other_roles_can_neither_see_nor_reveal(request, app, member, fixture):
    client = request.getfixturevalue(fixture)
    person_id, number = member
    assert client.get(f"/staff/persons/{person_id}/my-number").status_code == 403
    response = reveal(client, person_id)
    assert response.status_code == 403 and number not in response.get_data(as_text=True)
    assert actions(app, "access.denied")


def test_unknown_person_and_unassigned_dv_household_are_404(app, staff_client, member):
    person_id, _ = member
    assert staff_client.get("/staff/persons/999999/my-number").status_code == 404
    with app.app_context(), db.connection_context():
        person = make_person(household=make_household(support_measure=True))
        Household.update(support_measure=True).where(Household.id == person.household_id).execute()
    assert staff_client.get(f"/staff/persons/{person.id}/my-number").status_code == 404
    assert reveal(staff_client, person.id).status_code in (303, 404)


def test_reveal_is_rate_limited(app, staff_client, member, soft_keys):
    person_id, _ = member
    app.config["REVEAL_RATE_LIMIT"] = "2 per hour"
    step_up(staff_client, staff_client.user, soft_keys)
    assert [reveal(staff_client, person_id).status_code for _ in range(3)] == [200, 200, 429]
