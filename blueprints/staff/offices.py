"""The 公社 offices and their wards (officers): which office manages which ward's estates.

A ward's managing office decides what the contractors of each office see on the portal
(blueprints/portal/scoped.py), so reassigning one is an officer's decision, audited (ward.reassign)
and saved with the version read (409 with both versions when another officer saved first).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField

from blueprints.context import audit_context
from blueprints.staff.fields import VersionField
from blueprints.staff.inline import attach
from models import Office, Ward
from models.base import ConflictError
from services import offices as service
from services.editing import RuleViolation

bp = Blueprint("offices", __name__, url_prefix="/offices")

NONE = "none"


def _office_or_none(value):
    if value in (None, "", NONE):
        return None
    return int(value)


class WardOfficeForm(FlaskForm):
    """The office that manages a ward's estates (or none)."""

    version = VersionField()
    office = SelectField(
        _l("管理事務所"),
        coerce=_office_or_none,
        validate_choice=True,
        invalid_choice_message=_l("一覧から選んでください。"),
    )

    def load_choices(self) -> None:
        self.office.choices = [(NONE, _l("（管理事務所なし）"))] + [
            (o.id, f"{o.name}（{o.code}）") for o in Office.select().order_by(Office.code)
        ]


@bp.get("/")
def index():
    """Every office with its wards, estates and live contractor accounts; wards without an office."""
    rows, unassigned = service.overview()
    return render_template("staff/offices/index.html", rows=rows, unassigned=unassigned)


@bp.route("/wards/<int:ward_id>", methods=["GET", "POST"])
def ward(ward_id: int):
    """Reassign a ward to another office (officers)."""
    ward = service.ward_with_office(ward_id)
    if ward is None:
        abort(404)
    form = WardOfficeForm(
        data={"version": ward.version, "office": ward.office_id or NONE} if request.method == "GET" else None
    )
    form.load_choices()
    if request.method == "GET":
        return render_template("staff/offices/ward.html", ward=ward, form=form, conflict=None)
    if not form.validate_on_submit():
        return render_template("staff/offices/ward.html", ward=ward, form=form, conflict=None), 422
    try:
        changed = service.reassign_ward(ward, form.version.data, form.office.data, **audit_context())
    except ConflictError:
        current = service.ward_with_office(ward.id)
        form.version.data = current.version
        form.version.raw_data = [str(current.version)]
        return render_template("staff/offices/ward.html", ward=current, form=form, conflict=current), 409
    except RuleViolation as exc:
        attach(form, exc)
        return render_template("staff/offices/ward.html", ward=ward, form=form, conflict=None), 422
    if changed:
        flash(_("%(ward)sの管理事務所を変更しました。", ward=ward.name), "success")
    return redirect(url_for(".index"), code=303)


__all__ = ["bp", "Ward"]
