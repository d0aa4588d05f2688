"""Household-change applications (届出・申請) on the portal: the agent submits, corrects a returned
one and resubmits, or withdraws one not yet decided; the city decides (blueprints/staff/applications.py).

The kind is chosen first (a link per kind: its checklist of documents depends on it, and this works
without JavaScript), then the form with that kind's checklist.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from blueprints.context import audit_context
from blueprints.portal import scoped
from blueprints.portal.forms import ApplicationEditForm, ApplicationForm, VersionOnlyForm
from blueprints.portal.views import form_page, head_of, join_head, post_form, saved
from models import Household, HouseholdApplication
from models.base import ConflictError
from models.requests import APPLICATION_KINDS, WORKFLOW_STATES
from services import household_applications as service
from services import portal_file
from services.editing import RuleViolation
from services.household_file import label

bp = Blueprint("applications", __name__, url_prefix="/applications")

LIST_ROWS = 200
STATES = dict(WORKFLOW_STATES)


def _with_household(query):
    return join_head(
        query.select_extend(Household.id, Household.household_no).join_from(HouseholdApplication, Household)
    )


@bp.get("/")
def index():
    """The office's applications, those needing the agent's attention (差戻し) first."""
    state = request.args.get("state", "")
    query = scoped.applications()
    if state in STATES:
        query = query.where(HouseholdApplication.state == state)
    rows = list(
        _with_household(query)
        .order_by(
            (HouseholdApplication.state != "returned"),
            (HouseholdApplication.state != "submitted"),
            HouseholdApplication.updated_at.desc(),
        )
        .limit(LIST_ROWS)
    )
    portal_file.audit_list(
        "portal.applications.list",
        [a.household_id for a in rows],
        ["person.name", "household_application.comment"],
        rows=len(rows),
        **audit_context(),
    )
    return render_template(
        "portal/applications/index.html", rows=rows, state=state, states=WORKFLOW_STATES, label=label
    )


@bp.route("/household/<int:household_id>/new", methods=["GET", "POST"])
def new(household_id: int):
    """GET without a kind: choose one. With a kind (GET ?kind= or the form's): its form and checklist."""
    household = scoped.household_or_404(household_id, fields=["届出・申請"], change=request.method == "POST")
    kind = request.values.get("kind", "")
    context = {"household": household, "head": head_of(household), "kinds": APPLICATION_KINDS, "kind": kind}
    if kind not in service.CHECKLISTS:
        return form_page(
            "portal/applications/choose.html", status=422 if request.method == "POST" else 200, **context
        )
    form = ApplicationForm()
    form.load_choices(kind)
    context["checklist"] = service.checklist(kind)
    if request.method == "POST":
        return post_form(
            form,
            "portal/applications/form.html",
            lambda: service.submit(
                household.id,
                form.kind.data,
                form.received_on.data,
                form.details.data,
                form.attachments.data or [],
                office_id=scoped.office_or_403().id,
                **audit_context(),
            ),
            lambda: saved(_("届出・申請を市へ提出しました。"), household.id),
            **context,
        )
    form.kind.data = kind
    return form_page("portal/applications/form.html", form=form, **context)


def _application(application_id: int, *, change: bool = False):
    application = scoped.application_or_404(application_id)
    household = scoped.household_or_404(application.household_id, fields=["届出・申請"], change=change)
    return application, household


@bp.get("/<int:application_id>")
def show(application_id: int):
    """One application: what was submitted, its state and the city's comment."""
    application, household = _application(application_id)
    return render_template(
        "portal/applications/show.html",
        application=application,
        household=household,
        head=head_of(household),
        checklist=service.checklist(application.kind),
        ticked=set(service.attachments_of(application)),
        details=service.details_of(application),
        withdraw_form=VersionOnlyForm(data={"version": application.version}),
        editable=application.state in service.EDITABLE,
        label=label,
    )


@bp.route("/<int:application_id>/edit", methods=["GET", "POST"])
def edit(application_id: int):
    """Correct an application not yet decided; a returned one is resubmitted by saving."""
    application, household = _application(application_id, change=request.method == "POST")
    context = {
        "household": household,
        "head": head_of(household),
        "application": application,
        "kind": application.kind,
        "checklist": service.checklist(application.kind),
        "label": label,
    }
    if application.state not in service.EDITABLE:
        return form_page("portal/applications/closed.html", status=409, **context)
    if request.method == "GET":
        form = ApplicationEditForm(
            data={
                "version": application.version,
                "received_on": application.received_on,
                "details": service.details_of(application),
                "attachments": service.attachments_of(application),
            }
        )
    else:
        form = ApplicationEditForm()
    form.load_choices(application.kind)
    if request.method == "POST":
        was_returned = application.state == "returned"
        message = _("修正して市へ再提出しました。") if was_returned else _("修正を保存しました。")
        return post_form(
            form,
            "portal/applications/form.html",
            lambda: service.correct(
                application,
                form.version.data,
                form.received_on.data,
                form.details.data,
                form.attachments.data or [],
                **audit_context(),
            ),
            lambda: saved(message, endpoint="portal.applications.show", application_id=application.id),
            reread=lambda: HouseholdApplication.get_by_id(application.id),
            record="application",
            **context,
        )
    return form_page("portal/applications/form.html", form=form, **context)


@bp.post("/<int:application_id>/withdraw")
def withdraw(application_id: int):
    """取下げ of an application not yet decided."""
    application, household = _application(application_id, change=True)
    form = VersionOnlyForm()
    if not form.validate_on_submit():
        return form_page(
            "portal/applications/closed.html",
            status=422,
            household=household,
            application=application,
            label=label,
        )
    try:
        service.withdraw(application, form.version.data, **audit_context())
    except (ConflictError, RuleViolation):
        return form_page(
            "portal/applications/closed.html",
            status=409,
            household=household,
            application=application,
            label=label,
        )
    return saved(
        _("届出・申請を取り下げました。"), endpoint="portal.applications.show", application_id=application.id
    )
