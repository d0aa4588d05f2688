"""Certification follow-up: the certified households of a year, 明渡請求 and its tracking, 意見申出 and 更正.

- `/staff/certifications/<fy>`: the 収入超過者 and 高額所得者 certified for a fiscal year.
- `/staff/evictions/`: every open 明渡請求 with its deadline (overdue first); a request is prepared by
  staff and approved by an officer who did not prepare it (then its 明渡請求書 is issued); extension,
  明渡, 取下げ; "post the month's damages" charges 損害賠償金 after the deadline (idempotent).
- `/staff/rent-reviews/`: 意見申出 against a rent decision and 更正 of a past year, each decided by an
  officer after seeing the old and the recomputed figures side by side.

Pages are server-rendered forms: a save redirects (303), a refusal answers 422 with the message beside
the field. The rules live in services.evictions and services.objections.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    DecimalInputField,
    NoteField,
    SmallIntegerField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Certification, EvictionRequest, Household, RentDecision, RentReview
from models.income import CERTIFICATION_KINDS, EVICTION_GROUNDS
from rules.filters import today_tokyo
from rules.household import month_start
from services import access, editing, evictions, household_file, objections

bp = Blueprint("certifications", __name__)

CHOOSE = _l("一覧から選んでください。")
SECTION = "rent"


@bp.context_processor
def _labels():
    return {"label": household_file.label}


def _household(household_id: int, *, change: bool | None = None) -> Household:
    return inline.household_or_404(household_id, section=SECTION, change=change)


def _current_fiscal_year(today: dt.date) -> int:
    return evictions.fiscal_year_of(today)


# --- certifications of a year ------------------------------------------------------------------------------


@bp.get("/certifications/")
def index():
    """The certifications of the current fiscal year."""
    return redirect(url_for(".certified", fiscal_year=_current_fiscal_year(today_tokyo())), code=303)


@bp.get("/certifications/<int:fiscal_year>")
def certified(fiscal_year: int):
    """收入超過者 / 高額所得者 certified for a fiscal year, with 政令月収 and years over."""
    if not 1990 <= fiscal_year <= 2100:
        abort(404)
    kind = request.args.get("kind", "")
    if kind not in dict(CERTIFICATION_KINDS):
        kind = ""
    query = (
        Certification.select(Certification, Household)
        .join(Household)
        .where(
            (Certification.fiscal_year == fiscal_year)
            & (Certification.state == "certified")
            & Certification.household.in_(access.visible_households(current_user))
        )
        .order_by(Certification.kind.desc(), Household.household_no)
    )
    if kind:
        query = query.where(Certification.kind == kind)
    rows = list(query)
    open_requests = {
        r.household_id: r
        for r in EvictionRequest.select().where(
            EvictionRequest.household.in_([c.household_id for c in rows] or [0])
            & EvictionRequest.status.in_(evictions.OPEN)
        )
    }
    evictions.audit_list(
        "certification.list",
        [c.household_id for c in rows],
        ["certification.seirei_getsushu", "certification.years_over"],
        f"fiscal_year={fiscal_year}; kind={kind or 'all'}; rows={len(rows)}",
        **audit_context(),
    )
    return render_template(
        "staff/certifications/index.html",
        rows=rows,
        fiscal_year=fiscal_year,
        kind=kind,
        kinds=CERTIFICATION_KINDS,
        open_requests=open_requests,
        heads=evictions._head_names([c.household_id for c in rows]),
    )


# --- 明渡請求 ------------------------------------------------------------------------------------------------


class PrepareForm(FlaskForm):
    ground = SelectField(
        _l("請求事由"),
        choices=code_choices(EVICTION_GROUNDS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    requested_on = DateInputField(_l("請求日"), [required()])
    deadline = DateInputField(
        _l("明渡期限"),
        [optional()],
        description=_l(
            "空欄のときは法律が認める最も早い期限（請求日の翌日から6か月を経過した日）になります。"
        ),
    )
    multiplier = DecimalInputField(
        _l("損害金の倍率（近傍同種家賃の何倍か）"),
        [optional()],
        places=2,
        minimum=0,
        maximum=2,
        exclusive_minimum=True,
        description=_l("明渡期限後に請求する損害賠償金。空欄のときはマスタの上限（2倍）。"),
    )
    note = NoteField(_l("請求の理由・経過"), [optional()], max_length=2000)


@bp.route("/evictions/new/<int:household_id>", methods=["GET", "POST"])
def eviction_new(household_id: int):
    """Prepare a 明渡請求 (承認待ち until an officer approves it)."""
    household = _household(household_id)
    form = PrepareForm(prefix="eviction_")
    if request.method == "GET":
        form.requested_on.data = form.requested_on.data or today_tokyo()
        if household.high_income:
            form.ground.data = "high_income"
    earliest = None
    if form.requested_on.data:
        try:
            earliest = evictions.earliest_deadline(form.requested_on.data)
        except Exception:  # masters missing: the service answers with the message on POST
            earliest = None

    def save(f):
        return evictions.prepare(
            household.id,
            ground=f.ground.data,
            requested_on=f.requested_on.data,
            deadline=f.deadline.data,
            multiplier=f.multiplier.data,
            note=f.note.data,
            **audit_context(),
        )

    return inline.page_form(
        form,
        "staff/certifications/eviction_new.html",
        save,
        message=_("明渡請求を起案しました。保護責任者の承認を受けると明渡請求書が発行されます。"),
        redirect_to=lambda created: url_for(".eviction", request_id=created.id),
        household=household,
        earliest=earliest,
    )


@bp.get("/evictions/")
def evictions_index():
    """Tracking: open requests (nearest deadline first, overdue marked); ?all=1 adds closed ones."""
    include_closed = request.args.get("all") == "1"
    rows = evictions.tracking(current_user, include_closed=include_closed)
    evictions.audit_list(
        "eviction_request.list",
        [r.request.household_id for r in rows],
        ["eviction_request.deadline", "eviction_request.status"],
        f"rows={len(rows)}; all={int(include_closed)}",
        **audit_context(),
    )
    return render_template(
        "staff/certifications/evictions.html",
        rows=rows,
        include_closed=include_closed,
        today=today_tokyo(),
        damages_form=DamagesForm(prefix="damages_", month=month_start(today_tokyo())),
        status_label=evictions.status_label,
    )


class DamagesForm(FlaskForm):
    month = DateInputField(_l("調定年月（その月の1日）"), [required()])


@bp.post("/evictions/damages")
def post_damages():
    """Charge the damages of the month (and earlier months not yet charged); posting again adds nothing."""
    form = DamagesForm(prefix="damages_")
    if not form.validate_on_submit():
        rows = evictions.tracking(current_user)
        return render_template(
            "staff/certifications/evictions.html",
            rows=rows,
            include_closed=False,
            today=today_tokyo(),
            damages_form=form,
            status_label=evictions.status_label,
        ), 422
    lines = evictions.post_damages(form.month.data, **audit_context())
    charged = [line for line in lines if line.charge is not None]
    problems = [line for line in lines if line.problem]
    total = sum(line.charge.amount for line in charged)
    flash(
        _("損害賠償金を%(count)s件（合計%(total)s円）調定しました。", count=len(charged), total=f"{total:,}"),
        "success",
    )
    for line in problems:
        flash(
            _("世帯 %(no)s: %(problem)s", no=line.request.household.household_no, problem=line.problem),
            "warning",
        )
    return redirect(url_for(".evictions_index"), code=303)


def _eviction(request_id: int) -> tuple[EvictionRequest, Household]:
    record = EvictionRequest.get_or_none(EvictionRequest.id == request_id)
    if record is None:
        abort(404)
    household = _household(record.household_id, change=request.method != "GET")
    return record, household


class ApproveForm(FlaskForm):
    pass


class ExtensionForm(FlaskForm):
    requested_on = DateInputField(_l("申出日"), [required()])
    until = DateInputField(_l("延長後の期限"), [required()])
    reason = NoteField(_l("理由"), [required()], max_length=1000, description=_l("例: 病気療養のため"))


class ExtensionDecisionForm(FlaskForm):
    decision = RadioField(
        _l("決定"),
        choices=code_choices((("grant", _l("延長を認める")), ("refuse", _l("認めない")))),
        validators=[required(_l("選んでください。"))],
    )
    note = NoteField(_l("理由・条件"), [optional()], max_length=1000)


class VacateForm(FlaskForm):
    vacated_on = DateInputField(_l("明渡日"), [required()])


class WithdrawForm(FlaskForm):
    reason = NoteField(_l("取下げの理由"), [required()], max_length=1000)


def _eviction_page(record, household, status=200, **forms):
    from models import Charge, Notice

    damages = []
    if record.damage_claim_id:
        damages = list(
            Charge.select()
            .where(Charge.source_key == f"damages:{record.damage_claim_id}")
            .order_by(Charge.period)
        )
    issued = list(
        Notice.select()
        .where((Notice.subject_table == "eviction_request") & (Notice.subject_id == record.id))
        .order_by(Notice.id)
    )
    context = {
        "approve_form": ApproveForm(prefix="approve_"),
        "extension_form": ExtensionForm(prefix="extension_"),
        "decision_form": ExtensionDecisionForm(prefix="decision_"),
        "vacate_form": VacateForm(prefix="vacate_"),
        "withdraw_form": WithdrawForm(prefix="withdraw_"),
    }
    context.update(forms)
    names = evictions.users_named(
        [record.prepared_by_id, record.approved_by_id, record.extension_decided_by_id]
    )
    return render_template(
        "staff/certifications/eviction.html",
        record=record,
        household=household,
        damages=damages,
        issued=issued,
        names=names,
        status_label=evictions.status_label(record),
        today=today_tokyo(),
        **context,
    ), status


@bp.get("/evictions/<int:request_id>")
def eviction(request_id: int):
    record, household = _eviction(request_id)
    return _eviction_page(record, household)


def _act(request_id: int, form_name: str, form, action, message):
    record, household = _eviction(request_id)
    if form.validate_on_submit():
        try:
            result = action(record, form)
        except editing.RuleViolation as exc:
            inline.attach(form, exc)
        else:
            flash(message(result) if callable(message) else message, "success")
            if form_name == "approve_form":  # the notice is being issued: its progress and PDF
                return redirect(url_for("staff.jobs.show", job_id=result.id), code=303)
            return redirect(url_for(".eviction", request_id=record.id), code=303)
    record = EvictionRequest.get_by_id(record.id)
    return _eviction_page(record, household, 422, **{form_name: form})


@bp.post("/evictions/<int:request_id>/approve")
def eviction_approve(request_id: int):
    """The officer's approval (not the preparer's): the 明渡請求書 is queued."""

    def approve(record, form):
        return evictions.approve(record.id, **audit_context())

    return _act(
        request_id,
        "approve_form",
        ApproveForm(prefix="approve_"),
        approve,
        lambda job: _("明渡請求を承認しました。明渡請求書を発行しています（処理番号 %(job)s）。", job=job.id),
    )


@bp.post("/evictions/<int:request_id>/extension")
def eviction_extension(request_id: int):
    """Record the resident's request for a later deadline."""

    def record_it(record, form):
        return evictions.request_extension(
            record.id,
            requested_on=form.requested_on.data,
            until=form.until.data,
            reason=form.reason.data or "",
            **audit_context(),
        )

    return _act(
        request_id,
        "extension_form",
        ExtensionForm(prefix="extension_"),
        record_it,
        _("延長の申出を記録しました。保護責任者が決定します。"),
    )


