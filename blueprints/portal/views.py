"""Small helpers the portal's form views share: a refusal beside its field, a conflict, a save."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from blueprints.staff.inline import attach, conflict_rows

__all__ = ["attach", "conflict", "form_page", "saved"]


def form_page(template: str, *, status: int = 200, **context):
    """A portal form page (a whole page: the portal's forms are plain POST + 303, with or without JS)."""
    return render_template(template, **context), status


def conflict(form, current, template: str, **context):
    """409: someone saved the record since this form was opened; both versions side by side."""
    form.version.data = current.version
    form.version.raw_data = [str(current.version)]
    rows = conflict_rows(form, current, getattr(form, "columns", {}))
    return form_page(template, status=409, form=form, conflict=rows, **context)


def saved(message: str, household_id: int | None = None, *, endpoint: str | None = None, **values):
    """After a save: a flash message and a 303 to the household's page (or another endpoint). The page
    opens at its top, where the message is; the record is in its 「公社の記録」 section."""
    flash(message, "success")
    if endpoint is None:
        return redirect(url_for("portal.households.show", household_id=household_id), code=303)
    return redirect(url_for(endpoint, **values), code=303)
