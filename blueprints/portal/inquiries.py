"""Residents' inquiries (問合せ) and repair requests (修繕依頼) logged by the 公社.

Both are the agent's own log about its households and units, recorded directly (they change nothing
of the tenant file). Inquiries use the city's inquiry form and rules (services.arrears): the office is
recorded on each, and the portal shows only inquiries logged through the portal (scoped.inquiries
says why). Repair requests belong to a unit of the office's estates, and to the household living
there when one does.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from peewee import JOIN

from blueprints.context import audit_context
from blueprints.portal import scoped
from blueprints.portal.forms import RepairEditForm, RepairForm
from blueprints.portal.views import form_page, head_of, join_head, post_form, saved
from blueprints.staff.arrears import InquiryEditForm, InquiryForm
from models import Building, Estate, Household, Inquiry, RepairRequest, Unit
from rules.filters import to_tokyo, today_tokyo
from services import arrears, editing, portal_file, repairs
from services.household_file import label

bp = Blueprint("inquiries", __name__, url_prefix="/inquiries")

LIST_ROWS = 200


@bp.get("/")
def index():
    """The office's inquiries: open ones first, then the latest."""
    show_all = request.args.get("all") == "1"
    query = scoped.inquiries()
    if not show_all:
        query = query.where(Inquiry.status != "closed")
    rows = list(
        join_head(
            query.select_extend(Household.id, Household.household_no).join_from(
                Inquiry, Household, JOIN.LEFT_OUTER
            )
        )
        .order_by((Inquiry.status != "open"), Inquiry.received_at.desc())
        .limit(LIST_ROWS)
    )
    portal_file.audit_list(
        "portal.inquiries.list", [i.household_id for i in rows], ["person.name", "inquiry.subject"],
        rows=len(rows), **audit_context(),
    )  # fmt: skip
    return render_template("portal/inquiries/index.html", rows=rows, show_all=show_all, label=label)


@bp.get("/repairs")
def repairs_index():
    """The office's repair requests: open ones (受付, 発注済) unless all are asked for."""
    show_all = request.args.get("all") == "1"
    query = scoped.repairs()
    if not show_all:
        query = query.where(RepairRequest.status.in_(repairs.OPEN))
    rows = list(
        query.select_extend(Unit.id, Unit.housing_code, Unit.room_number, Building.number, Estate.name)
        .join_from(RepairRequest, Unit)
        .join_from(Unit, Building)
        .join_from(Building, Estate)
        .order_by(RepairRequest.received_on.desc(), RepairRequest.id.desc())
        .limit(LIST_ROWS)
    )
    portal_file.audit_list(
        "portal.repairs.list", [r.household_id for r in rows], ["unit.room_number", "repair_request.content"],
        rows=len(rows), **audit_context(),
    )  # fmt: skip
    return render_template("portal/inquiries/repairs.html", rows=rows, show_all=show_all, label=label)


# --- inquiries ---------------------------------------------------------------------------------------


@bp.route("/household/<int:household_id>/new", methods=["GET", "POST"])
def new(household_id: int):
    """Log an inquiry about one of the office's households."""
    household = scoped.household_or_404(household_id, fields=["問合せ"], change=request.method == "POST")
    form = InquiryForm(prefix="inquiry_")
    context = {"household": household, "head": head_of(household), "inquiry": None}
    if request.method == "POST":
        return post_form(
            form,
            "portal/inquiries/form.html",
            lambda: arrears.create_inquiry(household.id, form.values(), **audit_context()),
            lambda: saved(_("問合せを記録しました。"), household.id),
            **context,
        )
    now = to_tokyo(dt.datetime.now(dt.UTC))
    form.received_on.data = now.date()
    form.received_time.data = now.time().replace(second=0, microsecond=0)
    form.status.data = "open"
    form.channel.data = "counter"
    return form_page("portal/inquiries/form.html", form=form, **context)


