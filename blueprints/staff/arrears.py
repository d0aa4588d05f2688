"""滞納対応（督促・催告・納付相談・分納）と問合せの記録: the 滞納対応 and 問合せ sections of the household file.

- 滞納対応: a contact (督促, 催告, 電話, 訪問, 納付相談 …) recorded with its date, the clerk (the signed-in
  user), a note and the next step's date; the arrears at that moment are computed, not typed.
- 分納誓約: a plan (誓約額, 月額, 回数, 開始月, 債務承認日) that covers the arrears; edited while 履行中,
  then marked 完了 or 不履行.
- 問合せ: an inquiry logged (受付日時, 受付方法, 件名, 内容, 回答, 状態), edited, closed (完了).

The same inline flow as every section (blueprints.staff.inline; inline.create_record and locked_edit from
blueprints.staff.billing); the rules live in services.arrears.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.billing import CHOOSE, locked_edit, read_only
from blueprints.staff.fields import (
    DateInputField,
    MonthInputField,
    NoteField,
    SmallIntegerField,
    TextField,
    TimeInputField,
    VersionField,
    YenInputField,
    count,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Inquiry, InstallmentPlan
from models.requests import CHANNELS, INQUIRY_STATUSES
from rules.filters import TOKYO, to_tokyo, today_tokyo
from services import arrears, billing

bp = Blueprint("arrears", __name__, url_prefix="/household")

ARREARS = "arrears"
INQUIRIES = "inquiries"


def _add_months(d: dt.date, months: int) -> dt.date:
    index = d.year * 12 + d.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


# --- 滞納対応 -----------------------------------------------------------------------------------------------


class ActionForm(FlaskForm):
    """A contact about arrears: 対応, 対応日, 記録, 次回対応予定日."""

    kind = SelectField(
        _l("対応"),
        choices=code_choices(arrears.CONTACT_KINDS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    action_date = DateInputField(_l("対応日"), [required()])
    note = NoteField(
        _l("記録"), [optional()], max_length=1000, description=_l("話した内容、約束した納付日など。")
    )
    next_action_date = DateInputField(_l("次回対応予定日"), [optional()])

    def validate_action_date(self, field):
        if field.data and field.data > today_tokyo():
            raise ValidationError(_l("対応日に今日より後の日付は入力できません。"))

    def validate_next_action_date(self, field):
        if field.data and self.action_date.data and field.data < self.action_date.data:
            raise ValidationError(_l("次回対応予定日は対応日と同じ日かそれより後にしてください。"))

    def values(self) -> dict:
        return {
            "kind": self.kind.data,
            "action_date": self.action_date.data,
            "note": self.note.data,
            "next_action_date": self.next_action_date.data,
        }


@bp.route("/<int:household_id>/arrears/new", methods=["GET", "POST"])
def action_new(household_id: int):
    """Record a contact about the household's arrears (督促, 催告, 電話, 訪問, 納付相談 …)."""
    household = inline.household_or_404(household_id, section=ARREARS)
    form = ActionForm(prefix="action_")
    if request.method == "GET":
        form.action_date.data = today_tokyo()

    def create(f):
        arrears.record_action(household.id, f.values(), **audit_context())

    return inline.create_record(
        form=form,
        household=household,
        section=ARREARS,
        template="staff/household/_arrears_action_form.html",
        title=_("滞納対応の記録"),
        message=_("滞納対応を記録しました。"),
        create=create,
        context={"balance": billing.totals(household.id)},
    )


# --- 分納誓約 -----------------------------------------------------------------------------------------------


class PlanForm(FlaskForm):
    """分納誓約: 誓約額, 月額, 回数, 開始月, 債務承認日."""

    total_amount = YenInputField(
        _l("誓約額（円）"), [required()], description=_l("納期限を過ぎた未納額の全額以上、未納額の合計以下。")
    )
    monthly_amount = YenInputField(_l("月額（円）"), [required()])
    months = SmallIntegerField(
        _l("回数"),
        [required(), count(1, arrears.MAX_MONTHS)],
        description=_l("月額×回数が誓約額に届くように。"),
    )
    start_month = MonthInputField(_l("開始月"), [required()], description=_l("例: 2026-05、令和8年5月"))
    acknowledged_on = DateInputField(
        _l("債務承認日"), [required()], description=_l("分納誓約書に署名した日。")
    )

    columns = {
        "total_amount": "total_amount",
        "monthly_amount": "monthly_amount",
        "months": "months",
        "start_month": "start_month",
        "acknowledged_on": "acknowledged_on",
    }

    def validate_monthly_amount(self, field):
        if field.data == 0:
            raise ValidationError(_l("月額は1円以上で入力してください。"))

    def values(self) -> dict:
        return {
            "total_amount": self.total_amount.data,
            "monthly_amount": self.monthly_amount.data,
            "months": self.months.data,
            "start_month": self.start_month.data,
            "acknowledged_on": self.acknowledged_on.data,
        }


