"""Day-to-day billing records of one household: 減免・徴収猶予, corrections of 調定, 窓口収納 and its reversal.

    rows = billing.balances(7)                       # every charge with what was paid (one aggregate query)
    billing.record_payment(7, amount=12_000, receipt_date=d, posted_date=d, method="counter",
                           **audit_context())        # spread over the oldest unpaid charges

Decisions where the specification leaves a choice:

- **未納額** of a charge = 調定額 − 減免額 − Σ 収納額 of its payments that are not reversed; a cancelled
  charge (調定取消) owes nothing. The sum is one SQL aggregate (LEFT JOIN + SUM), the same on SQLite and
  PostgreSQL.
- **Overpayment is refused.** A counter payment is at most what is unpaid: of the charge chosen, or of
  all the household's unpaid charges when it is spread over them (oldest 納期限 first, one payment row
  per charge). The household file has no account for a credit (過誤納金) and refunding one is a
  separate procedure (還付), so money beyond the debt is not taken in here.
- **A payment is never edited or deleted.** A wrong one is reversed: its `reversed` flag is set and the
  reason is added to its note (migration 0012). Reversed payments stay on the screen, struck through,
  and count for nothing. A reversal is guarded by the flag (UPDATE … WHERE NOT reversed): the second
  of two clerks reversing the same payment gets AlreadyReversed (409).
- **A charge is corrected, never deleted.** 調定額 and 減免額 change with a reason (added to the
  charge's note, audited before/after), but never so that 調定額 − 減免額 falls below what was paid;
  a charge with payments cannot be cancelled until they are reversed.
- **減免** requests are registered by staff and decided by an officer (approved_by / approved_at record
  who decided and when, for an approval and a rejection alike); the officer who decides must not be
  the person who registered the request. Approved (or ended) periods of the same kind never overlap.
  Granting or ending one brings the charges already made in line (services.charges.apply_reduction:
  減免額 corrected, or the 納期限 moved for a 徴収猶予); the monthly charge run applies it to new ones.
  A 徴収猶予 postpones, it does not reduce: it has no rate, amount or minimum rent.
- **更新 (renewal)**: from RENEWAL_WINDOW_DAYS before a granted reduction ends, staff register a request
  for the period that follows (same length, same terms, pre-filled; renews_id names the reduction it
  continues, migration 0011) and an officer decides it like any request. One renewal per reduction
  (a rejected one does not count, so it can be asked again).

Every operation runs in one transaction with its audit entry, filed under the household with
"table.column" fields, so each section's history shows it. The checks that read other rows (what was
paid, overlapping periods) run under a lock on the household (SQLite: every transaction begins
IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE on the household row). Like the other services it never
reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from peewee import JOIN, ForeignKeyField, IntegrityError, fn

from extensions import db, is_sqlite
from models import AuditEntry, Charge, Household, Payment, RentReduction
from models.base import utcnow
from models.billing import CHARGE_KINDS, PAYMENT_METHODS
from models.classification import classify
from rules import wareki
from rules.filters import today_tokyo
from services import audit, editing

RuleViolation = editing.RuleViolation

# Methods a clerk records by hand (口座振替 comes from the banks' result file).
MANUAL_METHODS = tuple(pair for pair in PAYMENT_METHODS if pair[0] != "bank_transfer")
DECIDED = ("approved", "ended")  # reductions whose periods count as granted
# 更新: a renewal may be registered from this many days before the reduction ends (about two months,
# the time a household needs to gather the documents of a new request).
RENEWAL_WINDOW_DAYS = 60


class AlreadyReversed(Exception):
    """The payment was reversed by someone else in the meantime."""


# --- balances --------------------------------------------------------------------------------------


@dataclass
class Balance:
    """One charge with what was paid on it (payments not reversed)."""

    charge_id: int
    kind: str
    period: dt.date
    due_date: dt.date
    amount: int
    reduction: int
    paid: int
    cancelled: bool

    @property
    def unpaid(self) -> int:
        """未納額: never below 0; a cancelled charge owes nothing."""
        if self.cancelled:
            return 0
        return max(self.amount - self.reduction - self.paid, 0)

    def label(self) -> str:
        """令和8年4月分 住宅使用料 — how a clerk names a charge."""
        month = wareki.to_wareki(self.period).split("月")[0] + "月分"
        return f"{month} {dict(CHARGE_KINDS)[self.kind]}"

    def overdue(self, today: dt.date) -> bool:
        return self.unpaid > 0 and self.due_date < today


@dataclass
class Totals:
    """The household's sums over the charges not cancelled: 調定額, 減免額, 収納額, 未納額."""

    amount: int = 0
    reduction: int = 0
    paid: int = 0
    unpaid: int = 0
    overdue: int = 0  # unpaid after the 納期限 (滞納額)
    overdue_months: int = 0  # distinct months with an overdue charge


