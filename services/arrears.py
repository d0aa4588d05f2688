"""Arrears work (滞納対応) and residents' inquiries (問合せ) of one household.

    arrears.record_action(7, {"kind": "phone", "action_date": d, "note": "…"}, **audit_context())
    arrears.create_plan(7, {"total_amount": 90_000, "monthly_amount": 10_000, "months": 9, …}, …)

Decisions where the specification leaves a choice:

- **An arrears contact is a fact, kept as recorded**: 督促, 催告, 電話, 訪問, 納付相談 … with its date,
  the clerk (the signed-in user), a note and the day of the next step (次回対応予定日). The amount and
  the months overdue at that moment (その時点の未納額, 滞納月数) are computed from the charges, not typed:
  未納額 after the 納期限 (services.billing.totals) and the number of months with such a charge.
  Contacts have no version column and are not edited; a wrong one is corrected by a new contact.
- **分納誓約** (installment plan, an acknowledgement of the debt): 誓約額 covers at least the arrears
  (未納額 past the 納期限) and at most everything unpaid; 月額 × 回数 reaches 誓約額 and 月額 does not
  exceed it; payments start in the month of the acknowledgement or later. One plan is 履行中 at a time;
  creating it records a 分納誓約 contact in the same transaction. It is edited while 履行中 and ends
  as 完了 or 不履行.
- **問合せ**: received at a Tokyo date and time (stored UTC), channel, subject, content, answer and
  status. 回答日時 is set when an answer is first written or changed; 完了 closes it.

Each operation is one transaction with its audit entry under the household ("table.column" fields).
The checks that read other rows (the balance, the plan in force) run under the household's lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from extensions import db
from models import ArrearsAction, Inquiry, InstallmentPlan
from models.base import utcnow
from models.billing import ARREARS_ACTIONS
from rules.filters import today_tokyo
from services.billing import RuleViolation, create_record, lock_household, totals

# What a clerk records by hand; a 分納誓約 contact comes with the plan itself.
CONTACT_KINDS = tuple(pair for pair in ARREARS_ACTIONS if pair[0] != "installment")
MAX_MONTHS = 120


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def _month(d: dt.date) -> dt.date:
    return d.replace(day=1)


# --- 滞納対応 -----------------------------------------------------------------------------------------------


def record_action(
    household_id: int, values: Mapping, *, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> ArrearsAction:
    """Record a contact (督促, 催告, 電話, 訪問, 納付相談 …) with the arrears at that moment."""
    today = today or today_tokyo()
    if values["kind"] not in dict(ARREARS_ACTIONS):
        raise RuleViolation(_l("一覧から選んでください。"), field="kind")
    if values["action_date"] > today:
        raise RuleViolation(_l("対応日に今日より後の日付は入力できません。"), field="action_date")
    following = values.get("next_action_date")
    if following is not None and following < values["action_date"]:
        raise RuleViolation(
            _l("次回対応予定日は対応日と同じ日かそれより後にしてください。"), field="next_action_date"
        )
    with db.atomic():
        lock_household(household_id)
        now = totals(household_id, today)
        return create_record(
            ArrearsAction,
            {
                "household": household_id,
                "kind": values["kind"],
                "action_date": values["action_date"],
                "note": values.get("note"),
                "next_action_date": following,
                "amount_due": now.overdue,
                "months_due": now.overdue_months,
                "staff": actor.id if actor is not None else None,
            },
            household_id=household_id,
            action="arrears_action.create",
            **_context(actor, session_ref, ip),
        )


# --- 分納誓約 -----------------------------------------------------------------------------------------------


def check_plan(values: Mapping) -> None:
    """The plan's own figures: 月額 × 回数 reaches 誓約額, 月額 not above it, a start not before the
    acknowledgement's month. RuleViolation on the field at fault."""
    total, monthly, months = values["total_amount"], values["monthly_amount"], values["months"]
    if total <= 0:
        raise RuleViolation(_l("誓約額は1円以上で入力してください。"), field="total_amount")
    if monthly <= 0:
        raise RuleViolation(_l("月額は1円以上で入力してください。"), field="monthly_amount")
    if not 1 <= months <= MAX_MONTHS:
        raise RuleViolation(
            _l("回数は1から%(max)s回の間で入力してください。", max=MAX_MONTHS), field="months"
        )
    if monthly > total:
        raise RuleViolation(_l("月額が誓約額を超えています。"), field="monthly_amount")
    if monthly * months < total:
        needed = -(-total // monthly)
        raise RuleViolation(
            _l(
                "月額×回数（%(planned)s円）が誓約額（%(total)s円）に届きません。回数を%(needed)s回以上にするか、月額を増やしてください。",
                planned=f"{monthly * months:,}",
                total=f"{total:,}",
                needed=needed,
            ),
            field="months",
        )
    if _month(values["start_month"]) < _month(values["acknowledged_on"]):
        raise RuleViolation(_l("開始月は債務承認日の月かそれより後にしてください。"), field="start_month")


def create_plan(
    household_id: int, values: Mapping, *, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> InstallmentPlan:
    """A new 分納誓約 covering the arrears, with its 分納誓約 contact; refused while another is 履行中."""
    today = today or today_tokyo()
    values = {**values, "start_month": _month(values["start_month"])}
    if values["acknowledged_on"] > today:
        raise RuleViolation(_l("債務承認日に今日より後の日付は入力できません。"), field="acknowledged_on")
    check_plan(values)
    context = _context(actor, session_ref, ip)
    with db.atomic():
        lock_household(household_id)
        active = (
            InstallmentPlan.select(InstallmentPlan.id)
            .where((InstallmentPlan.household == household_id) & (InstallmentPlan.status == "active"))
            .exists()
        )
        if active:
            raise RuleViolation(
                _l("履行中の分納誓約があります。新しく作る前に、その誓約を完了か不履行にしてください。")
            )
        now = totals(household_id, today)
        if now.unpaid == 0:
            raise RuleViolation(_l("未納額がないため、分納誓約は作れません。"), field="total_amount")
        if values["total_amount"] < now.overdue:
            raise RuleViolation(
                _l(
                    "誓約額が納期限を過ぎた未納額（%(overdue)s円）に足りません。滞納分の全額を含めてください。",
                    overdue=f"{now.overdue:,}",
                ),
                field="total_amount",
            )
        if values["total_amount"] > now.unpaid:
            raise RuleViolation(
                _l("誓約額は現在の未納額（%(unpaid)s円）以下にしてください。", unpaid=f"{now.unpaid:,}"),
                field="total_amount",
            )
        plan = create_record(
            InstallmentPlan,
            {"household": household_id, "status": "active", **values},
            household_id=household_id,
            action="installment_plan.create",
            **context,
        )
        create_record(
            ArrearsAction,
            {
                "household": household_id,
                "kind": "installment",
                "action_date": values["acknowledged_on"],
                "note": f"分納誓約（{values['months']}回・月額{values['monthly_amount']:,}円）",
                "amount_due": now.overdue,
                "months_due": now.overdue_months,
                "staff": actor.id if actor is not None else None,
            },
            household_id=household_id,
            action="arrears_action.create",
            **context,
        )
    return plan


def plan_values(plan: InstallmentPlan, values: Mapping, *, today: dt.date | None = None) -> dict:
    """The values of an edited plan (only while 履行中)."""
    today = today or today_tokyo()
    lock_household(plan.household_id)
    if plan.status != "active":
        raise RuleViolation(_l("履行中の分納誓約だけ編集できます。"))
    values = {**values, "start_month": _month(values["start_month"])}
    if values["acknowledged_on"] > today:
        raise RuleViolation(_l("債務承認日に今日より後の日付は入力できません。"), field="acknowledged_on")
    check_plan(values)
    return values


def plan_status_values(plan: InstallmentPlan, status: str) -> dict:
    """A 履行中 plan ends: 完了 (paid in full) or 不履行 (broken)."""
    if plan.status != "active":
        raise RuleViolation(_l("履行中の分納誓約だけ状態を変更できます。"))
    if status not in ("completed", "broken"):
        raise RuleViolation(_l("一覧から選んでください。"), field="status")
    return {"status": status}


# --- 問合せ -------------------------------------------------------------------------------------------------


def _answered_at(values: Mapping, inquiry: Inquiry | None, now: dt.datetime):
    answer = values.get("answer")
    if not answer:
        return None
    if inquiry is not None and inquiry.answer == answer and inquiry.answered_at is not None:
        return inquiry.answered_at
    return now


def _check_inquiry(values: Mapping, now: dt.datetime) -> None:
    if values["received_at"] > now:
        raise RuleViolation(_l("受付日時に今より後の日時は入力できません。"), field="received_on")
    if values.get("status") == "answered" and not values.get("answer"):
        raise RuleViolation(_l("回答済にするときは回答を入力してください。"), field="answer")


def create_inquiry(household_id: int, values: Mapping, *, actor=None, session_ref=None, ip=None) -> Inquiry:
    """Log an inquiry about the household, recorded by the signed-in user (and their office, if any)."""
    now = utcnow()
    _check_inquiry(values, now)
    record = {
        "household": household_id,
        **values,
        "answered_at": _answered_at(values, None, now),
        "recorded_by": actor.id if actor is not None else None,
        "office": getattr(actor, "office_id", None),
    }
    return create_record(
        Inquiry,
        record,
        household_id=household_id,
        action="inquiry.create",
        **_context(actor, session_ref, ip),
    )


def inquiry_values(inquiry: Inquiry, values: Mapping) -> dict:
    """The values of an edited inquiry, 回答日時 following the answer."""
    now = utcnow()
    _check_inquiry(values, now)
    return {**values, "answered_at": _answered_at(values, inquiry, now)}


def close_values(inquiry: Inquiry, answer: str | None) -> dict:
    """完了: the inquiry closes, with its final answer (the one kept when left empty)."""
    if inquiry.status == "closed":
        raise RuleViolation(_l("この問合せはすでに完了しています。"))
    values = {"status": "closed", "answer": answer or inquiry.answer}
    values["answered_at"] = _answered_at(values, inquiry, utcnow())
    return values
