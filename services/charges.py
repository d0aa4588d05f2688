"""減免 and 徴収猶予 reflected in the rent charges (調定): the month's charge from the decision in force,
the corrections when an officer grants or ends a reduction, and the monthly charge run.

    charge = charges.rent_charge_for(household, date(2026, 6, 1))   # None: no rent decision in force
    outcome = charges.apply_reduction(reduction, **audit_context())  # inside the decision's transaction
    result = charges.charge_month(date(2026, 6, 1), dry_run=True)    # `flask billing charge --month`

Decisions where the specification leaves a choice:

- **The rent of a month is the approved rent decision in force** (家賃決定, state 決定, the latest
  適用開始日 not after the day), day by day: a decision that starts mid-month prorates the month. With no
  decision in force on an occupied day there is no figure: rent_charge_for answers None (and the charge
  run lists the household with the reason). An earlier charge's amount is never taken as the rent: a
  charge is what was billed, not what was decided.
- **Granting or ending a reduction corrects the charges already made** for the months its period
  touches, through the 調定の訂正 path (services.billing.correction_values, audited as charge.correct):
  the charge keeps its 調定額 and gets the 減免額 the rule computes now. A month with a payment on it is
  left alone and listed (a refund or an additional charge is the clerk's decision), so is a month whose
  調定額 differs from the decision (someone corrected it by hand) or that has no decision.
- **徴収猶予 moves the 納期限** of the unpaid rent charges of the months it touches to its last day
  (charge.original_due_date keeps the date before, migration 0011), so reminders and the arrears count
  wait for it; ending it early moves them back (never before their own 納期限). A month already paid in
  full is left alone and listed.
- **The charge run is idempotent**: a household whose rent charge for the month exists (the unique
  household + month + "rent") is counted as existing, whatever its amount; two runs at once cannot
  duplicate a charge (the second insert is refused by the index and counted as existing). Every charge
  created is audited under its household, like a clerk's entry. Parking charges are not made here.
- **No rent after a 明渡期限** (法29条6項): a household with an approved 高額所得者 明渡請求 (請求中, 期限延長,
  法的措置, or 明渡済 when it stayed past the deadline) owes rent up to the deadline in force (the extended one when granted), prorated by day in the
  deadline's month; the 損害賠償金 (services.evictions.post_damages) covers the days after it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from peewee import fn

from extensions import db
from models import Charge, EvictionRequest, Household, Payment, RentDecision, RentReduction, Tenancy
from models.base import ConflictError
from rules import charges as rules
from rules import wareki
from rules.filters import today_tokyo
from rules.household import month_end, month_start
from services import billing, editing

RENT = "rent"  # the source_key of a household's rent charge (unique per household and month)
BATCH = 200  # households per transaction in the charge run
# 明渡請求 states in which the damages after the deadline replace the rent (as services.evictions charges them)
DAMAGES_INSTEAD_OF_RENT = ("requested", "extended", "legal_action", "vacated")


@dataclass(frozen=True)
class RentCharge:
    """What a household owes as rent for a month: 調定額, 減免額, 納期限 (after 徴収猶予) and the steps."""

    household_id: int
    period: dt.date
    amount: int
    reduction: int
    due_date: dt.date
    original_due_date: dt.date | None
    explanation: list[str]

    @property
    def payable(self) -> int:
        return self.amount - self.reduction


def terms_of(reduction: RentReduction) -> rules.ReductionTerms:
    """A granted 減免 as the rule takes it, named by its period."""
    label = (
        f"減免（{wareki.to_wareki(reduction.start_date)}〜{wareki.to_wareki(reduction.end_date)}"
        + (
            f"、{format((Decimal(reduction.rate) * 100).normalize(), 'f')}%"
            if reduction.rate is not None
            else ""
        )
        + "）"
    )
    return rules.ReductionTerms(
        rate=Decimal(reduction.rate) if reduction.rate is not None else None,
        amount=reduction.amount if reduction.rate is None else None,
        minimum_rent=reduction.minimum_rent,
        label=label,
    )


@dataclass
class _Facts:
    """What the month's charge of one household is computed from (loaded in bulk by the charge run)."""

    occupied: list[tuple[dt.date, dt.date | None]] = field(default_factory=list)
    decisions: list[RentDecision] = field(default_factory=list)
    reductions: list[RentReduction] = field(default_factory=list)
    rent_until: dt.date | None = None  # the 明渡期限 in force of a 高額所得者 明渡請求: no rent after it