def balances(household_id: int, charge_id: int | None = None) -> list[Balance]:
    """Every charge of the household (or one) with Σ 収納額, oldest 納期限 first: one aggregate query."""
    paid = fn.COALESCE(fn.SUM(Payment.amount), 0)
    query = (
        Charge.select(
            Charge.id,
            Charge.kind,
            Charge.period,
            Charge.due_date,
            Charge.amount,
            Charge.reduction_amount,
            Charge.cancelled,
            paid.alias("paid"),
        )
        .join(
            Payment,
            JOIN.LEFT_OUTER,
            on=((Payment.charge == Charge.id) & ~Payment.reversed),
        )
        .where(Charge.household == household_id)
        .group_by(Charge.id)
        .order_by(Charge.due_date, Charge.period, Charge.id)
    )
    if charge_id is not None:
        query = query.where(Charge.id == charge_id)
    return [
        Balance(
            charge_id=row.id,
            kind=row.kind,
            period=row.period,
            due_date=row.due_date,
            amount=row.amount,
            reduction=row.reduction_amount,
            paid=int(row.paid or 0),
            cancelled=bool(row.cancelled),
        )
        for row in query
    ]


def totals(household_id: int, today: dt.date | None = None) -> Totals:
    """調定額 − 減免額 − 収納額 = 未納額 over the household's charges (cancelled ones left out)."""
    today = today or today_tokyo()
    result = Totals()
    months = set()
    for row in balances(household_id):
        if row.cancelled:
            continue
        result.amount += row.amount
        result.reduction += row.reduction
        result.paid += row.paid
        result.unpaid += row.unpaid
        if row.overdue(today):
            result.overdue += row.unpaid
            months.add(row.period)
    result.overdue_months = len(months)
    return result


def unpaid_charges(household_id: int) -> list[Balance]:
    """The charges that still owe something, oldest 納期限 first (the order a payment fills them)."""
    return [row for row in balances(household_id) if row.unpaid > 0]


def lock_household(household_id: int) -> None:
    """Hold the household's row until the transaction ends (PostgreSQL); SQLite has the write lock."""
    if not is_sqlite():
        list(Household.select(Household.id).where(Household.id == household_id).for_update())


def append_note(note: str | None, heading: str, text: str | None, today: dt.date) -> str:
    """The note with one more line: 【訂正 令和8年5月1日】理由."""
    line = f"【{heading} {wareki.to_wareki(today)}】{text or ''}".rstrip()
    return f"{note}\n{line}" if note else line


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def create_record(
    model, values: Mapping, *, household_id: int, action: str, actor=None, session_ref=None, ip=None
):
    """Insert one row of a household's records and audit it under the household, in one transaction.

    Like services.editing.create, but the history names only what a person typed or the rule
    computed: references (the household, the clerk or office recording it — the entry's actor says
    who) and empty values are left out, so the section's history reads 「減免額: — → 5000」 without
    「世帯: — → 7」. RuleViolation when the database refuses the row."""
    table = model._meta.table_name
    references = {name for name, f in model._meta.fields.items() if isinstance(f, ForeignKeyField)}
    shown = {name: value for name, value in values.items() if name not in references and value is not None}
    fields = [f"{table}.{name}" for name in shown]
    changes = {  # C3 (特定個人情報) is named in fields, never its value
        f"{table}.{name}": [None, editing.history_value(value)]
        for name, value in shown.items()
        if classify(table, name) != "C3"
    }
    try:
        with db.atomic():
            instance = model.create(**values)
            audit.record(
                action,
                target_table="household",
                target_ids=[household_id],
                fields=fields,
                changes=changes,
                reason=f"{table} {instance.id}",
                **_context(actor, session_ref, ip),
            )
    except IntegrityError as exc:
        raise RuleViolation(
            _l("入力された内容の組み合わせは登録できません。各項目を確認してください。")
        ) from exc
    return instance