@bp.post("/evictions/<int:request_id>/extension/decide")
def eviction_extension_decide(request_id: int):
    """An officer grants or refuses the extension asked for."""

    def decide(record, form):
        return evictions.decide_extension(
            record.id, grant=form.decision.data == "grant", note=form.note.data, **audit_context()
        )

    return _act(
        request_id,
        "decision_form",
        ExtensionDecisionForm(prefix="decision_"),
        decide,
        _("延長の申出を決定しました。"),
    )


@bp.post("/evictions/<int:request_id>/vacate")
def eviction_vacate(request_id: int):
    """The household vacated: damages stop on that day."""

    def vacate(record, form):
        return evictions.vacate(record.id, vacated_on=form.vacated_on.data, **audit_context())

    def message(result):
        if result.to_correct:
            return _(
                "明渡を記録しました。明渡日より後の月に調定済みの損害賠償金が%(count)s件あります。調定・収納で訂正してください。",
                count=len(result.to_correct),
            )
        return _("明渡を記録しました。損害賠償金は明渡日までで終わります。")

    return _act(request_id, "vacate_form", VacateForm(prefix="vacate_"), vacate, message)


@bp.post("/evictions/<int:request_id>/withdraw")
def eviction_withdraw(request_id: int):
    """An officer withdraws the request."""

    def withdraw(record, form):
        return evictions.withdraw(record.id, reason=form.reason.data or "", **audit_context())

    return _act(
        request_id,
        "withdraw_form",
        WithdrawForm(prefix="withdraw_"),
        withdraw,
        _("明渡請求を取り下げました。"),
    )