@bp.route("/<int:inquiry_id>/edit", methods=["GET", "POST"])
def edit(inquiry_id: int):
    """Answer or correct an inquiry (optimistic lock)."""
    inquiry = scoped.inquiry_or_404(inquiry_id)
    if inquiry.household_id is None:
        abort(404)  # the portal logs inquiries about a household only
    household = scoped.household_or_404(
        inquiry.household_id, fields=["問合せ"], change=request.method == "POST"
    )
    form = InquiryEditForm(obj=inquiry if request.method == "GET" else None, prefix="inquiry_")
    context = {"household": household, "head": head_of(household), "inquiry": inquiry}
    if request.method == "GET":
        received = to_tokyo(inquiry.received_at)
        form.received_on.data = received.date()
        form.received_time.data = received.time().replace(second=0, microsecond=0)
        form.version.data = inquiry.version
        return form_page("portal/inquiries/form.html", form=form, **context)
    return post_form(
        form,
        "portal/inquiries/form.html",
        lambda: editing.update(
            inquiry,
            form.version.data,
            arrears.inquiry_values(inquiry, form.values()),
            household_id=household.id,
            action="inquiry.update",
            **audit_context(),
        ),
        lambda: saved(_("問合せを保存しました。"), household.id),
        reread=lambda: Inquiry.get_by_id(inquiry.id),
        record="inquiry",
        **context,
    )


# --- repair requests ---------------------------------------------------------------------------------


@bp.route("/household/<int:household_id>/repairs/new", methods=["GET", "POST"])
def repair_new(household_id: int):
    """Log a repair request for the unit the household lives in (a unit of the office's estates)."""
    household = scoped.household_or_404(household_id, fields=["修繕依頼"], change=request.method == "POST")
    tenancies = portal_file.tenancies_of(household.id)
    current = next((t for t in tenancies if t.status == "active"), None)
    if current is None:
        abort(404)  # a household that has moved out has no unit to repair
    unit = scoped.unit_or_404(current.unit_id)
    form = RepairForm()
    context = {"household": household, "head": head_of(household), "unit": unit, "repair": None}
    if request.method == "POST":
        return post_form(
            form,
            "portal/inquiries/repair_form.html",
            lambda: repairs.create(
                unit.id, household.id, form.values(), office_id=scoped.office_or_403().id, **audit_context()
            ),
            lambda: saved(_("修繕依頼を記録しました。"), household.id),
            **context,
        )
    form.received_on.data = today_tokyo()
    form.status.data = "received"
    return form_page("portal/inquiries/repair_form.html", form=form, **context)


@bp.route("/repairs/<int:repair_id>/edit", methods=["GET", "POST"])
def repair_edit(repair_id: int):
    """Move a repair request on (発注済, 完了, 取消) or correct it (optimistic lock)."""
    repair = scoped.repair_or_404(repair_id)
    unit = scoped.unit_or_404(repair.unit_id)
    household = None
    if (
        repair.household_id is not None
        and scoped.households().where(Household.id == repair.household_id).exists()
    ):
        household = scoped.household_or_404(
            repair.household_id, fields=["修繕依頼"], change=request.method == "POST"
        )
    form = RepairEditForm(obj=repair if request.method == "GET" else None)
    context = {
        "household": household,
        "head": head_of(household) if household else None,
        "unit": unit,
        "repair": repair,
    }
    if request.method == "GET":
        return form_page("portal/inquiries/repair_form.html", form=form, **context)

    def done():
        if household is not None:
            return saved(_("修繕依頼を保存しました。"), household.id)
        return saved(_("修繕依頼を保存しました。"), endpoint="portal.inquiries.repairs_index")

    return post_form(
        form,
        "portal/inquiries/repair_form.html",
        lambda: repairs.update(repair, form.version.data, form.values(), **audit_context()),
        done,
        reread=lambda: RepairRequest.get_by_id(repair.id),
        record="repair",
        **context,
    )
