"""Inline editing of the household file: one flow for every section, with and without JavaScript.

With htmx, the section's 編集 link fetches the form fragment into the section; the form posts back:

- invalid input → 422 and the same fragment with the messages beside the fields;
- someone saved the record in between → 409 and the fragment with both versions side by side
  (the form keeps what this user typed, now based on the newer version: saving again overwrites
  knowingly, 取消 keeps the other person's version);
- saved → the whole section re-rendered (the new row and its history line), swapped in place of the
  section (HX-Retarget) with a toast.

Without JavaScript the same URLs answer with a whole page holding the form, and a successful save
redirects (303) to the household page at the section, with a flash message.

    @bp.route("/<int:household_id>/members/<int:person_id>/edit", methods=["GET", "POST"])
    def edit_member(household_id, person_id):
        household = inline.household_or_404(household_id, section="members")
        person = ...
        return inline.edit_record(
            form=MemberForm(obj=person, version=person.version), instance=person,
            household=household, section="members", template="staff/household/_member_form.html",
            action="person.update", values=MemberForm.values, message=_("世帯員を保存しました。"),
            title=_("世帯員の編集"), context={"person": person})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.context import audit_context
from extensions import db, htmx
from services import access, editing, household_file
from services.vault import keyring_for


def wants_fragment() -> bool:
    """An htmx request for a part of the page (not a boosted or history-restore request)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def household_or_404(household_id: int, *, section: str, change: bool | None = None):
    """The household in the user's scope, or 404. GET is audited as a view of the section; a change
    (POST) is only scope-checked here (its own audit entry comes with the write)."""
    if change is None:
        change = request.method != "GET"
    try:
        if change:
            return access.household_for_change(current_user, household_id, **audit_context())
        return access.require_household(
            current_user,
            household_id,
            action="household.view",
            fields=[dict(household_file.SECTIONS).get(section, section)],
            **audit_context(),
        )
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)


def form_response(template: str, *, status: int = 200, title: str = "", household=None, **context):
    """The form fragment for htmx, or a whole page holding it."""
    context.setdefault("household", household)
    if wants_fragment():
        return render_template(template, **context), status
    return (
        render_template("staff/household/_edit_page.html", fragment=template, title=title, **context),
        status,
    )


def section_html(household, section: str, *, flags: bool = True) -> str:
    """One section of the household file, rendered from the database as it is now; with flags, the
    warnings at the top of the page too, swapped out of band (a save can add or clear one)."""
    file = household_file.load(household, keyring=keyring_for(current_app.config))
    context = {"file": file, "label": household_file.label, "mask_account": household_file.mask_account}
    html = render_template("staff/household/_section.html", id=section, **context)
    if flags:
        html += render_template("staff/household/_flags.html", oob=True, **context)
    return html


def on_household_page(household) -> bool:
    """Whether the htmx request comes from the household page (where the sections are to swap)."""
    current = request.headers.get("HX-Current-URL")
    if not current:
        return True  # htmx always sends it; without it, nothing says the page is elsewhere
    return urlsplit(current).path == url_for("staff.household.show", household_id=household.id)


def toast_header(message: str, level: str = "success") -> str:
    # ASCII escapes: a header carries Latin-1 only; htmx decodes the JSON back to Japanese.
    return json.dumps({"toast": {"message": message, "level": level}})


def saved(household, section: str, message: str):
    """After a save: the section again (htmx) or a redirect to it (a plain form post)."""
    if wants_fragment() and not on_household_page(household):
        # The form was open as a page of its own (a link opened in a new tab): go to the file.
        flash(message, "success")
        response = make_response("", 204)
        response.headers["HX-Redirect"] = (
            url_for("staff.household.show", household_id=household.id) + f"#{section}"
        )
        return response
    if wants_fragment():
        response = make_response(section_html(household, section))
        response.headers["HX-Retarget"] = f"#{section}"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = toast_header(message)
        return response
    flash(message, "success")
    return redirect(url_for("staff.household.show", household_id=household.id) + f"#{section}", code=303)


def conflict_rows(form, current, names: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(label, what this user typed, what is saved now) for each field that differs."""
    rows = []
    for field_name, column in names.items():
        field = form[field_name]
        mine = _display(field, field.data)
        theirs = _display(field, current.__data__.get(column))
        if mine != theirs:
            rows.append((str(field.label.text), mine, theirs))
    return rows


def rebase(form, current) -> list[tuple[str, str, str]]:
    """After a conflict: the form now based on the version saved (saving again overwrites knowingly,
    what this user typed is kept); returns the differences to show side by side."""
    form.version.data = current.version
    form.version.raw_data = [str(current.version)]
    return conflict_rows(form, current, getattr(form, "columns", {}))


def _display(field, value) -> str:
    if value is None:
        return ""
    if hasattr(field, "display"):
        return field.display(value)
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    choices = getattr(field, "choices", None)
    if choices:
        for choice in choices:
            code = getattr(choice, "value", None) or (choice[0] if isinstance(choice, tuple) else None)
            label = getattr(choice, "label", None) or (choice[1] if isinstance(choice, tuple) else None)
            if str(code) == str(value):
                return str(label)
    return str(value)


def attach(form, exc: editing.RuleViolation) -> None:
    """A business rule's refusal shown beside its field, or above the form when it names none."""
    message = str(exc.message)
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, message]
    else:
        form.form_errors.append(message)