def _figure(household_id: int, period: dt.date, facts: _Facts) -> RentCharge:
    """The month's charge from the facts; NoRentInForce when an occupied day has no decision."""
    granted = [r for r in facts.reductions if r.status in billing.DECIDED]
    reductions = [r for r in granted if r.kind == "reduction"]
    terms = {r.id: terms_of(r) for r in reductions}
    occupied = facts.occupied
    if facts.rent_until is not None:
        # after the 明渡期限 the 損害賠償金 replaces the rent (法29条6項, services.evictions.post_damages)
        occupied = [
            (start, facts.rent_until if end is None else min(end, facts.rent_until))
            for start, end in occupied
            if start <= facts.rent_until
        ]
    spans = rules.month_spans(
        period,
        occupied=occupied,
        decisions=[(d.effective_from, d.rent) for d in facts.decisions],
        reductions=[(r.start_date, r.end_date, terms[r.id]) for r in reductions],
    )
    figure = rules.month_charge(period, spans)
    due = month_end(period)
    postponed, step = rules.postponed_due(
        period, due, [(r.start_date, r.end_date) for r in granted if r.kind == "postponement"]
    )
    lines = list(figure.explanation) + ([step] if step else [])
    return RentCharge(
        household_id=household_id,
        period=period,
        amount=figure.amount,
        reduction=figure.reduction,
        due_date=postponed,
        original_due_date=due if postponed != due else None,
        explanation=lines,
    )


def _facts_for(household_ids, period: dt.date) -> dict[int, _Facts]:
    """The tenancies, approved decisions and granted reductions of households for a month: three queries
    (household_ids: a list or a subquery)."""
    first, last = month_start(period), month_end(period)
    facts: dict[int, _Facts] = defaultdict(_Facts)
    for tenancy in Tenancy.select(Tenancy.household, Tenancy.move_in_date, Tenancy.move_out_date).where(
        Tenancy.household.in_(household_ids)
        & (Tenancy.move_in_date <= last)
        & (Tenancy.move_out_date.is_null() | (Tenancy.move_out_date >= first))
    ):
        facts[tenancy.household_id].occupied.append((tenancy.move_in_date, tenancy.move_out_date))
    for decision in (
        RentDecision.select()
        .where(
            RentDecision.household.in_(household_ids)
            & (RentDecision.state == "approved")
            & (RentDecision.effective_from <= last)
        )
        .order_by(RentDecision.effective_from, RentDecision.id)
    ):
        facts[decision.household_id].decisions.append(decision)
    for reduction in RentReduction.select().where(
        RentReduction.household.in_(household_ids)
        & RentReduction.status.in_(billing.DECIDED)
        & (RentReduction.start_date <= last)
        & (RentReduction.end_date >= first)
    ):
        facts[reduction.household_id].reductions.append(reduction)
    for request in EvictionRequest.select().where(
        EvictionRequest.household.in_(household_ids)
        & (EvictionRequest.ground == "high_income")
        & EvictionRequest.approved_by.is_null(False)
        & EvictionRequest.status.in_(DAMAGES_INSTEAD_OF_RENT)
    ):
        deadline = request.effective_deadline
        if deadline < last:
            known = facts[request.household_id].rent_until
            facts[request.household_id].rent_until = deadline if known is None else min(known, deadline)
    return facts


def rent_charge_for(household, month: dt.date) -> RentCharge | None:
    """The rent charge of a household for a month (any day of it): the approved rent decisions in force,
    prorated over the days occupied, less the granted 減免, with the 納期限 after 徴収猶予.

    None when a day the household occupies has no approved decision in force (nothing to charge from:
    the rent must be decided first), or when it occupies no day of the month."""
    household_id = household if isinstance(household, int) else household.id
    period = month_start(month)
    facts = _facts_for([household_id], period).get(household_id)
    if facts is None or not facts.occupied:
        return None
    try:
        return _figure(household_id, period, facts)
    except rules.NoRentInForce:
        return None


def missing_rent_reason(household, month: dt.date) -> str | None:
    """Why rent_charge_for answers None (for a screen or a report), or None when it has a figure."""
    household_id = household if isinstance(household, int) else household.id
    period = month_start(month)
    facts = _facts_for([household_id], period).get(household_id)
    if facts is None or not facts.occupied:
        return str(_l("この月に入居している日がありません。"))
    try:
        _figure(household_id, period, facts)
    except rules.NoRentInForce as exc:
        return str(
            _l("%(date)sに適用される家賃決定（承認済み）がありません。", date=wareki.to_wareki(exc.day))
        )
    return None


# --- granting or ending a reduction ------------------------------------------------------------------


@dataclass
class ChargeChange:
    charge: Charge
    before: tuple
    after: tuple


