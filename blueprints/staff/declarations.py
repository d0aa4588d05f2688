"""収入申告の年次処理（7月の収入申告書の送付、提出状況の管理、督促）.

    /staff/declarations/                                 fiscal years and their declarations per status
    /staff/declarations/<fy>                             one year: counts, the households (estate, status,
                                                         overdue), bulk actions, the notices printed
    /staff/declarations/<fy>/start                       confirm, then send: 送付済 for every household in
                                                         residence without a declaration, forms printed
    /staff/declarations/<fy>/not-submitted               after the deadline: 送付済 → 未提出 (bulk)
    /staff/declarations/<fy>/reminders                   confirm, then issue 収入申告督促状 (a job)
    /staff/declarations/<fy>/<declaration id>/status     法34条調査 / 税情報で認定 with a note

Figures are never entered here: each row links to the household's entry screen (staff.income.edit),
where services.declarations computes them. Starting the cycle and issuing reminders are routine
staff work (the forms and the reminders decide nothing); both print in a background job whose
progress page shows the PDF when it is done. Plain forms answer 303 (or 422 with the message beside
the field); the list's filters are a GET form (estate, status and a flag: nothing personal in the
URL), swapped in place with htmx.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, ValidationError

from blueprints.context import audit_context
from blueprints.staff.fields import NoteField, VersionField, required
from extensions import htmx
from models import Estate, IncomeDeclaration, Job, NoticeRun
from rules.filters import today_tokyo
from services import access, declarations, jobs
from services import declaration_cycle as service

bp = Blueprint("declarations", __name__, url_prefix="/declarations")

# i18n: the status of a household's income declaration in the yearly cycle
STATUS_LABELS = {
    "sent": _l("送付済"),
    "submitted": _l("提出済"),
    "not_submitted": _l("未提出"),
    "reminded": _l("督促済"),
    "investigation": _l("法34条調査"),
    "tax_certified": _l("税情報で認定"),
}

JOB_KINDS = (service.FORMS_JOB, service.REMINDERS_JOB)
# i18n: the state of a background job and the notices printed, in the year's list of prints
JOB_STATE_LABELS = {"queued": _l("待機中"), "running": _l("実行中"), "done": _l("完了"), "failed": _l("失敗")}
NOTICE_LABELS = {"income_declaration": _l("収入申告書"), "declaration_reminder": _l("収入申告督促状")}


class ConfirmForm(FlaskForm):
    """A confirmation (the CSRF token is the whole form)."""


class StatusForm(FlaskForm):
    """法34条調査 or 税情報で認定, with what was asked or which extract the figures come from."""

    status = RadioField(
        _l("申告状況"),
        choices=[
            SelectChoice("investigation", _l("法34条調査（市が税務署・官公署に収入を照会する）")),
            SelectChoice("tax_certified", _l("税情報で認定（市民税の課税情報から収入を認定する）")),
        ],
        validators=[required(_l("申告状況を選んでください。"))],
        validate_choice=False,
    )
    note = NoteField(
        _l("備考"),
        [required(_l("備考を入力してください（照会の内容、税情報の抽出ファイルなど）。"))],
        max_length=service.MAX_NOTE,
        description=_l(
            "法34条調査: 照会先と照会日。税情報で認定: 課税年度と抽出ファイル（例: 令和8年度 市民税 6月抽出）。"
            "個人番号は書かないでください。"
        ),
    )
    version = VersionField()

    def validate_status(self, field):
        if field.data not in service.SET_BY_NOTE:
            raise ValidationError(str(_l("申告状況を選んでください。")))


# --- helpers ---------------------------------------------------------------------------------------------


def _year_or_404(fiscal_year: int) -> int:
    if not service.MIN_FISCAL_YEAR <= fiscal_year <= declarations.latest_fiscal_year() + 1:
        abort(404)
    return fiscal_year


def _job_url(job) -> str:
    """The job's progress page (the PDF link appears there when it is done)."""
    return url_for("staff.jobs.show", job_id=job.id)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _filters(estates) -> service.Filters:
    status = request.args.get("status") or None
    estate_id = _int_arg("estate")
    return service.Filters(
        estate_id=estate_id if estate_id in {e.id for e in estates} else None,
        status=status if status in STATUS_LABELS else None,
        overdue=request.args.get("overdue") == "1",
    )


