"""減免・調定・収納の記録: the 減免 and 調定・収納 sections of the household file.

- 減免・徴収猶予: staff register a request and edit it while 申請中; an officer approves or rejects it
  (OFFICER only in the policy table) and may end a granted one early. Granting or ending one corrects
  the rent charges of its months at once (services.charges.apply_reduction: the toast says which months
  were corrected and which were left because they are paid), and the 調定・収納 section is swapped too.
  From two months before a granted one ends, staff register its renewal (更新): a request for the
  following period, pre-filled, which an officer decides again.
- 調定: a charge's 調定額 or 減免額 is corrected with a reason, or the charge is cancelled (調定取消);
  never deleted, never below what was paid.
- 収納: a payment at the counter (窓口, 納付書, 代理納付) on one charge or spread over the oldest unpaid
  ones; a wrong payment is reversed (取消) with a reason. Overpayment is refused (services.billing).

Every form goes through blueprints.staff.inline: with htmx the fragment opens in the section's slot and
answers 422 (messages beside the fields, nothing written), 409 (someone saved first: both versions) or
the section again with a toast; without JavaScript the same URLs are whole pages and a save redirects
(303) to the household page at the section. The rules live in services.billing.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    DecimalInputField,
    NoteField,
    TextField,
    VersionField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Charge, Payment, RentReduction
from models.tenancy import REDUCTION_KINDS, REDUCTION_REASONS
from rules import wareki
from rules.filters import today_tokyo
from services import billing, charges, household_file
from services.vault import keyring_for

bp = Blueprint("billing", __name__, url_prefix="/household")

REDUCTIONS = "reductions"
CHARGES = "charges"
CHOOSE = _l("一覧から選んでください。")


# --- the flow shared by the forms that create a record (arrears.py uses it too) ----------------------


def locked_edit(**arguments):
    """inline.edit_record (its rule checks, save and follow-up in one transaction) whose fragments get
    `label` (a coded column's Japanese)."""
    arguments["context"] = {"label": household_file.label, **(arguments.get("context") or {})}
    return inline.edit_record(**arguments)


def read_only(household, section: str, *, title: str, message: str):
    """A record in a state that cannot be changed: 409 with a notice instead of a form."""
    return inline.form_response(
        "staff/household/_billing_readonly.html",
        status=409,
        title=title,
        household=household,
        section=section,
        heading=title,
        message=message,
    )


# --- 減免・徴収猶予 -------------------------------------------------------------------------------------------


class PercentField(DecimalInputField):
    """A rate typed in percent (50, 33.33 %); the data is the fraction (0.5000), shown back as percent."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(
            label, validators, places=2, minimum=0, maximum=100, exclusive_minimum=True, **kwargs
        )

    def normalise(self, text):
        text = text.strip().removesuffix("%").removesuffix("％")
        return (super().normalise(text) / 100).quantize(Decimal("0.0001"))

    def display(self, value):
        percent = Decimal(value) * 100
        return (
            format(percent.normalize(), "f") if percent == percent.to_integral() else str(percent.normalize())
        )


POSTPONEMENT_TERMS = _l("徴収猶予は納期限を延ばすもので、減免率・減免額・最低家賃は入力しません。")


class ReductionForm(FlaskForm):
    """減免・徴収猶予の申請: kind, reason, a rate or an amount (one of them), minimum rent, period, note."""

    kind = SelectField(
        _l("種別"),
        choices=code_choices(REDUCTION_KINDS),
        validators=[required()],
        invalid_choice_message=CHOOSE,
    )
    reason = SelectField(
        _l("理由"),
        choices=code_choices(REDUCTION_REASONS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    rate = PercentField(_l("減免率（%）"), description=_l("減免額とどちらか一方を入力。例: 50"))
    amount = YenInputField(
        _l("減免額（月額・円）"), [optional()], description=_l("減免率とどちらか一方を入力。")
    )
    minimum_rent = YenInputField(
        _l("最低家賃（月額・円）"), [optional()], description=_l("減免後もこの額は納めていただく額。")
    )
    start_date = DateInputField(_l("開始日"), [required()])
    end_date = DateInputField(_l("終了日"), [required()])
    note = NoteField(_l("備考"), [optional()], max_length=1000)

    columns = {
        "kind": "kind",
        "reason": "reason",
        "rate": "rate",
        "amount": "amount",
        "minimum_rent": "minimum_rent",
        "start_date": "start_date",
        "end_date": "end_date",
        "note": "note",
    }

    def validate_rate(self, field):
        if field.errors:
            return
        if self.kind.data == "postponement":
            if field.data is not None:
                raise ValidationError(POSTPONEMENT_TERMS)
            return
        if field.data is None and self.amount.data is None and not self.amount.process_errors:
            raise ValidationError(_l("減免率か減免額のどちらかを入力してください。"))
        if field.data is not None and self.amount.data is not None:
            raise ValidationError(_l("減免率と減免額は、どちらか一方だけ入力してください。"))

    def validate_amount(self, field):
        if self.kind.data == "postponement" and field.data is not None:
            raise ValidationError(POSTPONEMENT_TERMS)
        if field.data == 0:
            raise ValidationError(_l("減免額は1円以上で入力してください。"))

    def validate_minimum_rent(self, field):
        if self.kind.data == "postponement" and field.data is not None:
            raise ValidationError(POSTPONEMENT_TERMS)

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError(_l("終了日は開始日と同じ日かそれより後にしてください。"))

    def values(self) -> dict:
        return {
            "kind": self.kind.data,
            "reason": self.reason.data,
            "rate": self.rate.data,
            "amount": self.amount.data,
            "minimum_rent": self.minimum_rent.data,
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
            "note": self.note.data,
        }


class ReductionEditForm(ReductionForm):
    version = VersionField()


DECISIONS = (("approve", _l("承認する")), ("reject", _l("却下する")))


class DecisionForm(FlaskForm):
    """An officer's decision on a request: 承認 or 却下, with a reason (required for a rejection)."""

    version = VersionField()
    decision = RadioField(
        _l("決定"), choices=code_choices(DECISIONS), validators=[required(_l("承認か却下を選んでください。"))]
    )
    reason = NoteField(_l("理由・条件"), max_length=500, description=_l("却下するときは必ず入力。"))

    columns: dict = {}

    def validate_reason(self, field):
        if self.decision.data == "reject" and not field.data:
            raise ValidationError(_l("却下の理由を入力してください。"))


class EndForm(FlaskForm):
    """End a granted reduction early: the last day and why."""

    version = VersionField()
    end_date = DateInputField(_l("終了日"), [required()], description=_l("減免を適用する最後の日。"))
    reason = TextField(_l("終了の理由"), [required()], max_length=200)

    columns = {"end_date": "end_date"}


def _reduction(household, reduction_id: int) -> RentReduction:
    reduction = RentReduction.get_or_none(
        (RentReduction.id == reduction_id) & (RentReduction.household == household.id)
    )
    if reduction is None:
        abort(404)
    return reduction


@bp.route("/<int:household_id>/reductions/new", methods=["GET", "POST"])
def reduction_new(household_id: int):
    """Register a 減免 / 徴収猶予 request (申請中)."""
    household = inline.household_or_404(household_id, section=REDUCTIONS)
    form = ReductionForm(prefix="reduction_")

    def create(f):
        billing.create_reduction(household.id, f.values(), **audit_context())

    return inline.create_record(
        form=form,
        household=household,
        section=REDUCTIONS,
        template="staff/household/_billing_reduction_form.html",
        title=_("減免の申請の登録"),
        message=_("減免の申請を登録しました。"),
        create=create,
        context={"reduction": None},
    )


@bp.route("/<int:household_id>/reductions/<int:reduction_id>/edit", methods=["GET", "POST"])
def reduction_edit(household_id: int, reduction_id: int):
    """Edit a request while it is 申請中."""
    household = inline.household_or_404(household_id, section=REDUCTIONS)
    reduction = _reduction(household, reduction_id)
    if reduction.status != "requested":
        return read_only(
            household,
            REDUCTIONS,
            title=_("減免の申請の編集"),
            message=_("決定済みの減免は編集できません。変更が必要なときは新しい申請を登録してください。"),
        )
    form = ReductionEditForm(obj=reduction, version=reduction.version, prefix="reduction_")
    return locked_edit(
        form=form,
        instance=reduction,
        household=household,
        section=REDUCTIONS,
        template="staff/household/_billing_reduction_form.html",
        action="rent_reduction.update",
        values=lambda f: billing.request_values(reduction, f.values()),
        message=_("減免の申請を保存しました。"),
        title=_("減免の申請の編集"),
        context={"reduction": reduction},
    )


@bp.app_context_processor
def _reduction_helpers():
    """The reductions section asks whether a row may be renewed now (no query: the file's rows)."""
    return {"reduction_renewable": billing.renewable}


@bp.route("/<int:household_id>/reductions/<int:reduction_id>/renew", methods=["GET", "POST"])
def reduction_renew(household_id: int, reduction_id: int):
    """Register the renewal (更新) of a granted reduction: a request for the following period with the
    same terms, pre-filled, decided by an officer again."""
    household = inline.household_or_404(household_id, section=REDUCTIONS)
    previous = _reduction(household, reduction_id)
    title = _("減免の更新の申請")
    if not billing.renewable(
        previous, RentReduction.select().where(RentReduction.household == household.id), today_tokyo()
    ):
        if previous.status == "approved" and today_tokyo() < billing.renewal_opens(previous):
            message = _(
                "更新の申請は終了日の%(days)s日前（%(date)s）から登録できます。",
                days=billing.RENEWAL_WINDOW_DAYS,
                date=wareki.to_wareki(billing.renewal_opens(previous)),
            )
        elif previous.status == "approved":
            message = _("この減免の更新はすでに登録されています。")
        else:
            message = _("承認済みで終了していない減免だけ更新できます。")
        return read_only(household, REDUCTIONS, title=title, message=message)
    form = ReductionForm(prefix="reduction_")
    if request.method == "GET":
        start, end = billing.renewal_period(previous)
        for name in ("kind", "reason", "rate", "amount", "minimum_rent"):
            form[name].data = getattr(previous, name)
        form.start_date.data, form.end_date.data = start, end

    def create(f):
        billing.create_reduction(household.id, f.values(), renews=previous, **audit_context())

    return inline.create_record(
        form=form,
        household=household,
        section=REDUCTIONS,
        template="staff/household/_billing_reduction_form.html",
        title=title,
        message=_("減免の更新の申請を登録しました。保護責任者が承認または却下します。"),
        create=create,
        context={"reduction": None, "renews": previous},
    )


def _reflected(response, household, outcome: dict):
    """The answer to a decision that corrected charges: the toast (or flash) says which months, and
    with htmx the 調定・収納 section is swapped as well (out of band)."""
    applied = outcome.get("applied")
    if applied is None or response.status_code >= 400:
        return response
    summary = applied.summary()
    if response.status_code in (301, 302, 303):
        if summary:
            flash(summary, "info")
        return response
    if "HX-Trigger" in response.headers and summary:
        data = json.loads(response.headers["HX-Trigger"])
        data["toast"]["message"] = f"{data['toast']['message']} {summary}"
        response.headers["HX-Trigger"] = json.dumps(data)
    if response.headers.get("HX-Retarget") == f"#{REDUCTIONS}":
        file = household_file.load(household, keyring=keyring_for(current_app.config))
        response.set_data(
            response.get_data(as_text=True)
            + render_template(
                "staff/household/_section.html",
                id=CHARGES,
                oob=True,
                file=file,
                label=household_file.label,
                mask_account=household_file.mask_account,
            )
        )
    return response


@bp.route("/<int:household_id>/reductions/<int:reduction_id>/decide", methods=["GET", "POST"])
def reduction_decide(household_id: int, reduction_id: int):
    """An officer approves or rejects a request (staff are refused by the policy table: 403)."""
    household = inline.household_or_404(household_id, section=REDUCTIONS)
    reduction = _reduction(household, reduction_id)
    title = _("減免の申請の決定")
    if reduction.status != "requested":
        return read_only(household, REDUCTIONS, title=title, message=_("この申請はすでに決定されています。"))
    form = DecisionForm(version=reduction.version, prefix="decision_")
    approving = request.form.get("decision_decision") == "approve"

    def values(f):
        return billing.decision_values(
            reduction,
            approve=f.decision.data == "approve",
            officer=current_user._get_current_object(),
            reason=f.reason.data,
        )

    outcome: dict = {}

    def after_save(instance, changes):
        if changes and instance.status == "approved":
            outcome["applied"] = charges.apply_reduction(instance, **audit_context())

    granted = _("徴収猶予を承認しました。") if reduction.kind == "postponement" else _("減免を承認しました。")
    response = locked_edit(
        form=form,
        instance=reduction,
        household=household,
        section=REDUCTIONS,
        template="staff/household/_billing_reduction_decide_form.html",
        action="rent_reduction.decide",
        values=values,
        message=granted if approving else _("減免の申請を却下しました。"),
        title=title,
        context={"reduction": reduction},
        after_save=after_save,
    )
    return _reflected(response, household, outcome)


@bp.route("/<int:household_id>/reductions/<int:reduction_id>/end", methods=["GET", "POST"])
def reduction_end(household_id: int, reduction_id: int):
    """An officer ends a granted reduction early (終了)."""
    household = inline.household_or_404(household_id, section=REDUCTIONS)
    reduction = _reduction(household, reduction_id)
    title = _("減免の終了")
    if reduction.status != "approved":
        return read_only(household, REDUCTIONS, title=title, message=_("承認済みの減免だけ終了できます。"))
    form = EndForm(obj=reduction, version=reduction.version, prefix="end_")
    granted_until = reduction.end_date  # the months after the new end get their charges back
    outcome: dict = {}

    def after_save(instance, changes):
        if changes:
            outcome["applied"] = charges.apply_reduction(
                instance, since=instance.start_date, until=granted_until, **audit_context()
            )

    response = locked_edit(
        form=form,
        instance=reduction,
        household=household,
        section=REDUCTIONS,
        template="staff/household/_billing_reduction_end_form.html",
        action="rent_reduction.end",
        values=lambda f: billing.end_values(reduction, end_date=f.end_date.data, reason=f.reason.data),
        message=_("徴収猶予を終了しました。")
        if reduction.kind == "postponement"
        else _("減免を終了しました。"),
        title=title,
        context={"reduction": reduction},
        after_save=after_save,
    )
    return _reflected(response, household, outcome)


# --- 調定: correction and cancellation --------------------------------------------------------------------


class CorrectionForm(FlaskForm):
    """訂正 of a charge: 調定額 and 減免額 after the correction, and why."""

    version = VersionField()
    amount = YenInputField(_l("調定額（円）"), [required()])
    reduction_amount = YenInputField(_l("減免額（円）"), [required()], description=_l("減免がなければ 0。"))
    reason = TextField(
        _l("訂正の理由"), [required()], max_length=200, description=_l("備考に日付とともに残ります。")
    )

    columns = {"amount": "amount", "reduction_amount": "reduction_amount"}

    def validate_reduction_amount(self, field):
        if field.data is not None and self.amount.data is not None and field.data > self.amount.data:
            raise ValidationError(_l("減免額は調定額以下にしてください。"))


class CancelForm(FlaskForm):
    """調定取消: why the charge is cancelled."""

    version = VersionField()
    reason = TextField(
        _l("取消の理由"), [required()], max_length=200, description=_l("備考に日付とともに残ります。")
    )

    columns: dict = {}


def _charge(household, charge_id: int) -> Charge:
    charge = Charge.get_or_none((Charge.id == charge_id) & (Charge.household == household.id))
    if charge is None:
        abort(404)
    return charge


def _charge_context(charge: Charge) -> dict:
    (row,) = billing.balances(charge.household_id, charge.id)
    return {"charge": charge, "balance": row}


@bp.route("/<int:household_id>/charges/<int:charge_id>/correct", methods=["GET", "POST"])
def charge_correct(household_id: int, charge_id: int):
    """Correct a charge's 調定額 or 減免額 (with a reason)."""
    household = inline.household_or_404(household_id, section=CHARGES)
    charge = _charge(household, charge_id)
    title = _("調定の訂正")
    if charge.cancelled:
        return read_only(household, CHARGES, title=title, message=_("取り消した調定は訂正できません。"))
    form = CorrectionForm(obj=charge, version=charge.version, prefix="charge_")
    return locked_edit(
        form=form,
        instance=charge,
        household=household,
        section=CHARGES,
        template="staff/household/_billing_charge_form.html",
        action="charge.correct",
        values=lambda f: billing.correction_values(
            charge, amount=f.amount.data, reduction_amount=f.reduction_amount.data, reason=f.reason.data
        ),
        message=_("調定を訂正しました。"),
        title=title,
        context=_charge_context(charge),
    )


@bp.route("/<int:household_id>/charges/<int:charge_id>/cancel", methods=["GET", "POST"])
def charge_cancel(household_id: int, charge_id: int):
    """Cancel a charge (調定取消); refused while payments stand on it."""
    household = inline.household_or_404(household_id, section=CHARGES)
    charge = _charge(household, charge_id)
    title = _("調定の取消")
    if charge.cancelled:
        return read_only(household, CHARGES, title=title, message=_("この調定はすでに取り消されています。"))
    form = CancelForm(version=charge.version, prefix="cancel_")
    return locked_edit(
        form=form,
        instance=charge,
        household=household,
        section=CHARGES,
        template="staff/household/_billing_charge_cancel_form.html",
        action="charge.cancel",
        values=lambda f: billing.cancellation_values(charge, reason=f.reason.data),
        message=_("調定を取り消しました。"),
        title=title,
        context=_charge_context(charge),
    )


# --- 収納 -------------------------------------------------------------------------------------------------


OLDEST_FIRST = ""  # the 充当先 option that spreads the payment over the oldest unpaid charges


class PaymentForm(FlaskForm):
    """窓口収納: which charge (or the oldest unpaid first), 収納額, 領収日, 収納日, 納付方法, 備考."""

    charge = SelectField(
        _l("充当先"),
        choices=[],
        invalid_choice_message=_l("選んだ調定には未納額がありません。一覧から選び直してください。"),
    )
    amount = YenInputField(_l("収納額（円）"), [required()])
    receipt_date = DateInputField(
        _l("領収日"), [required()], description=_l("窓口や金融機関で納付された日。")
    )
    posted_date = DateInputField(_l("収納日"), [required()], description=_l("市の収入として記帳する日。"))
    method = SelectField(
        _l("納付方法"),
        choices=code_choices(billing.MANUAL_METHODS),
        validators=[required()],
        invalid_choice_message=CHOOSE,
    )
    note = TextField(_l("備考"), [optional()], max_length=200, description=_l("領収書番号など。"))

    def validate_amount(self, field):
        if field.data == 0:
            raise ValidationError(_l("収納額は1円以上で入力してください。"))

    def validate_posted_date(self, field):
        if field.data and self.receipt_date.data and field.data < self.receipt_date.data:
            raise ValidationError(_l("収納日は領収日と同じ日かそれより後にしてください。"))


def _charge_choices(rows) -> list:
    owed = sum(row.unpaid for row in rows)
    pairs = [(OLDEST_FIRST, _("未納の古い順に充当（未納額 合計 %(amount)s円）", amount=f"{owed:,}"))]
    pairs += [
        (
            str(row.charge_id),
            _("%(charge)s（未納額 %(amount)s円）", charge=row.label(), amount=f"{row.unpaid:,}"),
        )
        for row in rows
    ]
    return code_choices(pairs)


@bp.route("/<int:household_id>/payments/new", methods=["GET", "POST"])
def payment_new(household_id: int):
    """Record a payment received at the counter (窓口収納) or by 納付書 / 代理納付."""
    household = inline.household_or_404(household_id, section=CHARGES)
    rows = billing.unpaid_charges(household.id)
    today = today_tokyo()
    form = PaymentForm(prefix="payment_")
    form.charge.choices = _charge_choices(rows)
    if request.method == "GET":
        chosen = request.args.get("charge", OLDEST_FIRST)
        form.charge.data = (
            chosen if chosen in {choice.value for choice in form.charge.choices} else OLDEST_FIRST
        )
        form.receipt_date.data = form.posted_date.data = today
        form.method.data = "counter"
        if form.charge.data:
            form.amount.data = next(r.unpaid for r in rows if str(r.charge_id) == form.charge.data)

    def create(f):
        billing.record_payment(
            household.id,
            amount=f.amount.data,
            receipt_date=f.receipt_date.data,
            posted_date=f.posted_date.data,
            method=f.method.data,
            charge_id=int(f.charge.data) if f.charge.data else None,
            note=f.note.data,
            today=today,
            **audit_context(),
        )

    return inline.create_record(
        form=form,
        household=household,
        section=CHARGES,
        template="staff/household/_billing_payment_form.html",
        title=_("収納の記録"),
        message=_("収納を記録しました。"),
        create=create,
        context={"unpaid_rows": rows, "unpaid_total": sum(r.unpaid for r in rows)},
    )


class ReverseForm(FlaskForm):
    """取消 of a wrong payment: why."""

    reason = TextField(
        _l("取消の理由"), [required()], max_length=200, description=_l("例: 金額の入力誤り、別の世帯の収納")
    )


@bp.route("/<int:household_id>/payments/<int:payment_id>/reverse", methods=["GET", "POST"])
def payment_reverse(household_id: int, payment_id: int):
    """Reverse a wrong payment (取消); it stays on the screen, struck through."""
    household = inline.household_or_404(household_id, section=CHARGES)
    payment = (
        Payment.select(Payment, Charge)
        .join(Charge)
        .where((Payment.id == payment_id) & (Charge.household == household.id))
        .first()
    )
    if payment is None:
        abort(404)
    title = _("収納の取消")
    already = _("この収納はすでに取り消されています。")
    if payment.reversed:
        return read_only(household, CHARGES, title=title, message=already)
    form = ReverseForm(prefix="reverse_")
    template = "staff/household/_billing_payment_reverse_form.html"
    context = {
        "form": form,
        "household": household,
        "section": CHARGES,
        "payment": payment,
        "label": household_file.label,
    }
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                billing.reverse_payment(
                    payment, household_id=household.id, reason=form.reason.data, **audit_context()
                )
            except billing.AlreadyReversed:
                form.form_errors.append(already)
                return inline.form_response(template, status=409, title=title, **context)
            return inline.saved(household, CHARGES, _("収納を取り消しました。"))
        return inline.form_response(template, status=422, title=title, **context)
    return inline.form_response(template, title=title, **context)
