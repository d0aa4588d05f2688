"""承認待ち: the changes the 公社 entered on the portal, waiting for a city staff member (SPEC §5).

    /staff/approvals/                 the submitted changes, oldest first (by office, household number)
    /staff/approvals/<id>             one change: the before/after diff, approve or return with a comment
    /staff/approvals/<id>/approve     POST: apply it (services.pending_changes.approve)
    /staff/approvals/<id>/return      POST: back to the agent with a comment (差戻し)

City roles only (the policy table): an agent opens none of these (403), and the service refuses the
maker approving their own change whatever the role. With htmx the review box is replaced in place
(422 with the message beside the comment or above the buttons, 409 when someone decided it first);
without JavaScript the same forms post and redirect (303) to the list with a flash message.
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import NoteField, TextField, VersionField, optional, required
from models import Household, Office, PendingChange, Person, User
from models.base import ConflictError
from rules.filters import to_tokyo, today_tokyo
from services import access, audit
from services import pending_changes as service
from services.vault import keyring_for

bp = Blueprint("approvals", __name__, url_prefix="/approvals")

PAGE_SIZE = 100
REVIEW_TEMPLATE = "staff/approvals/_review.html"


class ApproveForm(FlaskForm):
    """承認: the version of the change the reviewer read."""

    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="approve_", **kwargs)


class ReturnForm(FlaskForm):
    """差戻し: what the agent has to correct (shown to the agent)."""

    version = VersionField()
    comment = NoteField(
        _l("差戻しの理由"),
        [required(_l("差戻しの理由を入力してください。公社の担当者に表示されます。"))],
        max_length=service.COMMENT_MAX,
        description=_l("公社の担当者に表示されます。何を確認・修正すればよいかを書いてください。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="return_", **kwargs)


class FilterForm(FlaskForm):
    """The list's filter (GET): office and household number."""

    class Meta:
        csrf = False

    household_no = TextField(_l("世帯番号"), [optional()], max_length=20)


def _id_or_none(value) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


# --- the list ------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    """The submitted changes of every office, oldest first; filter by office and household number."""
    offices = list(Office.select(Office.id, Office.name, Office.code).order_by(Office.code))
    office_id = _id_or_none(request.args.get("office", ""))
    if office_id not in {o.id for o in offices}:
        office_id = None
    form = FilterForm(request.args)
    form.validate()
    maker = User.alias("maker")
    query = (
        PendingChange.select(PendingChange, Office, Household.id, Household.household_no, maker.display_name)
        .join(Office)
        .switch(PendingChange)
        .join(Household)
        .switch(PendingChange)
        .join(maker, on=(PendingChange.submitted_by == maker.id), attr="maker")
        .where(
            (PendingChange.state == "submitted")
            & PendingChange.household.in_(access.visible_households(current_user))
        )
        .order_by(PendingChange.submitted_at, PendingChange.id)
    )
    if office_id is not None:
        query = query.where(PendingChange.office == office_id)
    if form.household_no.data and not form.household_no.errors:
        query = query.where(Household.household_no == form.household_no.data)
    total = query.count()
    rows = list(query.limit(PAGE_SIZE))
    heads = _heads({row.household_id for row in rows})
    shown = sorted({row.household_id for row in rows})
    audit.record(
        "approvals.list",
        target_table="household",
        target_ids=shown,
        fields=["household.household_no", "person.name", "pending_change.state"],
        reason=f"rows={len(rows)}; office={office_id or '-'}",
        **audit_context(),
    )
    now = dt.datetime.now(dt.UTC)
    return render_template(
        "staff/approvals/index.html",
        rows=rows,
        heads=heads,
        total=total,
        offices=offices,
        office_id=office_id,
        form=form,
        kind_label=service.kind_label,
        age_days=lambda at: (to_tokyo(now).date() - to_tokyo(at).date()).days,
        page_size=PAGE_SIZE,
    )


def _heads(household_ids) -> dict[int, str]:
    """{household id: the current head's name} in one query."""
    ids = list(household_ids)
    if not ids:
        return {}
    today = today_tokyo()
    rows = Person.select(Person.household, Person.name).where(
        Person.household.in_(ids)
        & Person.is_head
        & (Person.member_to.is_null() | (Person.member_to >= today))
    )
    return {row.household_id: row.name for row in rows}


# --- one change ------------------------------------------------------------------------------------------