# --- 調定: corrections and cancellation -----------------------------------------------------------------


def correction_values(
    charge: Charge, *, amount: int, reduction_amount: int, reason: str, today: dt.date | None = None
) -> dict:
    """The values of a corrected charge (call inside the transaction that saves them).

    RuleViolation when the charge is cancelled, nothing changes, 減免額 exceeds 調定額, or 調定額 − 減免額
    would fall below what was already paid."""
    today = today or today_tokyo()
    lock_household(charge.household_id)
    if charge.cancelled:
        raise RuleViolation(_l("取り消した調定は訂正できません。"))
    if amount == charge.amount and reduction_amount == charge.reduction_amount:
        raise RuleViolation(_l("調定額か減免額を訂正後の額にしてください。"), field="amount")
    if reduction_amount > amount:
        raise RuleViolation(_l("減免額は調定額以下にしてください。"), field="reduction_amount")
    (row,) = balances(charge.household_id, charge.id)
    if amount - reduction_amount < row.paid:
        raise RuleViolation(
            _l(
                "この調定には%(paid)s円の収納があります。調定額から減免額を引いた額をそれより少なくすることはできません（先に収納を取り消してください）。",
                paid=f"{row.paid:,}",
            ),
            field="amount",
        )
    return {
        "amount": amount,
        "reduction_amount": reduction_amount,
        "note": append_note(charge.note, "訂正", reason, today),
    }


def cancellation_values(charge: Charge, *, reason: str, today: dt.date | None = None) -> dict:
    """The values of a cancelled charge (調定取消); refused while payments stand on it."""
    today = today or today_tokyo()
    lock_household(charge.household_id)
    if charge.cancelled:
        raise RuleViolation(_l("この調定はすでに取り消されています。"))
    (row,) = balances(charge.household_id, charge.id)
    if row.paid:
        raise RuleViolation(
            _l(
                "この調定には%(paid)s円の収納があるため取り消せません。先に収納を取り消してください。",
                paid=f"{row.paid:,}",
            ),
            field="reason",
        )
    return {"cancelled": True, "note": append_note(charge.note, "調定取消", reason, today)}


def postponement_values(
    charge: Charge,
    *,
    due_date: dt.date,
    original_due_date: dt.date | None,
    reason: str,
    today: dt.date | None = None,
) -> dict:
    """The values of a charge whose 納期限 a 徴収猶予 moves (or gives back when the postponement ends):
    due_date, the 納期限 before it (original_due_date, None once it is back) and a line in the note."""
    today = today or today_tokyo()
    lock_household(charge.household_id)
    if charge.cancelled:
        raise RuleViolation(_l("取り消した調定は訂正できません。"))
    if due_date == charge.due_date and original_due_date == charge.original_due_date:
        raise RuleViolation(_l("納期限は変わりません。"))
    heading = "徴収猶予" if original_due_date is not None else "徴収猶予の終了"
    text = f"{reason} 納期限 {wareki.to_wareki(charge.due_date)} → {wareki.to_wareki(due_date)}"
    return {
        "due_date": due_date,
        "original_due_date": original_due_date,
        "note": append_note(charge.note, heading, text, today),
    }


# --- 収納 -------------------------------------------------------------------------------------------------


