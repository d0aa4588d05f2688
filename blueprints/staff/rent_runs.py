"""年次家賃決定 (the yearly rent run): start it, follow it, read its preview, approve or cancel it.

    /staff/rent/runs/                    the runs, and starting the next fiscal year's (city staff)
    /staff/rent/runs/<id>                the run: progress while computing, then the preview (filters, pages)
    /staff/rent/runs/<id>/progress       the progress fragment htmx polls while the run computes
    /staff/rent/runs/<id>/approve        POST, an officer who did not start the run (four-eyes)
    /staff/rent/runs/<id>/cancel         POST, while computing or waiting for approval

Starting and approving queue background jobs (services.jobs): the computation, then the approval's
batches and the three kinds of notices; each job has its page (/staff/jobs/<id>). Views are thin:
services.rent_run checks roles, states and four-eyes, writes and audits. The preview shows household
numbers, dwellings and rents (no names) of the households the user may see (services.access), and its
counts cover those only; each page of it is audited with the households it shows. An approval that
finds drafts gone stale puts them right and comes back to the run with a message (approve again).
Works without JavaScript (plain GET filters, POST + 303); with htmx the progress refreshes itself.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from blueprints.context import audit_context
from models import RentRun
from models.income import RUN_STATES
from services import audit, jobs, masters, rent_run

bp = Blueprint("rent_runs", __name__, url_prefix="/rent/runs")


class ActionForm(FlaskForm):
    """A POST with its CSRF token and nothing else (start, approve, cancel)."""


def _id_or_none(value):
    if value in (None, ""):
        return None
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


class PreviewFilterForm(FlaskForm):
    """The preview's filters (GET: codes and ids only, no personal data in the URL)."""

    class Meta:
        csrf = False

    changed = BooleanField(_l("変更がある世帯のみ"))
    problems = BooleanField(_l("計算できない世帯のみ"))
    reason = SelectField(_l("変更の理由"), default="", validate_choice=True)
    estate = SelectField(_l("団地"), coerce=_id_or_none, validate_choice=True)

    def load_choices(self, run: RentRun) -> None:
        from models.rent_runs import REASONS

        self.reason.choices = [("", _l("すべて"))] + [
            (code, rent_run.reason_label(code)) for code, _label in REASONS
        ]
        self.estate.choices = [("", _l("すべて"))] + rent_run.estates_in(run)

    def filters(self) -> rent_run.Filters:
        return rent_run.Filters(
            changed_only=bool(self.changed.data),
            reason=self.reason.data or None,
            estate_id=self.estate.data,
            problems_only=bool(self.problems.data),
        )


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else 1


def _run_or_404(run_id: int) -> RentRun:
    run = RentRun.get_or_none(RentRun.id == run_id)
    if run is None:
        abort(404)
    return run


def _can_approve(run: RentRun) -> bool:
    try:
        rent_run.check_approver(run, current_user)
    except rent_run.RunRefused:
        return False
    return run.state == "preview"


@bp.get("/")
def index():
    """The runs, newest first, and the button that starts (or resumes) the next fiscal year's."""
    fiscal_year = rent_run.next_fiscal_year()
    return render_template(
        "staff/rent_runs/index.html",
        runs=rent_run.runs(),
        fiscal_year=fiscal_year,
        current=rent_run.current_run(fiscal_year),
        form=ActionForm(),
        fiscal_label=rent_run.fiscal_label,
        user_name=rent_run.user_name,
    )


@bp.post("/start")
def start():
    """Start the next fiscal year's run (or continue it) as a background job; to the run's page."""
    form = ActionForm()
    if not form.validate():
        abort(400)
    fiscal_year = rent_run.next_fiscal_year()
    context = audit_context()
    try:
        run = rent_run.start(fiscal_year, current_user, **{k: v for k, v in context.items() if k != "actor"})
    except masters.MasterMissing:
        flash(
            _("%(year)s年度の家賃のマスタが登録されていないため、開始できません。", year=fiscal_year), "error"
        )
        return redirect(url_for(".index"), code=303)
    if run.state == "running" and not _active_job(run, "rent_run.compute"):
        rent_run.submit_compute(run, current_user, session_ref=context["session_ref"], ip=context["ip"])
        flash(_("家賃の計算を開始しました。"), "success")
    return redirect(url_for(".show", run_id=run.id), code=303)