# --- 意見申出 and 更正 ------------------------------------------------------------------------------------------


class ObjectionForm(FlaskForm):
    decision = SelectField(_l("対象の家賃決定"), validators=[required(_l("選んでください。"))], coerce=str)
    received_on = DateInputField(_l("受付日"), [required()])
    content = NoteField(_l("申出の内容"), [required()], max_length=4000)
    late_reason = NoteField(
        _l("期間経過後に受け付ける理由"),
        [optional()],
        max_length=1000,
        description=_l("意見申出の期間を過ぎた申出を保護責任者が受け付けるときだけ入力します。"),
    )


def _decision_label(decision: RentDecision) -> str:
    from rules import wareki

    return _(
        "%(year)s %(kind)s 月額%(rent)s円（意見申出期限 %(deadline)s）",
        year=wareki.fiscal_year_label(decision.fiscal_year),
        kind=RentDecision.kind.label(decision.kind),
        rent=f"{decision.rent:,}",
        deadline=wareki.to_wareki(objections.objection_deadline(decision)),
    )


def _review_url(review: RentReview) -> str:
    return url_for(".review", review_id=review.id)


@bp.route("/rent-reviews/household/<int:household_id>/objection", methods=["GET", "POST"])
def objection_new(household_id: int):
    """Record a 意見申出 against a decision in force."""
    household = _household(household_id)
    decisions = objections.decisions_open_to_review(household.id)
    form = ObjectionForm(prefix="objection_")
    form.decision.choices = code_choices([(str(d.id), _decision_label(d)) for d in decisions], blank=True)
    if request.method == "GET":
        form.received_on.data = today_tokyo()
        if request.args.get("decision"):
            form.decision.data = request.args["decision"]

    def save(f):
        return objections.receive(
            household.id,
            int(f.decision.data),
            received_on=f.received_on.data,
            content=f.content.data or "",
            late_reason=f.late_reason.data,
            **audit_context(),
        )

    return inline.page_form(
        form,
        "staff/certifications/objection_new.html",
        save,
        message=_("意見申出を受け付けました。保護責任者が再計算の結果を見て決定します。"),
        redirect_to=_review_url,
        household=household,
        decisions=decisions,
    )