class PlanEditForm(PlanForm):
    version = VersionField()


PLAN_ENDINGS = (("completed", _l("完了（全額納付済み）")), ("broken", _l("不履行")))


class PlanStatusForm(FlaskForm):
    """A 履行中 plan ends: 完了 or 不履行."""

    version = VersionField()
    status = RadioField(
        _l("分納誓約の状態"),
        choices=code_choices(PLAN_ENDINGS),
        validators=[required(_l("選んでください。"))],
    )

    columns = {"status": "status"}


def _plan(household, plan_id: int) -> InstallmentPlan:
    plan = InstallmentPlan.get_or_none(
        (InstallmentPlan.id == plan_id) & (InstallmentPlan.household == household.id)
    )
    if plan is None:
        abort(404)
    return plan


def _plan_closed(household, title):
    return read_only(
        household, ARREARS, title=title, message=_("完了または不履行になった分納誓約は変更できません。")
    )


@bp.route("/<int:household_id>/installments/new", methods=["GET", "POST"])
def plan_new(household_id: int):
    """Create a 分納誓約 that covers the arrears (one 履行中 at a time)."""
    household = inline.household_or_404(household_id, section=ARREARS)
    balance = billing.totals(household.id)
    form = PlanForm(prefix="plan_")
    if request.method == "GET":
        today = today_tokyo()
        form.total_amount.data = balance.overdue or balance.unpaid
        form.acknowledged_on.data = today
        form.start_month.data = _add_months(today, 1)

    def create(f):
        arrears.create_plan(household.id, f.values(), **audit_context())

    return inline.create_record(
        form=form,
        household=household,
        section=ARREARS,
        template="staff/household/_arrears_plan_form.html",
        title=_("分納誓約の登録"),
        message=_("分納誓約を登録しました。"),
        create=create,
        context={"plan": None, "balance": balance},
    )


@bp.route("/<int:household_id>/installments/<int:plan_id>/edit", methods=["GET", "POST"])
def plan_edit(household_id: int, plan_id: int):
    """Edit a plan while it is 履行中."""
    household = inline.household_or_404(household_id, section=ARREARS)
    plan = _plan(household, plan_id)
    title = _("分納誓約の編集")
    if plan.status != "active":
        return _plan_closed(household, title)
    form = PlanEditForm(obj=plan, version=plan.version, prefix="plan_")
    return locked_edit(
        form=form,
        instance=plan,
        household=household,
        section=ARREARS,
        template="staff/household/_arrears_plan_form.html",
        action="installment_plan.update",
        values=lambda f: arrears.plan_values(plan, f.values()),
        message=_("分納誓約を保存しました。"),
        title=title,
        context={"plan": plan, "balance": billing.totals(household.id)},
    )


@bp.route("/<int:household_id>/installments/<int:plan_id>/status", methods=["GET", "POST"])
def plan_status(household_id: int, plan_id: int):
    """Mark a 履行中 plan 完了 or 不履行."""
    household = inline.household_or_404(household_id, section=ARREARS)
    plan = _plan(household, plan_id)
    title = _("分納誓約の完了・不履行")
    if plan.status != "active":
        return _plan_closed(household, title)
    form = PlanStatusForm(version=plan.version, prefix="plan_status_")
    return locked_edit(
        form=form,
        instance=plan,
        household=household,
        section=ARREARS,
        template="staff/household/_arrears_plan_status_form.html",
        action="installment_plan.status",
        values=lambda f: arrears.plan_status_values(plan, f.status.data),
        message=_("分納誓約の状態を変更しました。"),
        title=title,
        context={"plan": plan, "balance": billing.totals(household.id)},
    )


# --- 問合せ -------------------------------------------------------------------------------------------------


