"""Small helpers the portal's form views share: a refusal beside its field, a conflict, a save."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, url_for
from peewee import JOIN

from blueprints.staff.inline import attach, rebase
from models import Household, Person
from models.base import ConflictError
from services.editing import RuleViolation

__all__ = ["attach", "conflict", "form_page", "head_of", "join_head", "post_form", "saved"]


def form_page(template: str, *, status: int = 200, **context):
    """A portal form page (a whole page: the portal's forms are plain POST + 303, with or without JS)."""
    return render_template(template, **context), status


def conflict(form, current, template: str, **context):
    """409: someone saved the record since this form was opened; both versions side by side."""
    return form_page(template, status=409, form=form, conflict=rebase(form, current), **context)


def saved(message: str, household_id: int | None = None, *, endpoint: str | None = None, **values):
    """After a save: a flash message and a 303 to the household's page (or another endpoint). The page
    opens at its top, where the message is; the record is in its 「公社の記録」 section."""
    flash(message, "success")
    if endpoint is None:
        return redirect(url_for("portal.households.show", household_id=household_id), code=303)
    return redirect(url_for(endpoint, **values), code=303)


def post_form(
    form,
    template: str,
    save: Callable,
    done: Callable,
    *,
    reread: Callable | None = None,
    record: str = "",
    **context,
):
    """A form's POST: validate, save(); a RuleViolation → 422 beside its field; a ConflictError (an edit:
    reread() is the record as saved now, shown as context[record]) → 409 side by side; else done()."""
    if not form.validate_on_submit():
        return form_page(template, status=422, form=form, **context)
    try:
        save()
    except ConflictError:
        if reread is None:
            raise
        current = reread()
        return conflict(form, current, template, **{**context, record: current})
    except RuleViolation as exc:
        attach(form, exc)
        return form_page(template, status=422, form=form, **context)
    return done()


def head_of(household, *columns):
    """The household's present 名義人 (id, name and the columns asked for), None when there is none."""
    return (
        Person.select(Person.id, Person.name, *columns)
        .where((Person.household == household.id) & Person.is_head & Person.member_to.is_null())
        .first()
    )


def join_head(query):
    """A list query (joined to Household) with the present 名義人's name, as row.head (outer join: a
    household without one keeps its row)."""
    head = Person.alias("head")
    return query.select_extend(head.name).join_from(
        Household,
        head,
        JOIN.LEFT_OUTER,
        on=(head.household == Household.id) & head.is_head & head.member_to.is_null(),
        attr="head",
    )
