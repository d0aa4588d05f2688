"""A member's My Number: masked display, and the full number on a stated purpose after a re-authentication."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.auth.views import current_session, step_up_required
from blueprints.context import audit_context
from blueprints.staff.forms import PURPOSE_LABELS, RevealForm
from extensions import htmx, limiter
from models import Person
from services import access, mynumber, sessions
from services.vault import keyring_for

bp = Blueprint("persons", __name__, url_prefix="/persons")


def _visible_person(person_id: int, action: str) -> Person:
    """The member, if this user may see the household (404 otherwise, as if it did not exist)."""
    person = Person.get_or_none(Person.id == person_id)
    try:
        access.require_household(
            current_user,
            person.household_id if person else 0,
            action=action,
            fields=["氏名", "個人番号"],
            **audit_context(),
        )
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)
    return person


def _page(person: Person, form: RevealForm, *, number: str | None = None, status: int = 200):
    keyring = keyring_for(current_app.config)
    template = (
        "staff/persons/_my_number.html" if htmx and not htmx.boosted else "staff/persons/my_number.html"
    )
    context = {
        "person": person,
        "masked": mynumber.masked(person.id, keyring),
        "form": form,
        "number": number,
        "purpose_label": dict(PURPOSE_LABELS).get(form.purpose.data),
    }
    return render_template(template, **context), status


@bp.get("/<int:person_id>/my-number")
def my_number(person_id: int):
    """The masked number and the form to reveal it."""
    person = _visible_person(person_id, "person.view")
    return _page(person, RevealForm())


def _reveal_limit() -> str:
    return current_app.config.get("REVEAL_RATE_LIMIT", "20 per hour")


@bp.post("/<int:person_id>/my-number/reveal")
@limiter.limit(_reveal_limit, key_func=lambda: f"reveal:{current_user.get_id()}")
def reveal_my_number(person_id: int):
    """Show the full number: role (policy) + purpose + step-up within 5 minutes; audited; never cached.

    The purpose is checked first, so a missing one is reported before the re-authentication is asked."""
    person = Person.get_or_none(Person.id == person_id)
    if person is None or not access.can_see_household(current_user, person.household_id):
        abort(404)
    form = RevealForm()
    if not form.validate_on_submit():
        return _page(person, form, status=422)
    session_row = current_session()
    if not sessions.recently_stepped_up(session_row):
        return step_up_required()
    try:
        number = mynumber.reveal(
            person.id,
            purpose=form.purpose.data,
            stepped_up_at=session_row.stepped_up_at if session_row else None,
            keyring=keyring_for(current_app.config),
            **audit_context(),
        )
    except mynumber.RevealRefused as refused:
        if refused.reason == "no number":
            form.purpose.errors.append(_("この世帯員の個人番号は登録されていません。"))
            return _page(person, form, status=422)
        abort(403)
    return _page(person, form, number=number)