class CorrectionForm(FlaskForm):
    fiscal_year = SmallIntegerField(_l("更正する年度（西暦）"), validators=[required()])
    reason = NoteField(_l("更正の理由"), [required()], max_length=2000, description=_l("例: 収入申告の訂正"))


@bp.route("/rent-reviews/household/<int:household_id>/correction", methods=["GET", "POST"])
def correction_new(household_id: int):
    """Prepare a 更正 of a past year: recomputed with that year's masters, decided by an officer."""
    household = _household(household_id)
    decisions = objections.decisions_open_to_review(household.id)
    form = CorrectionForm(prefix="correction_")

    def save(f):
        return objections.prepare_correction(
            household.id, f.fiscal_year.data, reason=f.reason.data or "", **audit_context()
        )

    return inline.page_form(
        form,
        "staff/certifications/correction_new.html",
        save,
        message=_("更正を起案しました。保護責任者が差額を確認して決定します。"),
        redirect_to=_review_url,
        household=household,
        decisions=decisions,
    )


class ReviewDecisionForm(FlaskForm):
    decision = RadioField(
        _l("決定"),
        choices=code_choices((("uphold", _l("原決定を維持する")), ("redecide", _l("再決定する（更正）")))),
        validators=[required(_l("選んでください。"))],
    )
    answer = NoteField(_l("回答・決定の理由"), [required()], max_length=4000)