def page_form(form, template: str, save: Callable, *, message: str, redirect_to: Callable, **context):
    """A form on a page of its own (no section to swap in). GET: the form. POST: validate, save(form)
    (a RuleViolation → 422 beside its field), then a flash message and a redirect (303) to
    redirect_to(what save returned)."""
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                result = save(form)
            except editing.RuleViolation as exc:
                attach(form, exc)
            else:
                flash(message, "success")
                return redirect(redirect_to(result), code=303)
        return render_template(template, form=form, **context), 422
    return render_template(template, form=form, **context)


def create_record(
    *,
    form,
    household,
    section: str,
    template: str,
    title: str,
    message: str,
    create: Callable,
    context: Mapping | None = None,
):
    """The creating twin of edit_record. GET: the empty form. POST: validate, create(form) (a
    RuleViolation → 422 beside its field), then the section again with a toast, or a redirect (303)
    without JavaScript."""
    context = {
        "form": form,
        "household": household,
        "section": section,
        "label": household_file.label,
        **(context or {}),
    }
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                create(form)
            except editing.RuleViolation as exc:
                attach(form, exc)
            else:
                return saved(household, section, message)
        return form_response(template, status=422, title=title, **context)
    return form_response(template, title=title, **context)


def versioned_form(
    form,
    template: str,
    title: str,
    context: dict,
    save: Callable,
    *,
    reread: Callable | None = None,
    on_saved: Callable,
    respond: Callable = form_response,
    gone: Callable | None = None,
):
    """The edit flow of a versioned record, whatever renders it. GET: the form. POST: validate,
    save(form) with the version read, then on_saved(changes); a RuleViolation → 422 beside its field;
    a ConflictError → 409 with the record as saved now (reread()) beside what this user typed, or
    gone() when reread() finds it deleted (by default, context["instance"] read again).
    respond(template, status=, title=, **context) renders."""
    if request.method != "POST":
        return respond(template, title=title, **context)
    if not form.validate_on_submit():
        return respond(template, status=422, title=title, **context)
    try:
        changes = save(form)
    except editing.ConflictError:
        if reread is None:
            instance = context["instance"]
            current = type(instance).get_by_id(instance.id)
        else:
            current = reread()
        if current is None and gone is not None:
            return gone()
        context.update(instance=current, conflict=rebase(form, current))
        return respond(template, status=409, title=title, **context)
    except editing.RuleViolation as exc:
        attach(form, exc)
        return respond(template, status=422, title=title, **context)
    return on_saved(changes)


def edit_record(
    *,
    form,
    instance,
    household,
    section: str,
    template: str,
    action: str,
    values: Callable,
    message: str,
    title: str,
    context: Mapping | None = None,
    household_id_for_audit: int | None = -1,
    after_save: Callable | None = None,
):
    """GET: the form. POST: validate, save with the version read, answer 422 / 409 / the section.

    values(form) → {column: value} to save; it may raise editing.RuleViolation (422, the message
    beside its field). values(), the save and after_save(instance, changes) run in one transaction. Columns named by the form fields (form.columns, {field: column}) are compared
    for the conflict view. household_id_for_audit: the household the audit entry is filed under
    (default: household.id; None files it under the record's own table).
    """
    context = dict(context or {})
    context.update(form=form, household=household, section=section, instance=instance)
    audit_household = household.id if household_id_for_audit == -1 and household is not None else None
    if household_id_for_audit not in (-1, None):
        audit_household = household_id_for_audit

    def save(form):
        # The rule checks in values() (which may lock the household), the save and its follow-up
        # (after_save) see the same rows and commit together.
        with db.atomic():
            changes = editing.update(
                instance,
                form.version.data,
                values(form),
                household_id=audit_household,
                action=action,
                **audit_context(),
            )
            if after_save is not None:
                after_save(instance, changes)
            return changes

    def on_saved(changes):
        if household is None:
            return None
        return saved(household, section, message if changes else _("変更はありませんでした。"))

    return versioned_form(form, template, title, context, save, on_saved=on_saved)
