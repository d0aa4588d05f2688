"""明渡請求 (法29条 高額所得者, 条例 滞納, 法32条 不正入居): preparation, approval, the 明渡請求書, extension,
明渡, and the 損害賠償金 charged after the deadline.

    request = evictions.prepare(7, ground="high_income", requested_on=d, **audit_context())
    evictions.approve(request.id, **audit_context())        # an officer, not the preparer; queues the notice
    evictions.post_damages(dt.date(2026, 8, 1), **audit_context())   # idempotent, catches up

Decisions where the specification leaves a choice:

- **The deadline defaults to the earliest the law allows** for a 高額所得者 (`eviction.min_months` in
  force on the request date, counted from the day after: rules.certification.eviction_deadline); an
  earlier one is refused for that ground only (法29条3項). Other grounds have no legal minimum: the same
  period is offered, and any day after the request date is accepted.
- **Prepared by staff, approved by an officer** who is not the preparer (SPEC §1: 明渡請求 is a sensitive
  action), on or before the request date. Only an approved request is issued: the approval queues the
  明渡請求書 as a background job (notice kind "eviction", one page per household), dated on the request
  date from which the deadline counts; a request date already past cannot be approved (it would shorten
  the period the law gives): it is withdrawn and prepared again. One open request (請求中・期限延長) per
  household.
- **An extension is asked for, then decided.** Staff record the resident's request (date, the new
  deadline asked for, the reason: illness …); an officer grants it (extended_until, status 期限延長) or
  refuses it (the request is cleared and the refusal kept in the request's 経過).
- **Damages after the deadline** (法29条6項, 高額所得者 only: 不正入居 and 滞納 damages are claimed
  separately, rules.damages): from the day after the deadline in force (the extended
  one when granted) until the day vacated, multiplier × 近傍同種家賃 of the unit for that month's fiscal
  year a month (the multiplier is set on the request, at most the master's 2.0), prorated by day for a
  partial month (rules.damages.monthly_damages). The first charge opens a DamageClaim (事由
  「明渡期限後の使用」) that every later month refers to (source_key "damages:<claim id>"); posting a month
  also posts the earlier months not yet charged, and posting twice charges nothing twice. The rent stops
  at the deadline (services.charges); a month whose rent charge still covers days after it is not
  charged damages but reported for a correction in 調定, so no day is billed twice.
- **明渡** records the day vacated: damages stop there and the claim is closed on that day. The move-out
  itself (退去, deposit settlement) is the household-events procedure. Charges already posted for days
  after the vacating day are listed in the answer for a correction in 調定 (billing's procedure).
- **Household.high_income stays set** while a 高額所得者 request is open; it is cleared when the household
  vacates or the request is withdrawn.

Every write runs in one transaction with its audit entry filed under the household.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from flask_babel import lazy_gettext as _l

from extensions import db
from models import Certification, Charge, DamageClaim, EvictionRequest, Household, RentDecision, Tenancy, User
from models.base import utcnow
from models.income import EVICTION_GROUNDS
from rules import wareki
from rules.certification import eviction_deadline
from rules.damages import monthly_damages
from rules.filters import today_tokyo
from rules.household import month_end, month_start
from services import audit, billing, editing, jobs, masters

RuleViolation = editing.RuleViolation
OPEN = ("requested", "extended")
NOTICE_JOB = "eviction_notices"

LEGAL_BASIS = {
    "high_income": "公営住宅法第29条第1項",
    "arrears": "川崎市営住宅条例第25条第1項第3号",
    "fraud": "公営住宅法第32条第1項第1号",
    "other": "川崎市営住宅条例",
}


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", actor)


def _record(action: str, request: EvictionRequest, changes: dict, **context) -> None:
    audit.record(
        action,
        target_table="household",
        target_ids=[request.household_id],
        fields=list(changes),
        changes={k: [editing.history_value(a), editing.history_value(b)] for k, (a, b) in changes.items()},
        reason=f"eviction_request {request.id}",
        **context,
    )


def _append(note: str | None, heading: str, text: str | None, today: dt.date) -> str:
    return billing.append_note(note, heading, text, today)


def get(request_id: int) -> EvictionRequest:
    request = EvictionRequest.get_or_none(EvictionRequest.id == request_id)
    if request is None:
        raise LookupError(request_id)
    return request


def _locked(request_id: int) -> EvictionRequest:
    """The request read again after its household's lock is held (inside the caller's transaction)."""
    request = get(request_id)
    billing.lock_household(request.household_id)
    return get(request_id)


def _update(request: EvictionRequest, values: dict, action: str, context: dict) -> None:
    editing.update(
        request, request.version, values, household_id=request.household_id, action=action, **context
    )


def status_label(request: EvictionRequest) -> str:
    """承認待ち for a prepared request not yet approved, else the status's label."""
    if request.approved_by_id is None and request.status in OPEN:
        return str(_l("承認待ち"))
    return EvictionRequest.status.label(request.status)