class ReviewWithdrawForm(FlaskForm):
    note = NoteField(_l("取下げの経緯"), [required()], max_length=1000)


def _review(review_id: int) -> tuple[RentReview, Household]:
    review = RentReview.get_or_none(RentReview.id == review_id)
    if review is None:
        abort(404)
    return review, _household(review.household_id, change=request.method != "GET")


def _review_page(review, household, status=200, **forms):
    comparison = objections.compare(review) if review.status == "received" else None
    context = {
        "decision_form": ReviewDecisionForm(prefix="review_"),
        "withdraw_form": ReviewWithdrawForm(prefix="withdraw_"),
    }
    context.update(forms)
    old = RentDecision.get_by_id(review.decision_id)
    new = (
        RentDecision.get_or_none(RentDecision.id == review.new_decision_id)
        if review.new_decision_id
        else None
    )
    objections.audit_view(review, **audit_context())
    return render_template(
        "staff/certifications/review.html",
        review=review,
        household=household,
        comparison=comparison,
        old=old,
        new=new,
        old_steps=objections.old_explanation(old),
        new_steps=objections.old_explanation(new) if new else [],
        deadline=objections.objection_deadline(old),
        names=evictions.users_named([review.prepared_by_id, review.decided_by_id]),
        **context,
    ), status


@bp.get("/rent-reviews/<int:review_id>")
def review(review_id: int):
    """An objection or correction: the decision, the recomputation with that year's masters, the answer."""
    record, household = _review(review_id)
    return _review_page(record, household)


@bp.post("/rent-reviews/<int:review_id>/decide")
def review_decide(review_id: int):
    """An officer upholds the decision or re-decides it (a correction decision, a new notice)."""
    record, household = _review(review_id)
    form = ReviewDecisionForm(prefix="review_")
    if form.validate_on_submit():
        try:
            if form.decision.data == "uphold":
                objections.uphold(record.id, answer=form.answer.data or "", **audit_context())
                flash(_("原決定を維持することを決定しました。"), "success")
            else:
                result = objections.redecide(record.id, answer=form.answer.data or "", **audit_context())
                flash(
                    _(
                        "家賃を更正して決定しました（月額%(rent)s円）。家賃決定通知書を発行しています（処理番号 %(job)s）。",
                        rent=f"{result.decision.rent:,}",
                        job=result.job.id,
                    ),
                    "success",
                )
                return redirect(url_for("staff.jobs.show", job_id=result.job.id), code=303)
        except editing.RuleViolation as exc:
            inline.attach(form, exc)
        else:
            return redirect(url_for(".review", review_id=record.id), code=303)
    record = RentReview.get_by_id(record.id)
    return _review_page(record, household, 422, decision_form=form)


@bp.post("/rent-reviews/<int:review_id>/withdraw")
def review_withdraw(review_id: int):
    """The resident withdrew the objection (or the correction is dropped)."""
    record, household = _review(review_id)
    form = ReviewWithdrawForm(prefix="withdraw_")
    if form.validate_on_submit():
        try:
            objections.withdraw(record.id, note=form.note.data or "", **audit_context())
        except editing.RuleViolation as exc:
            form.note.errors = [*form.note.errors, str(exc.message)]
        else:
            flash(_("取下げを記録しました。"), "success")
            return redirect(url_for(".review", review_id=record.id), code=303)
    record = RentReview.get_by_id(record.id)
    return _review_page(record, household, 422, withdraw_form=form)


@bp.get("/rent-reviews/")
def reviews_index():
    """Objections and corrections waiting for an officer's decision."""
    rows = objections.pending(current_user)
    evictions.audit_list(
        "rent_review.list",
        [r.household_id for r in rows],
        ["rent_review.received_on", "rent_review.status"],
        f"rows={len(rows)}",
        **audit_context(),
    )
    return render_template("staff/certifications/reviews.html", rows=rows, today=today_tokyo())
