"""Move-in and move-out procedures (入居手続・退去手続) recorded by the 公社 for its tenancies.

Recorded directly, without the city's approval: they are the agent's own work records (keys,
inspection, repairs needed), not changes to the tenant file (services/move_procedures.py says why).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from peewee import JOIN

from blueprints.context import audit_context
from blueprints.portal import scoped
from blueprints.portal.forms import ProcedureEditForm, ProcedureForm
from blueprints.portal.views import form_page, head_of, post_form, saved
from models import Building, Estate, Household, MoveProcedure, Person, Tenancy, Unit, User
from services import move_procedures, portal_file
from services.household_file import label

bp = Blueprint("procedures", __name__, url_prefix="/procedures")

LIST_ROWS = 100


@bp.get("/")
def index():
    """The office's latest procedures, newest first (households named by their head)."""
    head = Person.alias("head")
    recorder = User.alias("recorder")
    rows = list(
        scoped.procedures()
        .select_extend(
            Household.id, Household.household_no, Unit, Building, Estate, head.name, recorder.display_name
        )
        .join_from(Tenancy, Household)
        .join_from(Tenancy, Unit)
        .join_from(Unit, Building)
        .join_from(Building, Estate)
        .join_from(
            Household,
            head,
            on=(head.household == Household.id) & head.is_head & head.member_to.is_null(),
            attr="head",
            join_type=JOIN.LEFT_OUTER,
        )
        .join_from(MoveProcedure, recorder, on=(MoveProcedure.recorded_by == recorder.id), attr="recorder")
        .order_by(MoveProcedure.updated_at.desc(), MoveProcedure.id.desc())
        .limit(LIST_ROWS)
    )
    portal_file.audit_list(
        "portal.procedures.list",
        [p.tenancy.household_id for p in rows],
        ["person.name", "move_procedure.repair_needs"],
        rows=len(rows),
        **audit_context(),
    )
    return render_template("portal/procedures/index.html", rows=rows, label=label, limit=LIST_ROWS)


def _tenancy_of(household) -> Tenancy:
    tenancies = portal_file.tenancies_of(household.id)
    current = next((t for t in tenancies if t.status == "active"), tenancies[0] if tenancies else None)
    if current is None:
        abort(404)
    return scoped.tenancy_or_404(household, current.id)


@bp.route("/household/<int:household_id>/new", methods=["GET", "POST"])
def new(household_id: int):
    """Record a procedure for the household's current tenancy (the one in the office's estates)."""
    household = scoped.household_or_404(household_id, fields=["入退去手続"], change=request.method == "POST")
    tenancy = _tenancy_of(household)
    form = ProcedureForm()
    context = {
        "household": household,
        "tenancy": tenancy,
        "head": head_of(household, Person.name_kana),
        "label": label,
    }
    if request.method == "POST":
        return post_form(
            form,
            "portal/procedures/form.html",
            lambda: move_procedures.record(
                tenancy, form.kind.data, form.values(), office_id=scoped.office_or_403().id, **audit_context()
            ),
            lambda: saved(_("入退去手続を記録しました。"), household.id),
            **context,
        )
    return form_page("portal/procedures/form.html", form=form, **context)


@bp.route("/<int:procedure_id>/edit", methods=["GET", "POST"])
def edit(procedure_id: int):
    """Correct a procedure (optimistic lock: 409 with both versions when someone saved first)."""
    procedure = scoped.procedure_or_404(procedure_id)
    tenancy = Tenancy.get_by_id(procedure.tenancy_id)
    household = scoped.household_or_404(
        tenancy.household_id, fields=["入退去手続"], change=request.method == "POST"
    )
    tenancy = scoped.tenancy_or_404(household, tenancy.id)
    form = ProcedureEditForm(obj=procedure if request.method == "GET" else None)
    context = {
        "household": household,
        "tenancy": tenancy,
        "head": head_of(household, Person.name_kana),
        "procedure": procedure,
        "label": label,
    }
    if request.method == "POST":
        return post_form(
            form,
            "portal/procedures/form.html",
            lambda: move_procedures.update(procedure, form.version.data, form.values(), **audit_context()),
            lambda: saved(_("入退去手続を修正しました。"), household.id),
            reread=lambda: MoveProcedure.get_by_id(procedure.id),
            record="procedure",
            **context,
        )
    return form_page("portal/procedures/form.html", form=form, **context)