class InquiryForm(FlaskForm):
    """問合せ: 受付日時 (Tokyo), 受付方法, 件名, 内容, 回答, 状態."""

    received_on = DateInputField(_l("受付日"), [required()])
    received_time = TimeInputField(_l("受付時刻"), [required()], description=_l("例: 14:05"))
    channel = SelectField(
        _l("受付方法"),
        choices=code_choices(CHANNELS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    subject = TextField(_l("件名"), [required()], max_length=200)
    content = NoteField(_l("内容"), [required()], max_length=2000)
    answer = NoteField(_l("回答"), max_length=2000)
    status = SelectField(
        _l("状態"),
        choices=code_choices(INQUIRY_STATUSES),
        validators=[required()],
        invalid_choice_message=CHOOSE,
    )

    columns = {
        "channel": "channel",
        "subject": "subject",
        "content": "content",
        "answer": "answer",
        "status": "status",
    }

    def validate_answer(self, field):
        if self.status.data == "answered" and not field.data and not field.errors:
            raise ValidationError(_l("回答済にするときは回答を入力してください。"))

    def received_at(self) -> dt.datetime | None:
        """受付日時 in UTC (as stored) from the Tokyo date and time typed."""
        if self.received_on.data is None or self.received_time.data is None:
            return None
        local = dt.datetime.combine(self.received_on.data, self.received_time.data, tzinfo=TOKYO)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    def validate_received_time(self, field):
        received = self.received_at()
        if received is not None and received > dt.datetime.now(dt.UTC).replace(tzinfo=None):
            raise ValidationError(_l("受付日時に今より後の日時は入力できません。"))

    def values(self) -> dict:
        return {
            "received_at": self.received_at(),
            "channel": self.channel.data,
            "subject": self.subject.data,
            "content": self.content.data,
            "answer": self.answer.data,
            "status": self.status.data,
        }


class InquiryEditForm(InquiryForm):
    version = VersionField()


class InquiryCloseForm(FlaskForm):
    """完了: the final answer (kept as it is when left unchanged)."""

    version = VersionField()
    answer = NoteField(_l("回答"), [optional()], max_length=2000)

    columns = {"answer": "answer"}


def _inquiry(household, inquiry_id: int) -> Inquiry:
    inquiry = Inquiry.get_or_none((Inquiry.id == inquiry_id) & (Inquiry.household == household.id))
    if inquiry is None:
        abort(404)
    return inquiry


@bp.route("/<int:household_id>/inquiries/new", methods=["GET", "POST"])
def inquiry_new(household_id: int):
    """Log an inquiry about the household."""
    household = inline.household_or_404(household_id, section=INQUIRIES)
    form = InquiryForm(prefix="inquiry_")
    if request.method == "GET":
        now = to_tokyo(dt.datetime.now(dt.UTC))
        form.received_on.data = now.date()
        form.received_time.data = now.time().replace(second=0, microsecond=0)
        form.status.data = "open"

    def create(f):
        arrears.create_inquiry(household.id, f.values(), **audit_context())

    return inline.create_record(
        form=form,
        household=household,
        section=INQUIRIES,
        template="staff/household/_inquiry_form.html",
        title=_("問合せの記録"),
        message=_("問合せを記録しました。"),
        create=create,
        context={"inquiry": None},
    )


@bp.route("/<int:household_id>/inquiries/<int:inquiry_id>/edit", methods=["GET", "POST"])
def inquiry_edit(household_id: int, inquiry_id: int):
    """Edit an inquiry (its answer, its status …)."""
    household = inline.household_or_404(household_id, section=INQUIRIES)
    inquiry = _inquiry(household, inquiry_id)
    form = InquiryEditForm(obj=inquiry, version=inquiry.version, prefix="inquiry_")
    if request.method == "GET":
        received = to_tokyo(inquiry.received_at)
        form.received_on.data = received.date()
        form.received_time.data = received.time().replace(second=0, microsecond=0)
    return locked_edit(
        form=form,
        instance=inquiry,
        household=household,
        section=INQUIRIES,
        template="staff/household/_inquiry_form.html",
        action="inquiry.update",
        values=lambda f: arrears.inquiry_values(inquiry, f.values()),
        message=_("問合せを保存しました。"),
        title=_("問合せの編集"),
        context={"inquiry": inquiry},
    )


@bp.route("/<int:household_id>/inquiries/<int:inquiry_id>/close", methods=["GET", "POST"])
def inquiry_close(household_id: int, inquiry_id: int):
    """Close an inquiry (完了) with its final answer."""
    household = inline.household_or_404(household_id, section=INQUIRIES)
    inquiry = _inquiry(household, inquiry_id)
    title = _("問合せの完了")
    if inquiry.status == "closed":
        return read_only(household, INQUIRIES, title=title, message=_("この問合せはすでに完了しています。"))
    form = InquiryCloseForm(obj=inquiry, version=inquiry.version, prefix="inquiry_close_")
    return locked_edit(
        form=form,
        instance=inquiry,
        household=household,
        section=INQUIRIES,
        template="staff/household/_inquiry_close_form.html",
        action="inquiry.close",
        values=lambda f: arrears.close_values(inquiry, f.answer.data),
        message=_("問合せを完了にしました。"),
        title=title,
        context={"inquiry": inquiry},
    )