@dataclass
class Application:
    """What a reduction's decision did to the charges: corrected ones, and those left alone with why."""

    corrected: list[ChargeChange] = field(default_factory=list)
    left_paid: list[Charge] = field(default_factory=list)
    left_other: list[tuple[Charge, object]] = field(default_factory=list)

    def month_labels(self, charges: Iterable[Charge]) -> str:
        return "、".join(f"{wareki.to_wareki(c.period).split('月')[0]}月分" for c in charges)

    def summary(self) -> str:
        """One sentence for the toast: how many months were corrected and which were left."""
        parts = []
        if self.corrected:
            parts.append(str(_l("%(count)sか月分の調定を訂正しました。", count=len(self.corrected))))
        if self.left_paid:
            parts.append(
                str(
                    _l(
                        "収納済みのため訂正していない月: %(months)s（還付や追加の調定は個別に判断してください）。",
                        months=self.month_labels(self.left_paid),
                    )
                )
            )
        if self.left_other:
            parts.append(
                str(
                    _l(
                        "訂正できなかった月: %(months)s（%(reason)s）。",
                        months=self.month_labels(c for c, _ in self.left_other),
                        reason=str(self.left_other[0][1]),
                    )
                )
            )
        return " ".join(parts)


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    months, month = [], month_start(start)
    while month <= end:
        months.append(month)
        month = month_start(month_end(month) + dt.timedelta(days=1))
    return months


def _paid(charge_ids: list[int]) -> dict[int, int]:
    if not charge_ids:
        return {}
    rows = (
        Payment.select(Payment.charge, fn.SUM(Payment.amount).alias("paid"))
        .where(Payment.charge.in_(charge_ids) & ~Payment.reversed)
        .group_by(Payment.charge)
    )
    return {row.charge_id: int(row.paid or 0) for row in rows}


