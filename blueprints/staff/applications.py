"""Household-change applications from the 公社, decided by city staff (SPEC §5 maker-checker).

The list shows what waits for the city (承認待ち) first; one application shows what the agent
submitted (its kind, the documents checked, the content) beside the household's summary, with the
decision: approve, or return with a comment. The reviewer is never the submitter
(services.household_applications.decide refuses it). Approval records the city's decision; the
change itself is then made in the household file (a link to it), with its own rules and previews.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN
from wtforms import RadioField, SelectChoice

from blueprints.context import audit_context
from blueprints.staff.fields import NoteField, VersionField, optional
from blueprints.staff.inline import attach
from models import Household, HouseholdApplication, Office, Person, User
from models.base import ConflictError
from models.requests import WORKFLOW_STATES
from services import access, portal_file
from services import household_applications as service
from services.editing import RuleViolation
from services.household_file import label

bp = Blueprint("applications", __name__, url_prefix="/applications")

LIST_ROWS = 200
STATES = dict(WORKFLOW_STATES)

# Which household-file procedure carries out an approved application (services.household_events).
FOLLOW_UP = {
    "cohabitation": ("staff.events.join", _l("同居の記録へ")),
    "succession": ("staff.events.succession", _l("使用承継の記録へ")),
    "move_out": ("staff.events.move_out", _l("退去の手続へ")),
}


class DecisionForm(FlaskForm):
    """承認 or 差戻し (with the reason), on the version the reviewer read."""

    version = VersionField()
    decision = RadioField(
        _l("決定"),
        choices=[SelectChoice("approved", _l("承認する")), SelectChoice("returned", _l("差し戻す"))],
        validate_choice=True,
    )
    comment = NoteField(
        _l("コメント"),
        [optional()],
        max_length=2000,
        description=_l("差し戻すときは理由を必ず入力してください。"),
    )

    def validate_decision(self, field):
        if not field.data:
            from wtforms import ValidationError

            raise ValidationError(_("承認するか差し戻すかを選んでください。"))


def _visible(query):
    """Only applications of households the reviewer may see (DV-protected ones need an assignment)."""
    return query.where(HouseholdApplication.household.in_(access.visible_households(current_user)))


@bp.get("/")
def index():
    """Applications, those waiting for the city first (filter by state with ?state=)."""
    state = request.args.get("state", "submitted")
    head = Person.alias("head")
    submitter = User.alias("submitter")
    query = (
        HouseholdApplication.select(
            HouseholdApplication,
            Household.id,
            Household.household_no,
            head.name,
            Office.name,
            submitter.display_name,
        )
        .join_from(HouseholdApplication, Household)
        .join_from(
            Household,
            head,
            JOIN.LEFT_OUTER,
            on=(head.household == Household.id) & head.is_head & head.member_to.is_null(),
            attr="head",
        )
        .join_from(HouseholdApplication, Office, JOIN.LEFT_OUTER)
        .join_from(
            HouseholdApplication,
            submitter,
            on=(HouseholdApplication.submitted_by == submitter.id),
            attr="submitter",
        )
    )
    if state in STATES:
        query = query.where(HouseholdApplication.state == state)
    rows = list(_visible(query).order_by(HouseholdApplication.updated_at).limit(LIST_ROWS))
    portal_file.audit_list(
        "household_application.list", [a.household_id for a in rows], ["person.name"], rows=len(rows),
        **audit_context(),
    )  # fmt: skip
    return render_template("staff/applications/index.html", rows=rows, state=state, label=label)


def _application_or_404(application_id: int) -> HouseholdApplication:
    application = HouseholdApplication.get_or_none(HouseholdApplication.id == application_id)
    if application is None:
        abort(404)
    try:
        access.require_household(
            current_user, application.household_id, action="household_application.view", fields=["届出・申請"],
            **audit_context(),
        )  # fmt: skip
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)
    return application


def _page(application, form, *, status=200, conflict=False):
    household = Household.get_by_id(application.household_id)
    head = (
        Person.select(Person.id, Person.name, Person.name_kana)
        .where((Person.household == household.id) & Person.is_head & Person.member_to.is_null())
        .first()
    )
    submitter = User.get_by_id(application.submitted_by_id)
    decider = User.get_or_none(User.id == application.decided_by_id) if application.decided_by_id else None
    office = Office.get_or_none(Office.id == application.office_id) if application.office_id else None
    follow = FOLLOW_UP.get(application.kind)
    return (
        render_template(
            "staff/applications/show.html",
            application=application,
            household=household,
            head=head,
            submitter=submitter,
            decider=decider,
            office=office,
            checklist=service.checklist(application.kind),
            ticked=set(service.attachments_of(application)),
            details=service.details_of(application),
            form=form,
            own=application.submitted_by_id == current_user.id,
            follow_up=follow,
            conflict=conflict,
            label=label,
        ),
        status,
    )


@bp.route("/<int:application_id>", methods=["GET", "POST"])
def show(application_id: int):
    """GET: the application and the decision form. POST: approve or return it."""
    application = _application_or_404(application_id)
    if request.method == "GET":
        return _page(application, DecisionForm(data={"version": application.version}))
    form = DecisionForm()
    if not form.validate_on_submit():
        return _page(application, form, status=422)
    try:
        service.decide(
            application, form.version.data, form.decision.data, form.comment.data, **audit_context()
        )
    except ConflictError:
        current = HouseholdApplication.get_by_id(application.id)
        return _page(current, DecisionForm(data={"version": current.version}), status=409, conflict=True)
    except RuleViolation as exc:
        attach(form, exc)
        return _page(application, form, status=422)
    if form.decision.data == "approved":
        flash(
            _("承認しました。世帯の記録を変更する場合は、世帯のファイルで手続を行ってください。"), "success"
        )
    else:
        flash(_("差し戻しました。公社にコメントが表示されます。"), "success")
    return redirect(url_for(".show", application_id=application.id), code=303)