def _change_or_404(change_id: int) -> tuple[PendingChange, Household]:
    change = PendingChange.get_or_none(PendingChange.id == change_id)
    if change is None or change.household_id is None:
        abort(404)
    try:
        if request.method == "GET":
            household = access.require_household(
                current_user,
                change.household_id,
                action="household.view",
                fields=["承認待ちの変更"],
                **audit_context(),
            )
        else:
            household = access.household_for_change(current_user, change.household_id, **audit_context())
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)
    return change, household


def _context(change: PendingChange, household: Household, **extra) -> dict:
    maker = User.get_by_id(change.submitted_by_id)
    reviewer = User.get_or_none(User.id == change.reviewed_by_id) if change.reviewed_by_id else None
    return {
        "change": change,
        "household": household,
        "head": _heads([household.id]).get(household.id),
        "office": Office.get_by_id(change.office_id),
        "maker": maker,
        "reviewer": reviewer,
        "described": service.describe(change),
        "stale": service.stale_reason(change) if change.state == "submitted" else None,
        "preview": service.declaration_preview(change) if change.state == "submitted" else None,
        "own": change.submitted_by_id == current_user.id,
        "approve_form": extra.pop("approve_form", None) or ApproveForm(formdata=None, version=change.version),
        "return_form": extra.pop("return_form", None) or ReturnForm(formdata=None, version=change.version),
        **extra,
    }


@bp.get("/<int:change_id>")
def show(change_id: int):
    """One change: who entered it and when, the before/after diff, and the decision."""
    change, household = _change_or_404(change_id)
    context = _context(change, household)
    if inline.wants_fragment():
        return render_template(REVIEW_TEMPLATE, **context)
    return render_template("staff/approvals/show.html", **context)


def _answer(change, household, *, status: int, **extra):
    """The review box again (htmx) or the whole page (a plain post that failed)."""
    context = _context(change, household, **extra)
    if inline.wants_fragment():
        return render_template(REVIEW_TEMPLATE, **context), status
    return render_template("staff/approvals/show.html", **context), status


def _decided(change, household, message: str):
    if inline.wants_fragment():
        fresh = PendingChange.get_by_id(change.id)
        response = make_response(render_template(REVIEW_TEMPLATE, **_context(fresh, household, done=message)))
        response.headers["HX-Trigger"] = inline.toast_header(message)
        return response
    flash(message, "success")
    return redirect(url_for(".index"), code=303)


def _conflict(change, household):
    fresh = PendingChange.get_by_id(change.id)
    return _answer(
        fresh,
        household,
        status=409,
        error=_(
            "この変更は、ほかの職員が先に処理したか、公社が取り下げ・再提出しました。内容を確認してください。"
        ),
    )


@bp.post("/<int:change_id>/approve")
def approve(change_id: int):
    """Apply the change (one transaction through the file's services) and mark it 承認."""
    change, household = _change_or_404(change_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _answer(
            change,
            household,
            status=422,
            approve_form=form,
            error=_("画面を開き直して、もう一度操作してください。"),
        )
    try:
        service.approve(
            change,
            current_user._get_current_object(),
            expected_version=form.version.data,
            keyring=keyring_for(current_app.config),
            session_ref=audit_context()["session_ref"],
            ip=request.remote_addr,
        )
    except service.NotAllowed as exc:
        return _answer(change, household, status=403, error=str(exc.message))
    except ConflictError:
        return _conflict(change, household)
    except service.Refused as exc:
        return _answer(change, household, status=422, error=str(exc.message), refused_stale=exc.stale)
    return _decided(change, household, _("承認しました。世帯の記録に反映しました。"))


@bp.post("/<int:change_id>/return")
def return_(change_id: int):
    """差戻し with a comment (required), which the agent sees on the portal."""
    change, household = _change_or_404(change_id)
    form = ReturnForm()
    if not form.validate_on_submit():
        return _answer(change, household, status=422, return_form=form)
    try:
        service.return_(
            change,
            current_user._get_current_object(),
            form.comment.data,
            expected_version=form.version.data,
            session_ref=audit_context()["session_ref"],
            ip=request.remote_addr,
        )
    except service.NotAllowed as exc:
        return _answer(change, household, status=403, error=str(exc.message))
    except ConflictError:
        return _conflict(change, household)
    except service.RuleViolation as exc:
        inline.attach(form, exc)
        return _answer(change, household, status=422, return_form=form)
    return _decided(change, household, _("差し戻しました。公社の画面にコメントが表示されます。"))