def record_payment(
    household_id: int,
    *,
    amount: int,
    receipt_date: dt.date,
    posted_date: dt.date,
    method: str,
    charge_id: int | None = None,
    note: str | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> list[Payment]:
    """A payment received (窓口, 納付書, 代理納付): on one charge, or spread over the oldest unpaid ones.

    One payment row per charge it pays, each with its audit entry, all in one transaction. RuleViolation
    (nothing written) for an amount of 0, dates in the future or 収納日 before 領収日, a charge not of
    this household or with nothing unpaid, and an amount beyond what is unpaid (overpayment refused)."""
    today = today or today_tokyo()
    if method not in dict(MANUAL_METHODS):
        raise RuleViolation(_l("一覧から選んでください。"), field="method")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise RuleViolation(_l("収納額は1円以上で入力してください。"), field="amount")
    if receipt_date > today:
        raise RuleViolation(_l("領収日に今日より後の日付は入力できません。"), field="receipt_date")
    if posted_date < receipt_date:
        raise RuleViolation(_l("収納日は領収日と同じ日かそれより後にしてください。"), field="posted_date")
    if posted_date > today:
        raise RuleViolation(_l("収納日に今日より後の日付は入力できません。"), field="posted_date")
    context = _context(actor, session_ref, ip)
    with db.atomic():
        lock_household(household_id)
        open_rows = unpaid_charges(household_id)
        if charge_id is not None:
            target = next((row for row in open_rows if row.charge_id == charge_id), None)
            if target is None:
                raise RuleViolation(
                    _l("選んだ調定には未納額がありません。一覧から選び直してください。"), field="charge"
                )
            if amount > target.unpaid:
                raise RuleViolation(
                    _l(
                        "この調定の未納額は%(unpaid)s円です。それを超える額は収納できません。",
                        unpaid=f"{target.unpaid:,}",
                    ),
                    field="amount",
                )
            plan = [(target, amount)]
        else:
            owed = sum(row.unpaid for row in open_rows)
            if owed == 0:
                raise RuleViolation(_l("未納の調定はありません。"), field="amount")
            if amount > owed:
                raise RuleViolation(
                    _l(
                        "未納額の合計は%(unpaid)s円です。それを超える額は収納できません。",
                        unpaid=f"{owed:,}",
                    ),
                    field="amount",
                )
            plan, left = [], amount
            for row in open_rows:  # oldest 納期限 first
                if left == 0:
                    break
                part = min(left, row.unpaid)
                plan.append((row, part))
                left -= part
        created = []
        for row, part in plan:
            payment = Payment.create(
                charge=row.charge_id,
                amount=part,
                receipt_date=receipt_date,
                posted_date=posted_date,
                method=method,
                note=note,
                recorded_by=actor.id if actor is not None else None,
            )
            changes = {
                # The charge is named the way a clerk reads it (its id is in the entry's reason).
                "payment.charge": [None, row.label()],
                "payment.amount": [None, part],
                "payment.receipt_date": [None, receipt_date.isoformat()],
                "payment.posted_date": [None, posted_date.isoformat()],
                "payment.method": [None, method],
            }
            if note:
                changes["payment.note"] = [None, note]
            audit.record(
                "payment.create",
                target_table="household",
                target_ids=[household_id],
                fields=list(changes),
                changes=changes,
                reason=f"payment {payment.id} charge {row.charge_id}",
                **context,
            )
            created.append(payment)
    return created


def reverse_payment(
    payment: Payment,
    *,
    household_id: int,
    reason: str,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> Payment:
    """取消 of a wrong payment: flagged reversed with the reason in its note; AlreadyReversed when
    someone reversed it first (nothing written)."""
    today = today or today_tokyo()
    with db.atomic():
        lock_household(household_id)
        note = append_note(payment.note, "取消", reason, today)
        changed = (
            Payment.update(reversed=True, note=note, updated_at=utcnow())
            .where((Payment.id == payment.id) & ~Payment.reversed)
            .execute()
        )
        if changed != 1:
            raise AlreadyReversed()
        changes = {"payment.reversed": [False, True], "payment.note": [payment.note, note]}
        audit.record(
            "payment.reverse",
            target_table="household",
            target_ids=[household_id],
            fields=list(changes),
            changes=changes,
            reason=f"payment {payment.id} charge {payment.charge_id}",
            **_context(actor, session_ref, ip),
        )
    payment.reversed, payment.note = True, note
    return payment


# --- 減免・徴収猶予 -------------------------------------------------------------------------------------------


def overlapping_reduction(
    household_id: int, kind: str, start: dt.date, end: dt.date, exclude_id: int | None = None
) -> RentReduction | None:
    """An approved (or ended) reduction of the same kind that shares a day with start..end."""
    query = RentReduction.select().where(
        (RentReduction.household == household_id)
        & (RentReduction.kind == kind)
        & RentReduction.status.in_(DECIDED)
        & (RentReduction.start_date <= end)
        & (RentReduction.end_date >= start)
    )
    if exclude_id is not None:
        query = query.where(RentReduction.id != exclude_id)
    return query.order_by(RentReduction.start_date).first()


def check_reduction_period(
    household_id: int, kind: str, start: dt.date, end: dt.date, exclude_id: int | None = None
) -> None:
    """RuleViolation (on 開始日) when the period overlaps a granted one of the same kind."""
    other = overlapping_reduction(household_id, kind, start, end, exclude_id)
    if other is not None:
        raise RuleViolation(
            _l(
                "承認済みの期間（%(start)s〜%(end)s）と重なっています。期間を確認してください。",
                start=wareki.to_wareki(other.start_date),
                end=wareki.to_wareki(other.end_date),
            ),
            field="start_date",
        )


def check_terms(values: Mapping) -> None:
    """A 減免 has a rate or an amount (one of them); a 徴収猶予 has neither, nor a minimum rent."""
    if values.get("kind") == "postponement":
        for name in ("rate", "amount", "minimum_rent"):
            if values.get(name) is not None:
                raise RuleViolation(
                    _l("徴収猶予は納期限を延ばすもので、減免率・減免額・最低家賃は入力しません。"), field=name
                )
    elif (values.get("rate") is None) == (values.get("amount") is None):
        raise RuleViolation(_l("減免率か減免額のどちらか一方を入力してください。"), field="rate")


def renewal_period(reduction: RentReduction) -> tuple[dt.date, dt.date]:
    """The period a renewal asks for: from the day after the end, as long as the reduction was (whole
    months stay whole months: 4月1日〜3月31日 → the next 4月1日〜3月31日)."""
    start = reduction.end_date + dt.timedelta(days=1)
    if reduction.start_date.day == 1 and start.day == 1:
        months = (start.year - reduction.start_date.year) * 12 + start.month - reduction.start_date.month
        index = start.year * 12 + start.month - 1 + months
        end = dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)
    else:
        end = start + (reduction.end_date - reduction.start_date)
    return start, end


def renewal_opens(reduction: RentReduction) -> dt.date:
    """The first day a renewal of the reduction may be registered."""
    return reduction.end_date - dt.timedelta(days=RENEWAL_WINDOW_DAYS)


def renewable(reduction: RentReduction, reductions, today: dt.date) -> bool:
    """Whether a renewal may be registered now: granted (not ended early), within the window, and not
    renewed yet (reductions: the household's, from which the renewals are found; no query)."""
    if reduction.status != "approved" or today < renewal_opens(reduction):
        return False
    return not any(r.renews_id == reduction.id and r.status != "rejected" for r in reductions)


def check_renewal(previous: RentReduction, today: dt.date | None = None) -> None:
    """RuleViolation unless previous may be renewed now (read under the household's lock)."""
    today = today or today_tokyo()
    lock_household(previous.household_id)
    if previous.status != "approved":
        raise RuleViolation(_l("承認済みで終了していない減免だけ更新できます。"))
    if today < renewal_opens(previous):
        raise RuleViolation(
            _l(
                "更新の申請は終了日の%(days)s日前（%(date)s）から登録できます。",
                days=RENEWAL_WINDOW_DAYS,
                date=wareki.to_wareki(renewal_opens(previous)),
            )
        )
    siblings = RentReduction.select().where(RentReduction.household == previous.household_id)
    if not renewable(previous, siblings, today):
        raise RuleViolation(_l("この減免の更新はすでに登録されています。"))


def create_reduction(
    household_id: int,
    values: Mapping,
    *,
    renews: RentReduction | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> RentReduction:
    """Register a 減免 / 徴収猶予 request (申請中), or the renewal of a granted one (renews); refused when
    it overlaps a granted period."""
    check_terms(values)
    with db.atomic():
        lock_household(household_id)
        if renews is not None:
            check_renewal(renews, today)
            values = {**values, "renews": renews.id}
        check_reduction_period(household_id, values["kind"], values["start_date"], values["end_date"])
        return create_record(
            RentReduction,
            {"household": household_id, "status": "requested", **values},
            household_id=household_id,
            action="rent_reduction.create",
            **_context(actor, session_ref, ip),
        )


def request_values(reduction: RentReduction, values: Mapping) -> dict:
    """The values of an edited request (only while 申請中, never overlapping a granted period)."""
    lock_household(reduction.household_id)
    if reduction.status != "requested":
        raise RuleViolation(_l("申請中の減免だけ編集できます。"))
    check_terms(values)
    check_reduction_period(
        reduction.household_id, values["kind"], values["start_date"], values["end_date"], reduction.id
    )
    return dict(values)


def registered_by(reduction: RentReduction) -> int | None:
    """Who registered the request (from its audit entry)."""
    entry = (
        AuditEntry.select(AuditEntry.actor_id)
        .where(
            (AuditEntry.action == "rent_reduction.create")
            & (AuditEntry.reason == f"rent_reduction {reduction.id}")
        )
        .order_by(AuditEntry.id)
        .first()
    )
    return entry.actor_id if entry else None


def decision_values(
    reduction: RentReduction, *, approve: bool, officer, reason: str | None, today: dt.date | None = None
) -> dict:
    """An officer's decision on a request: approved (its period must not overlap a granted one) or
    rejected. Refused when the request is no longer 申請中 or the officer registered it."""
    today = today or today_tokyo()
    lock_household(reduction.household_id)
    if reduction.status != "requested":
        raise RuleViolation(_l("この申請はすでに決定されています。"))
    if officer is not None and registered_by(reduction) == officer.id:
        raise RuleViolation(
            _l("自分で登録した申請は承認・却下できません。ほかの保護責任者に依頼してください。")
        )
    if approve:
        check_reduction_period(
            reduction.household_id,
            reduction.kind,
            reduction.start_date,
            reduction.end_date,
            reduction.id,
        )
    values = {
        "status": "approved" if approve else "rejected",
        "approved_by": officer.id if officer is not None else None,
        "approved_at": today,
    }
    if reason:
        values["note"] = append_note(reduction.note, "承認" if approve else "却下", reason, today)
    return values


def end_values(
    reduction: RentReduction, *, end_date: dt.date, reason: str, today: dt.date | None = None
) -> dict:
    """End a granted reduction early (終了): the new end date lies within its period."""
    today = today or today_tokyo()
    lock_household(reduction.household_id)
    if reduction.status != "approved":
        raise RuleViolation(_l("承認済みの減免だけ終了できます。"))
    if end_date < reduction.start_date or end_date > reduction.end_date:
        raise RuleViolation(
            _l(
                "終了日は%(start)sから%(end)sまでの日付にしてください。",
                start=wareki.to_wareki(reduction.start_date),
                end=wareki.to_wareki(reduction.end_date),
            ),
            field="end_date",
        )
    return {
        "status": "ended",
        "end_date": end_date,
        "note": append_note(reduction.note, "終了", reason, today),
    }