# --- deadline and multiplier -------------------------------------------------------------------------


def earliest_deadline(requested_on: dt.date) -> dt.date:
    """The earliest 明渡期限 for a request of that date (the masters in force on it)."""
    months = int(masters.parameter("eviction.min_months", requested_on))
    return eviction_deadline(requested_on, months)


def multiplier_limit(on: dt.date) -> Decimal:
    """The most the damages may be, as a multiple of the 近傍同種家賃 (法29条6項: 2)."""
    return masters.parameter("damages.market_rent_multiplier", on)


def current_ground(household_id: int, requested_on: dt.date) -> bool:
    """Whether the household is a 高額所得者 now: certified for the fiscal year of the request date or the
    next one (the yearly run certifies in the autumn for the year ahead), or the rent decision in force on
    the request date is a 高額所得者's. A certification of an earlier year, or one withdrawn, is no ground."""
    year = fiscal_year_of(requested_on)
    certified = (
        Certification.select()
        .where(
            (Certification.household == household_id)
            & (Certification.kind == "high_income")
            & (Certification.state == "certified")
            & Certification.fiscal_year.in_((year, year + 1))
        )
        .exists()
    )
    if certified:
        return True
    in_force = (
        RentDecision.select(RentDecision.rent_status)
        .where(
            (RentDecision.household == household_id)
            & (RentDecision.state == "approved")
            & (RentDecision.effective_from <= requested_on)
        )
        .order_by(RentDecision.effective_from.desc(), RentDecision.id.desc())
        .first()
    )
    return in_force is not None and in_force.rent_status == "high_income"


def _check_ground(household: Household, ground: str, requested_on: dt.date, today: dt.date) -> None:
    if ground not in dict(EVICTION_GROUNDS):
        raise RuleViolation(_l("一覧から選んでください。"), field="ground")
    if ground == "high_income":
        if not current_ground(household.id, requested_on):
            raise RuleViolation(
                _l("この世帯は高額所得者として認定されていません。先に高額所得者の認定をしてください。"),
                field="ground",
            )
    elif ground == "arrears":
        months = int(masters.parameter("arrears.eviction_months", today))
        overdue = billing.totals(household.id, today).overdue_months
        if overdue < months:
            raise RuleViolation(
                _l(
                    "滞納は%(overdue)sか月分です。滞納を理由とする明渡請求は%(months)sか月分以上の滞納が必要です。",
                    overdue=overdue,
                    months=months,
                ),
                field="ground",
            )