def _recent_jobs(fiscal_year: int) -> list[Job]:
    """The cycle's jobs for the year (printing, reminders), newest first."""
    found = []
    for job in Job.select().where(Job.kind.in_(JOB_KINDS)).order_by(Job.id.desc()).limit(50):
        if jobs.params_of(job).get("fiscal_year") == fiscal_year:
            found.append(job)
    return found[:10]


def _runs(fiscal_year: int) -> list[NoticeRun]:
    return list(
        NoticeRun.select()
        .where(
            (NoticeRun.fiscal_year == fiscal_year)
            & NoticeRun.kind.in_(("income_declaration", "declaration_reminder"))
            & NoticeRun.file_sha256.is_null(False)
        )
        .order_by(NoticeRun.id.desc())
        .limit(20)
    )


def _parse_picks(values: list[str]) -> list[tuple[int, int]]:
    picks = []
    for value in values[: service.PER_PAGE * 4]:
        ident, _sep, version = value.partition(":")
        readable = all(part.isascii() and part.isdigit() and len(part) < 10 for part in (ident, version))
        if readable:
            picks.append((int(ident), int(version)))
    return picks


# --- pages -----------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    """The fiscal years of the cycle with their declarations per status."""
    today = today_tokyo()
    return render_template(
        "staff/declarations/index.html",
        years=service.fiscal_years(today),
        today=today,
        status_labels=STATUS_LABELS,
        current_year=declarations.current_fiscal_year(today),
    )


@bp.get("/<int:fiscal_year>")
def year(fiscal_year: int):
    """One fiscal year: counts per status, the households (filtered, paged), actions and printed notices."""
    _year_or_404(fiscal_year)
    today = today_tokyo()
    estates = list(Estate.select(Estate.id, Estate.name, Estate.code).order_by(Estate.code))
    filters = _filters(estates)
    page = service.list_rows(current_user, fiscal_year, filters, page=_int_arg("page") or 1, today=today)
    service.audit_list(fiscal_year, page, filters, **audit_context())
    summary = service.year_summary(fiscal_year)
    context = {
        "fiscal_year": fiscal_year,
        "summary": summary,
        "page": page,
        "filters": filters,
        "estates": estates,
        "status_labels": STATUS_LABELS,
        "today": today,
        "overdue": summary.overdue(today),
        "bulk_form": ConfirmForm(),
    }
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        return render_template("staff/declarations/_list.html", **context)
    context.update(
        jobs_list=_recent_jobs(fiscal_year),
        runs=_runs(fiscal_year),
        job_label=jobs.label_of,
        job_states=JOB_STATE_LABELS,
        notice_kinds=NOTICE_LABELS,
    )
    return render_template("staff/declarations/year.html", **context)


@bp.route("/<int:fiscal_year>/start", methods=["GET", "POST"])
def start(fiscal_year: int):
    """GET: what starting the cycle will do. POST: do it, then show the printing job's progress."""
    _year_or_404(fiscal_year)
    form = ConfirmForm()
    summary = service.year_summary(fiscal_year)
    error = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                started = service.start(fiscal_year, **audit_context())
            except service.CycleRefused as refused:
                error = refused.message
            else:
                if started.job is None:
                    flash(_("新たに収入申告書を送付する世帯はありません（全世帯に送付済です）。"), "info")
                    return redirect(url_for(".year", fiscal_year=fiscal_year), code=303)
                flash(
                    _(
                        "%(count)s世帯の収入申告を「送付済」にしました。収入申告書を印刷しています。",
                        count=started.created,
                    ),
                    "success",
                )
                return redirect(_job_url(started.job), code=303)
        else:
            error = _("画面を開き直してください。")
    return render_template(
        "staff/declarations/start.html",
        form=form,
        fiscal_year=fiscal_year,
        summary=summary,
        deadline=summary.deadline,
        error=error,
    ), (422 if error else 200)