def apply_reduction(
    reduction: RentReduction,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> Application:
    """Bring the rent charges of the months the reduction touches (since..until, default its period;
    ending one early passes the end it had) in line with the reductions granted now. Call it in the
    transaction that saved the decision: it locks the household and writes each correction with its
    audit entry (charge.correct / charge.postpone)."""
    today = today or today_tokyo()
    household_id = reduction.household_id
    start, end = since or reduction.start_date, until or reduction.end_date
    outcome = Application()
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    with db.atomic():
        billing.lock_household(household_id)
        months = _months(start, end)
        charges = list(
            Charge.select()
            .where(
                (Charge.household == household_id)
                & (Charge.source_key == RENT)
                & Charge.period.in_(months)
                & ~Charge.cancelled
            )
            .order_by(Charge.period)
        )
        paid = _paid([c.id for c in charges])
        postponements = [
            (r.start_date, r.end_date)
            for r in RentReduction.select().where(
                (RentReduction.household == household_id)
                & (RentReduction.kind == "postponement")
                & RentReduction.status.in_(billing.DECIDED)
            )
        ]
        for charge in charges:
            args = (charge, paid.get(charge.id, 0), outcome, reduction, today, household_id, context)
            if reduction.kind == "postponement":
                _postpone(*args, postponements=postponements)
                continue
            facts = _facts_for([household_id], charge.period)
            try:
                figure = _figure(household_id, charge.period, facts[household_id])
            except rules.NoRentInForce:
                outcome.left_other.append((charge, _l("家賃決定がありません")))
                continue
            _reduce(*args, figure=figure)
    return outcome


def _decision_words(reduction: RentReduction) -> str:
    kind = "減免" if reduction.kind == "reduction" else "徴収猶予"
    state = {"approved": "承認", "ended": "終了"}.get(reduction.status, "決定")
    return (
        f"{kind}の{state}（{wareki.to_wareki(reduction.start_date)}〜{wareki.to_wareki(reduction.end_date)}）"
    )


def _reduce(
    charge, paid: int, outcome, reduction, today, household_id, context, *, figure: RentCharge
) -> None:
    if charge.reduction_amount == figure.reduction and charge.amount == figure.amount:
        return
    if charge.amount != figure.amount:
        outcome.left_other.append((charge, _l("調定額が家賃決定と異なります")))
        return
    if paid:
        outcome.left_paid.append(charge)
        return
    before = (charge.amount, charge.reduction_amount)
    try:
        values = billing.correction_values(
            charge,
            amount=charge.amount,
            reduction_amount=figure.reduction,
            reason=f"{_decision_words(reduction)}により減免額を訂正",
            today=today,
        )
        editing.update(
            charge, charge.version, values, household_id=household_id, action="charge.correct", **context
        )
    except (editing.RuleViolation, ConflictError) as exc:
        outcome.left_other.append((charge, getattr(exc, "message", str(exc))))
        return
    outcome.corrected.append(ChargeChange(charge, before, (charge.amount, charge.reduction_amount)))


def _postpone(charge, paid: int, outcome, reduction, today, household_id, context, *, postponements) -> None:
    own_due = charge.original_due_date or charge.due_date
    due, _ = rules.postponed_due(charge.period, own_due, postponements)
    original = own_due if due != own_due else None
    if (charge.due_date, charge.original_due_date) == (due, original):
        return
    if charge.amount - charge.reduction_amount - paid <= 0:
        outcome.left_paid.append(charge)
        return
    before = (charge.due_date, charge.original_due_date)
    try:
        values = billing.postponement_values(
            charge, due_date=due, original_due_date=original, reason=_decision_words(reduction), today=today
        )
        editing.update(
            charge, charge.version, values, household_id=household_id, action="charge.postpone", **context
        )
    except (editing.RuleViolation, ConflictError) as exc:
        outcome.left_other.append((charge, getattr(exc, "message", str(exc))))
        return
    outcome.corrected.append(ChargeChange(charge, before, (charge.due_date, charge.original_due_date)))


# --- the monthly charge run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What `flask billing charge` did (or would do, dry run) for a month."""

    period: dt.date
    dry_run: bool
    created: int = 0
    existing: int = 0
    reduced: int = 0
    postponed: int = 0
    total: int = 0  # Σ 調定額 − 減免額 of the charges created
    skipped: list[tuple[str, object]] = field(default_factory=list)  # (household number, why: lazy)

    @property
    def households(self) -> int:
        return self.created + self.existing + len(self.skipped)


def _occupying(period: dt.date):
    """The households with a tenancy on some day of the month (a subquery)."""
    first, last = month_start(period), month_end(period)
    return Tenancy.select(Tenancy.household).where(
        (Tenancy.move_in_date <= last) & (Tenancy.move_out_date.is_null() | (Tenancy.move_out_date >= first))
    )


def charge_month(
    month: dt.date, *, dry_run: bool = False, actor=None, today: dt.date | None = None, progress=None
) -> RunResult:
    """Create the month's rent charge of every household living in a city unit that month, from the
    rent decision in force and the reductions granted; a household already charged is left as it is."""
    period = month_start(month)
    result = RunResult(period, dry_run)
    households = list(
        Household.select(Household.id, Household.household_no)
        .where(Household.id.in_(_occupying(period)))
        .order_by(Household.id)
    )
    for offset in range(0, len(households), BATCH):
        batch = households[offset : offset + BATCH]
        ids = [h.id for h in batch]
        with db.atomic():
            existing = {
                c.household_id
                for c in Charge.select(Charge.household).where(
                    Charge.household.in_(ids) & (Charge.period == period) & (Charge.source_key == RENT)
                )
            }
            facts = _facts_for(ids, period)
            for household in batch:
                if household.id in existing:
                    result.existing += 1
                    continue
                try:
                    figure = _figure(household.id, period, facts[household.id])
                except rules.NoRentInForce as exc:
                    reason = _l(
                        "%(date)sに適用される家賃決定（承認済み）がありません", date=wareki.to_wareki(exc.day)
                    )
                    result.skipped.append((household.household_no, reason))
                    continue
                if figure.amount == 0 and facts[household.id].rent_until is not None:
                    reason = _l(
                        "明渡期限（%(date)s）の後は家賃ではなく損害賠償金を調定します",
                        date=wareki.to_wareki(facts[household.id].rent_until),
                    )
                    result.skipped.append((household.household_no, reason))
                    continue
                if figure.amount == 0:
                    result.skipped.append((household.household_no, _l("調定額が0円です")))
                    continue
                if not dry_run:
                    try:
                        _create(figure, actor)
                    except editing.RuleViolation:
                        result.existing += 1  # made by another run meanwhile (the unique index)
                        continue
                result.created += 1
                result.reduced += bool(figure.reduction)
                result.postponed += figure.original_due_date is not None
                result.total += figure.payable
        if progress is not None:
            progress(min(offset + BATCH, len(households)), len(households))
    return result


def _create(figure: RentCharge, actor) -> Charge:
    note = None
    if figure.reduction or figure.original_due_date:
        note = "\n".join(line for line in figure.explanation if not line.startswith("住宅使用料"))
    return billing.create_record(
        Charge,
        {
            "household": figure.household_id,
            "kind": "rent",
            "period": figure.period,
            "source_key": RENT,
            "amount": figure.amount,
            "reduction_amount": figure.reduction,
            "due_date": figure.due_date,
            "original_due_date": figure.original_due_date,
            "note": note,
        },
        household_id=figure.household_id,
        action="charge.create",
        actor=actor,
    )