def _active_job(run: RentRun, kind: str):
    return next((job for job in rent_run.jobs_of(run, kind) if job.state in ("queued", "running")), None)


def _context(run: RentRun) -> dict:
    return {
        "run": run,
        "fiscal_label": rent_run.fiscal_label,
        "user_name": rent_run.user_name,
        "compute_job": (rent_run.jobs_of(run, "rent_run.compute") or [None])[-1],
        "approve_job": (rent_run.jobs_of(run, "rent_run.approve") or [None])[-1],
        "notice_runs": rent_run.notice_runs(run),
        "state_label": dict(RUN_STATES).get,
        "can_approve": _can_approve(run),
        "form": ActionForm(),
    }


@bp.get("/<int:run_id>")
def show(run_id: int):
    """The run: progress while it computes; then its counts, totals and the preview, page by page."""
    run = _run_or_404(run_id)
    form = PreviewFilterForm(request.args)
    form.load_choices(run)
    status, page = 200, None
    if form.validate():
        page = rent_run.preview(run, form.filters(), _page_number(), viewer=current_user)
        audit.record(
            "rent_run.read",
            target_table="household",
            target_ids=[row.household_id for row in page.rows],
            reason=f"rent_run {run.id} page={page.page}",
            **audit_context(),
        )
    else:
        status = 422
    return render_template(
        "staff/rent_runs/show.html",
        filters=form,
        page=page,
        summary=rent_run.summary(run, viewer=current_user),
        page_args={k: v for k, v in request.args.items() if k != "page"},
        reason_label=rent_run.reason_label,
        status_labels=rent_run.STATUS_LABELS,
        problem_labels=rent_run.PROBLEM_LABELS,
        job_label=jobs.label_of,
        **_context(run),
    ), status


@bp.get("/<int:run_id>/progress")
def progress(run_id: int):
    """The progress fragment (htmx polls it while the run computes; a whole page without htmx)."""
    run = _run_or_404(run_id)
    if not request.headers.get("HX-Request"):
        return redirect(url_for(".show", run_id=run.id), code=303)
    response = make_response(render_template("staff/rent_runs/_progress.html", **_context(run)))
    if run.state != "running":
        response.headers["HX-Refresh"] = "true"  # computed: reload the page, which now shows the preview
    return response


@bp.post("/<int:run_id>/approve")
def approve(run_id: int):
    """Approve the run (an officer who did not start it); the approval's batches and the notices follow
    as background jobs."""
    run = _run_or_404(run_id)
    form = ActionForm()
    if not form.validate():
        abort(400)
    context = audit_context()
    try:
        job = rent_run.submit_approval(
            run, current_user, **{k: v for k, v in context.items() if k != "actor"}
        )
    except rent_run.InputsChanged as changed:  # drafts put right: the officer reads the run again
        flash(changed.message, "warning")
        return redirect(url_for(".show", run_id=run.id), code=303)
    except rent_run.RunRefused as refused:
        audit.record(
            "rent_run.approve",
            outcome="denied",
            target_table="rent_run",
            target_ids=[run.id],
            reason=refused.message,
            **context,
        )
        return _refused(run, refused)
    flash(_("承認しました。家賃決定の確定と通知書の作成を順に行います。"), "success")
    return redirect(url_for("staff.jobs.show", job_id=job.id), code=303)


@bp.post("/<int:run_id>/cancel")
def cancel(run_id: int):
    """Cancel a run that computes or waits for approval: its drafts are cancelled."""
    run = _run_or_404(run_id)
    form = ActionForm()
    if not form.validate():
        abort(400)
    context = audit_context()
    try:
        rent_run.cancel(run, current_user, **{k: v for k, v in context.items() if k != "actor"})
    except rent_run.RunRefused as refused:
        return _refused(run, refused)
    flash(_("年次処理を中止しました。"), "success")
    return redirect(url_for(".index"), code=303)


def _refused(run: RentRun, refused: rent_run.RunRefused):
    return render_template(
        "staff/rent_runs/refused.html", message=refused.message, **_context(run)
    ), refused.status