@bp.post("/<int:fiscal_year>/not-submitted")
def not_submitted(fiscal_year: int):
    """After the deadline: the picked (or every) 送付済 declaration becomes 未提出; 提出済 ones are untouched."""
    _year_or_404(fiscal_year)
    form = ConfirmForm()
    back = url_for(".year", fiscal_year=fiscal_year)
    if not form.validate_on_submit():
        abort(400)
    everyone = request.form.get("scope") == "all"
    picks = None if everyone else _parse_picks(request.form.getlist("pick"))
    if picks is not None:  # only rows of households the user may see
        visible = {
            ident
            for (ident,) in IncomeDeclaration.select(IncomeDeclaration.id)
            .where(
                IncomeDeclaration.id.in_([ident for ident, _version in picks])
                & IncomeDeclaration.household.in_(access.visible_households(current_user))
            )
            .tuples()
        }
        picks = [pick for pick in picks if pick[0] in visible]
    try:
        result = service.mark_not_submitted(fiscal_year, picks, **audit_context())
    except service.CycleRefused as refused:
        flash(refused.message, "error")
        return redirect(back, code=303)
    flash(_("%(count)s世帯を「未提出」にしました。", count=result.changed), "success")
    if result.skipped:
        flash(
            _(
                "%(count)s世帯は変更しませんでした（送付済でない、または他の職員が先に更新しました）。",
                count=result.skipped,
            ),
            "warning",
        )
    return redirect(back, code=303)


@bp.route("/<int:fiscal_year>/reminders", methods=["GET", "POST"])
def reminders(fiscal_year: int):
    """GET: who gets a 収入申告督促状. POST: issue them (a job), then show its progress."""
    _year_or_404(fiscal_year)
    form = ConfirmForm()
    summary = service.year_summary(fiscal_year)
    targets = service.reminder_targets(fiscal_year).count()
    error = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                job = service.issue_reminders(fiscal_year, **audit_context())
            except service.CycleRefused as refused:
                error = refused.message
            else:
                flash(_("%(count)s世帯への督促状を作成しています。", count=targets), "success")
                return redirect(_job_url(job), code=303)
        else:
            error = _("画面を開き直してください。")
    return render_template(
        "staff/declarations/reminders.html",
        form=form,
        fiscal_year=fiscal_year,
        summary=summary,
        targets=targets,
        today=today_tokyo(),
        reply_by=service.reminder_deadline(today_tokyo()),
        error=error,
    ), (422 if error else 200)


@bp.route("/<int:fiscal_year>/<int:declaration_id>/status", methods=["GET", "POST"])
def status(fiscal_year: int, declaration_id: int):
    """法34条調査 or 税情報で認定 for one household that has not declared, with a note."""
    _year_or_404(fiscal_year)
    declaration = IncomeDeclaration.get_or_none(
        (IncomeDeclaration.id == declaration_id) & (IncomeDeclaration.fiscal_year == fiscal_year)
    )
    if declaration is None:
        abort(404)
    try:
        if request.method == "GET":
            household = access.require_household(
                current_user,
                declaration.household_id,
                action="household.view",
                fields=["income_declaration"],
                **audit_context(),
            )
        else:
            household = access.household_for_change(current_user, declaration.household_id, **audit_context())
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)
    form = StatusForm(data={"version": declaration.version, "status": declaration.status})
    code = 200
    conflict = False
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.set_status(
                    declaration.id, form.version.data, form.status.data, form.note.data, **audit_context()
                )
            except service.CycleRefused as refused:
                target = getattr(form, refused.field, None) if refused.field else None
                if target is not None:
                    target.errors = [*target.errors, refused.message]
                else:
                    form.form_errors.append(refused.message)
                code = 422
            except service.ConflictError:
                conflict = True
                declaration = IncomeDeclaration.get_by_id(declaration.id)
                form.version.data = declaration.version
                form.version.raw_data = [str(declaration.version)]
                code = 409
            else:
                flash(
                    _(
                        "世帯番号%(no)sの申告状況を「%(status)s」にしました。収入は収入申告の入力画面で入力してください。",
                        no=household.household_no,
                        status=STATUS_LABELS[form.status.data],
                    ),
                    "success",
                )
                return redirect(url_for(".year", fiscal_year=fiscal_year), code=303)
        else:
            code = 422
    return render_template(
        "staff/declarations/status.html",
        form=form,
        fiscal_year=fiscal_year,
        declaration=declaration,
        household=household,
        status_labels=STATUS_LABELS,
        changeable=declaration.status in service.CHANGEABLE,
        conflict=conflict,
    ), code
