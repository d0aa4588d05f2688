"""Household lookup on the portal: the search (POST only, as on the staff side) and one household.

The search is services.search with the user's scope (the office's households, services.access) and
the portal's own filters: an estate of the office and the status. The list shows no flag about income
or welfare (収入超過, 高額所得, 生活保護); the household page shows the allow-list of
services.portal_file and nothing else. Each search and each view is audited like a staff one.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from blueprints.context import audit_context
from blueprints.portal import scoped
from blueprints.portal.forms import SearchForm
from blueprints.staff import households as staff_households
from services import access, portal_file
from services import search as service
from services.household_file import label

bp = Blueprint("households", __name__, url_prefix="/households")

# The only flags the portal's list shows: what the agent's own work needs.
FLAG_LABELS = {
    "arrears": _l("滞納"),
    "inspection_expired": _l("車検切れ"),
}


def _render(form, result=None, *, status: int = 200):
    return staff_households.render_search(
        "portal/households", form, result, status=status, flag_labels=FLAG_LABELS
    )


@bp.route("/", methods=["GET", "POST"])
def index():
    """GET: the empty search form. POST: a page of the office's households that match."""
    form = SearchForm()
    form.load_choices(list(scoped.estates()), staff_households.STATUS_LABELS)
    if request.method == "GET":
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, status=422)
    filters = service.Filters(estate_id=form.estate.data, status=form.status.data or None)
    try:
        result = service.search(
            current_user, form.q.data, filters, page=staff_households.page_number(), **audit_context()
        )
    except service.SearchInvalid as invalid:
        staff_households.refuse_terms(form, invalid)
        return _render(form, status=422)
    except access.SearchRefused:
        form.q.errors = [
            *form.q.errors,
            _("氏名、住宅コード、世帯番号などの検索語を2文字以上入力してください。"),
        ]
        return _render(form, status=422)
    # Only the flags the portal may show travel to the template.
    result.rows = [replace(row, flags=tuple(f for f in row.flags if f in FLAG_LABELS)) for row in result.rows]
    return _render(form, result)


@bp.get("/<int:household_id>")
def show(household_id: int):
    """One household of the office: the portal's allow-list (services.portal_file), audited as a view."""
    household = scoped.household_or_404(household_id, fields=portal_file.SECTION_NAMES)
    file = portal_file.load(household.id)
    return render_template("portal/households/show.html", file=file, label=label)