def prepare(
    household_id: int,
    *,
    ground: str,
    requested_on: dt.date,
    deadline: dt.date | None = None,
    multiplier: Decimal | None = None,
    note: str | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> EvictionRequest:
    """A 明渡請求 prepared by staff (承認待ち). RuleViolation (nothing written): the ground is not met, a
    request is already open, the deadline is earlier than the law allows, the multiplier above the
    master's."""
    today = today or today_tokyo()
    with db.atomic():
        billing.lock_household(household_id)
        household = Household.get_by_id(household_id)
        _check_ground(household, ground, requested_on, today)
        if ground in ("fraud", "other") and not (note or "").strip():
            raise RuleViolation(_l("請求の理由（事実の経過）を入力してください。"), field="note")
        if (
            EvictionRequest.select()
            .where((EvictionRequest.household == household_id) & EvictionRequest.status.in_(OPEN))
            .exists()
        ):
            raise RuleViolation(_l("この世帯にはすでに手続中の明渡請求があります。"))
        earliest = earliest_deadline(requested_on)
        deadline = deadline or earliest
        if ground != "high_income":
            # 法29条3項's minimum is the 高額所得者's; other grounds only need a day after the request
            if deadline <= requested_on:
                raise RuleViolation(_l("明渡期限は請求日より後の日にしてください。"), field="deadline")
        elif deadline < earliest:
            raise RuleViolation(
                _l(
                    "明渡期限は、請求日の翌日から%(months)sか月を経過した日（%(earliest)s）以降にしてください。",
                    months=int(masters.parameter("eviction.min_months", requested_on)),
                    earliest=wareki.to_wareki(earliest),
                ),
                field="deadline",
            )
        limit = multiplier_limit(requested_on)
        multiplier = limit if multiplier is None else Decimal(multiplier)
        if multiplier <= 0 or multiplier > limit:
            raise RuleViolation(
                _l("損害金の倍率は0より大きく%(limit)s以下にしてください。", limit=f"{limit.normalize():f}"),
                field="multiplier",
            )
        values = {
            "household": household_id,
            "ground": ground,
            "requested_on": requested_on,
            "deadline": deadline,
            "market_rent_multiplier": multiplier,
            "prepared_by": _actor_id(actor),
            "note": _append(None, "起案", note, today) if note else None,
        }
        return billing.create_record(
            EvictionRequest,
            values,
            household_id=household_id,
            action="eviction_request.create",
            **_context(actor, session_ref, ip),
        )


def approve(request_id: int, *, today: dt.date | None = None, actor=None, session_ref=None, ip=None):
    """The officer's approval: the request is issued and its 明渡請求書 queued. Returns the job.

    RuleViolation: already approved, not open, approved by the person who prepared it, or approved after
    the request date (the notice is dated on the request date, from which the deadline counts: a request
    date already past would shorten the period the law gives; withdraw it and prepare it again)."""
    today = today or today_tokyo()
    with db.atomic():
        request = _locked(request_id)
        if request.approved_by_id is not None:
            raise RuleViolation(_l("この明渡請求はすでに承認されています。"))
        if request.status not in OPEN:
            raise RuleViolation(_l("手続中でない明渡請求は承認できません。"))
        if request.prepared_by_id is not None and request.prepared_by_id == _actor_id(actor):
            raise RuleViolation(
                _l("自分が起案した明渡請求は承認できません。別の保護責任者が承認してください。")
            )
        if request.requested_on < today:
            raise RuleViolation(
                _l(
                    "請求日（%(date)s）を過ぎているため承認できません。明渡請求書は請求日の日付で発行し、明渡期限はその翌日から数えます。取り下げて、新しい請求日で起案し直してください。",
                    date=wareki.to_wareki(request.requested_on),
                )
            )
        now = utcnow()
        changed = (
            EvictionRequest.update(approved_by=_actor_id(actor), approved_at=now, version=request.version + 1)
            .where((EvictionRequest.id == request.id) & EvictionRequest.approved_by.is_null())
            .execute()
        )
        if changed != 1:
            raise RuleViolation(_l("この明渡請求はすでに承認されています。"))
        _record(
            "eviction_request.approve",
            request,
            {"eviction_request.approved_at": (None, now)},
            **_context(actor, session_ref, ip),
        )
    return issue_notices([request.id], actor=actor, session_ref=session_ref, ip=ip)


def issue_notices(request_ids: list[int], *, actor=None, session_ref=None, ip=None):
    """Queue the 明渡請求書 of approved requests (one PDF, a page per household)."""
    return jobs.submit(
        NOTICE_JOB, {"requests": list(request_ids)}, _actor_id(actor), session_ref=session_ref, ip=ip
    )


# --- extension, vacating, withdrawal -----------------------------------------------------------------


def request_extension(
    request_id: int,
    *,
    requested_on: dt.date,
    until: dt.date,
    reason: str,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> EvictionRequest:
    """The resident asks for a later deadline (病気 …): recorded for an officer's decision."""
    today = today or today_tokyo()
    with db.atomic():
        request = _locked(request_id)
        if request.status not in OPEN or request.approved_by_id is None:
            raise RuleViolation(_l("請求中の明渡請求にだけ延長の申出を記録できます。"))
        if request.extension_requested_until is not None:
            raise RuleViolation(_l("決定を待っている延長の申出があります。先にその申出を決定してください。"))
        current = request.effective_deadline
        if until <= current:
            raise RuleViolation(
                _l(
                    "延長後の期限は現在の期限（%(deadline)s）より後の日にしてください。",
                    deadline=wareki.to_wareki(current),
                ),
                field="until",
            )
        if not reason.strip():
            raise RuleViolation(_l("延長を求める理由を入力してください。"), field="reason")
        values = {
            "extension_requested_on": requested_on,
            "extension_requested_until": until,
            "extension_reason": reason.strip(),
        }
        _update(request, values, "eviction_request.extension_request", _context(actor, session_ref, ip))
    return request


def decide_extension(
    request_id: int,
    *,
    grant: bool,
    note: str | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> EvictionRequest:
    """An officer grants the extension asked for (期限延長) or refuses it (the request stays as it was)."""
    today = today or today_tokyo()
    with db.atomic():
        request = _locked(request_id)
        if request.extension_requested_until is None:
            raise RuleViolation(_l("決定を待っている延長の申出はありません。"))
        if not grant and not (note or "").strip():
            raise RuleViolation(_l("延長を認めない理由を入力してください。"), field="note")
        asked = request.extension_requested_until
        heading = "延長承認" if grant else "延長不承認"
        text = f"{wareki.to_wareki(asked)}まで（{request.extension_reason}）" + (f" {note}" if note else "")
        values = {
            "extension_requested_on": None,
            "extension_requested_until": None,
            "extension_decided_by": _actor_id(actor),
            "note": _append(request.note, heading, text, today),
        }
        if grant:
            values.update(extended_until=asked, status="extended")
        _update(request, values, "eviction_request.extension_decide", _context(actor, session_ref, ip))
    return request


def _clear_high_income(household_id: int, context: dict) -> None:
    household = Household.get_by_id(household_id)
    if household.high_income:
        editing.update(
            household,
            household.version,
            {"high_income": False},
            household_id=household_id,
            action="household.high_income_cleared",
            **context,
        )


@dataclass
class Vacated:
    request: EvictionRequest
    to_correct: list[Charge]  # damages already charged for days after the vacating day


def vacate(
    request_id: int,
    *,
    vacated_on: dt.date,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> Vacated:
    """The household vacated: damages stop on that day (the claim ends there)."""
    today = today or today_tokyo()
    context = _context(actor, session_ref, ip)
    with db.atomic():
        request = _locked(request_id)
        if request.status not in OPEN:
            raise RuleViolation(_l("手続中の明渡請求ではありません。"))
        if vacated_on < request.requested_on:
            raise RuleViolation(_l("明渡日は請求日より後の日にしてください。"), field="vacated_on")
        if vacated_on > today:
            raise RuleViolation(_l("明渡日に未来の日は入力できません。"), field="vacated_on")
        _update(
            request,
            {"status": "vacated", "vacated_on": vacated_on, "extension_requested_until": None},
            "eviction_request.vacate",
            context,
        )
        to_correct = []
        if request.damage_claim_id:
            claim = DamageClaim.get_by_id(request.damage_claim_id)
            editing.update(
                claim,
                claim.version,
                {"to_date": vacated_on},  # before from_date: vacated before any damages were due
                household_id=request.household_id,
                action="damage_claim.close",
                **context,
            )
            to_correct = list(
                Charge.select()
                .where(
                    (Charge.source_key == f"damages:{claim.id}")
                    & (Charge.period > month_start(vacated_on))
                    & ~Charge.cancelled
                )
                .order_by(Charge.period)
            )
        if request.ground == "high_income":
            _clear_high_income(request.household_id, context)
    return Vacated(request, to_correct)


def withdraw(
    request_id: int, *, reason: str, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> EvictionRequest:
    """An officer withdraws the request (取下げ), with the reason."""
    today = today or today_tokyo()
    context = _context(actor, session_ref, ip)
    with db.atomic():
        request = _locked(request_id)
        if request.status not in OPEN:
            raise RuleViolation(_l("手続中の明渡請求ではありません。"))
        if not reason.strip():
            raise RuleViolation(_l("取下げの理由を入力してください。"), field="reason")
        _update(
            request,
            {
                "status": "withdrawn",
                "extension_requested_until": None,
                "note": _append(request.note, "取下げ", reason.strip(), today),
            },
            "eviction_request.withdraw",
            context,
        )
        if request.ground == "high_income":
            _clear_high_income(request.household_id, context)
    return request


# --- damages ---------------------------------------------------------------------------------------------


def fiscal_year_of(day: dt.date) -> int:
    """年度: April to March."""
    return day.year if day.month >= 4 else day.year - 1


def _unit_of(household_id: int):
    tenancy = (
        Tenancy.select()
        .where(Tenancy.household == household_id)
        .order_by((Tenancy.status == "active").desc(), Tenancy.move_in_date.desc())
        .first()
    )
    return tenancy.unit if tenancy else None


@dataclass
class DamagesLine:
    request: EvictionRequest
    period: dt.date
    amount: int | None
    explanation: list[str]
    charge: Charge | None = None
    problem: str | None = None  # why nothing was charged (the figure is missing, the rent covers it)
    rent_to_correct: Charge | None = None  # a rent charge covering days after the deadline


def damages_months(request: EvictionRequest, through: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(start, end) of each month from the day after the deadline in force up to the month of through,
    stopping at the vacating day."""
    if request.approved_by_id is None or request.status not in (*OPEN, "vacated", "legal_action"):
        return []
    if request.ground != "high_income":
        return []  # 法29条6項 is the 高額所得者's: other grounds' damages are claimed separately
    first = request.effective_deadline + dt.timedelta(days=1)
    last = month_end(through)
    if request.vacated_on is not None:
        last = min(last, request.vacated_on)
    spans = []
    start = first
    while start <= last:
        end = min(month_end(start), last)
        spans.append((start, end))
        start = end + dt.timedelta(days=1)
    return spans


def compute_damages(request: EvictionRequest, start: dt.date, end: dt.date) -> DamagesLine:
    """One month's damages of a request (no write)."""
    unit = _unit_of(request.household_id)
    facts = masters.unit_facts(unit, fiscal_year_of(start)) if unit else None
    if facts is None:
        return DamagesLine(
            request,
            month_start(start),
            None,
            [],
            problem=str(_l("%(year)s年度の近傍同種家賃が登録されていません。", year=fiscal_year_of(start))),
        )
    limit = multiplier_limit(start)
    multiplier = Decimal(request.market_rent_multiplier or limit)
    result = monthly_damages(
        start, end, facts.market_rent, masters.damages_masters(start), min(multiplier, limit), "法29条6項"
    )
    return DamagesLine(request, month_start(start), result.principal, result.explanation)


def post_damages(
    month: dt.date, *, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> list[DamagesLine]:
    """Charge the damages of every request past its deadline for month (and earlier months not yet
    charged). Idempotent: a month already charged for a claim is skipped (and reported without a charge)."""
    today = today or today_tokyo()
    month = month_start(month)
    context = _context(actor, session_ref, ip)
    lines: list[DamagesLine] = []
    candidates = list(
        EvictionRequest.select()
        .where(
            EvictionRequest.approved_by.is_null(False)
            & (EvictionRequest.ground == "high_income")
            & EvictionRequest.status.in_((*OPEN, "vacated", "legal_action"))
            & (fn_effective_deadline() < month_end(month))
        )
        .order_by(EvictionRequest.id)
    )
    for request in candidates:
        with db.atomic():
            billing.lock_household(request.household_id)
            request = get(request.id)
            for start, end in damages_months(request, month):
                line = compute_damages(request, start, end)
                lines.append(line)
                if line.amount is None:
                    continue
                rent = _rent_past_deadline(request, line.period)
                if rent is not None:
                    line.rent_to_correct = rent
                    line.problem = str(
                        _l(
                            "%(month)sの家賃が明渡期限の後の日まで調定されています。家賃の調定を訂正してから損害賠償金を調定してください。",
                            month=f"{wareki.to_wareki(line.period, 'era_year')}{line.period.month}月",
                        )
                    )
                    continue
                claim = _claim_of(request, line, start, context)
                key = f"damages:{claim.id}"
                if (
                    Charge.select()
                    .where(
                        (Charge.household == request.household_id)
                        & (Charge.period == line.period)
                        & (Charge.source_key == key)
                    )
                    .exists()
                ):
                    continue
                line.charge = billing.create_record(
                    Charge,
                    {
                        "household": request.household_id,
                        "kind": "damages",
                        "period": line.period,
                        "source_key": key,
                        "amount": line.amount,
                        "due_date": month_end(line.period),
                        "note": " / ".join(line.explanation),
                    },
                    household_id=request.household_id,
                    action="charge.damages",
                    **context,
                )
    return lines


def _rent_past_deadline(request: EvictionRequest, period: dt.date) -> Charge | None:
    """The month's rent charge when it covers days after the deadline (a charge made before the request
    was approved, or by hand): charging the damages too would bill those days twice."""
    from services import charges

    rent = (
        Charge.select()
        .where(
            (Charge.household == request.household_id)
            & (Charge.period == period)
            & (Charge.source_key == charges.RENT)
            & ~Charge.cancelled
        )
        .first()
    )
    if rent is None:
        return None
    owed = charges.rent_charge_for(request.household_id, period)  # up to the deadline only
    return rent if owed is None or rent.amount > owed.amount else None


def fn_effective_deadline():
    """The deadline in force as an SQL expression (the extended one when granted)."""
    from peewee import fn

    return fn.COALESCE(EvictionRequest.extended_until, EvictionRequest.deadline)


def _claim_of(request: EvictionRequest, line: DamagesLine, start: dt.date, context: dict) -> DamageClaim:
    if request.damage_claim_id:
        return DamageClaim.get_by_id(request.damage_claim_id)
    first = request.effective_deadline + dt.timedelta(days=1)
    claim = billing.create_record(
        DamageClaim,
        {
            "household": request.household_id,
            "ground": "overstay",
            "from_date": first,
            "to_date": request.vacated_on,
            "monthly_amount": None,
            "explanation": "\n".join(line.explanation),
        },
        household_id=request.household_id,
        action="damage_claim.create",
        **context,
    )
    editing.update(
        request,
        request.version,
        {"damage_claim": claim.id},
        household_id=request.household_id,
        action="eviction_request.damages",
        **context,
    )
    return claim


# --- lists -----------------------------------------------------------------------------------------------


@dataclass
class TrackingRow:
    request: EvictionRequest
    household_no: str
    head_name: str | None
    days_left: int | None  # days to the deadline in force (negative: overdue); None when closed

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def tracking(user, *, today: dt.date | None = None, include_closed: bool = False) -> list[TrackingRow]:
    """Every 明渡請求 of the households the user may see, open ones first, nearest deadline first."""
    from services import access

    today = today or today_tokyo()
    query = (
        EvictionRequest.select(EvictionRequest, Household)
        .join(Household)
        .where(EvictionRequest.household.in_(access.visible_households(user)))
    )
    if not include_closed:
        query = query.where(EvictionRequest.status.in_(OPEN))
    rows = []
    heads = _head_names([r.household_id for r in query])
    for request in query:
        open_ = request.status in OPEN
        rows.append(
            TrackingRow(
                request,
                request.household.household_no,
                heads.get(request.household_id),
                (request.effective_deadline - today).days if open_ else None,
            )
        )
    rows.sort(
        key=lambda r: (r.days_left is None, r.days_left if r.days_left is not None else 0, r.request.id)
    )
    return rows


def _head_names(household_ids: list[int]) -> dict[int, str]:
    from models import Person

    if not household_ids:
        return {}
    return {
        p.household_id: p.name
        for p in Person.select(Person.household, Person.name).where(
            Person.household.in_(household_ids) & Person.is_head & Person.member_to.is_null()
        )
    }


def audit_list(action: str, household_ids, fields: list[str], reason: str, **context) -> None:
    """A list of households viewed: one entry naming them."""
    audit.record(
        action,
        target_table="household",
        target_ids=sorted(set(household_ids)),
        fields=fields,
        reason=reason,
        **context,
    )


# --- the 明渡請求書 -----------------------------------------------------------------------------------------


def notice_page(request: EvictionRequest):
    """The 明渡請求書 of one household: the legal basis, the deadline in 和暦 and the damages after it."""
    from services import notices

    household = Household.get_by_id(request.household_id)
    deadline = request.effective_deadline
    limit = multiplier_limit(request.requested_on)
    multiplier = Decimal(request.market_rent_multiplier or limit)
    times = f"{multiplier.normalize():f}"
    unit = _unit_of(request.household_id)
    facts = masters.unit_facts(unit, fiscal_year_of(deadline + dt.timedelta(days=1))) if unit else None
    basis = LEGAL_BASIS.get(request.ground, "")
    if request.ground == "high_income":
        opening = (
            "あなたの世帯は、公営住宅法第29条第1項に規定する高額所得者（引き続き5年以上入居し、最近2年間"
            "引き続き政令で定める基準を超える高額の収入のある者）に認定されました。同項及び同条第3項の規定により、"
            "下記の期限までに住宅を明け渡すよう請求します。"
        )
        basis = "公営住宅法第29条第1項・第3項"
    elif request.ground == "arrears":
        opening = (
            "あなたの世帯は、家賃を3か月以上滞納しています。川崎市営住宅条例第25条第1項第3号の規定により、"
            "下記の期限までに住宅を明け渡すよう請求します。"
        )
    elif request.ground == "fraud":
        opening = (
            "あなたの世帯は、不正の行為によって入居したことが判明しました。公営住宅法第32条第1項第1号の規定により、"
            "下記の期限までに住宅を明け渡すよう請求します。"
        )
    else:
        opening = "川崎市営住宅条例の規定により、下記の期限までに住宅を明け渡すよう請求します。"
    rows = []
    if unit is not None:
        building = unit.building
        rows.append(("住宅", f"{building.estate.name} {building.number}棟 {unit.room_number}号室"))
    if request.ground == "high_income":
        certified = (
            Certification.select()
            .where(
                (Certification.household == household.id)
                & (Certification.kind == "high_income")
                & (Certification.state == "certified")
            )
            .order_by(Certification.fiscal_year.desc())
            .first()
        )
        if certified is not None:
            rows.append(("高額所得者の認定", f"{wareki.fiscal_year_label(certified.fiscal_year)}"))
    rows.append(("請求日", wareki.to_wareki(request.requested_on)))
    if request.status == "extended":
        rows.append(("当初の明渡期限", wareki.to_wareki(request.deadline)))
        rows.append(("明渡期限（延長後）", wareki.to_wareki(deadline)))
    else:
        rows.append(("明渡期限", wareki.to_wareki(deadline)))
    rows.append(("請求の根拠", basis))
    damages = (
        f"明渡期限までに明け渡さないときは、期限の翌日から明け渡す日までの期間について、毎月、近傍同種の住宅の"
        f"家賃の{times}倍に相当する額の損害賠償金を徴収します（公営住宅法第29条第6項）。1か月に満たない月は、"
        "その月の日数による日割りで計算します。"
    )
    if request.ground != "high_income":
        damages = "明渡期限までに明け渡さないときは、損害賠償金を別途請求することがあります。"
    elif facts is not None:
        monthly = int((Decimal(facts.market_rent) * multiplier).to_integral_value(rounding=ROUND_FLOOR))
        rows.append(
            (
                "期限後の損害賠償金",
                f"月額{monthly:,}円（近傍同種家賃 月額{facts.market_rent:,}円の{times}倍）",
            )
        )
    blocks = [
        notices.Paragraph(opening),
        notices.Table(rows=rows, heading="記"),
        notices.Paragraph(damages),
        notices.Paragraph(
            "期限までに明け渡さないときは、法的措置をとることがあります。病気その他特別の事情により期限までに"
            "明け渡すことができないときは、期限の前に市営住宅管理課へ申し出てください。事情により期限を延長する"
            "ことがあります（公営住宅法第29条第5項）。"
        ),
        notices.Note("明け渡すときは、あらかじめ市営住宅管理課に退去の届出をしてください。"),
    ]
    return notices.NoticePage(
        kind="eviction",
        household_id=household.id,
        addressee=notices.address_of(household),
        title="明渡請求書",
        blocks=blocks,
        subject_table="eviction_request",
        subject_id=request.id,
    )


@jobs.handler(NOTICE_JOB, label=_l("明渡請求書の発行"))
def _issue_job(job, report):
    """Issue the 明渡請求書 of the requests named in the job (approved ones only)."""
    from services import notices

    ids = jobs.params_of(job).get("requests", [])
    requests = list(
        EvictionRequest.select()
        .where(EvictionRequest.id.in_(ids) & EvictionRequest.approved_by.is_null(False))
        .order_by(EvictionRequest.id)
    )
    if not requests:
        raise jobs.JobError(_l("発行できる明渡請求がありません。"))
    fiscal_year = fiscal_year_of(requests[0].requested_on)
    pages = [notice_page(r) for r in requests]
    # dated on the request date (approval happens on or before it); a reprint later is dated that day
    dated = max(min(r.requested_on for r in requests), today_tokyo())
    return notices.issue_run(
        "eviction", fiscal_year, pages, job.created_by_id, report=report, job=job, issued_on=dated
    )


def users_named(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u.display_name for u in User.select(User.id, User.display_name).where(User.id.in_(ids))}
