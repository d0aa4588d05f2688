"""A rent decision looked at again: 意見申出 (a resident's objection) and 更正 (the office's correction of a
past year), each decided by an officer.

    review = objections.receive(decision_id, received_on=d, content="…", **audit_context())
    comparison = objections.compare(review)      # old vs new, recomputed with that year's masters
    objections.redecide(review.id, answer="…", **audit_context())   # a correction decision replaces it

Decisions where the specification leaves a choice:

- **The period is the decision's objection_deadline** (set when its 家賃決定通知書 was issued), or, for a
  decision without one, `objection.days` (30) days from its decision date. An objection received later
  is refused, unless an officer records it with the reason it is accepted all the same (a notice that
  never arrived …): the exception is on the record, never silent.
- **A re-decision recomputes the household for the decision's fiscal year** with the masters in force on
  1 April of that year (services.rent_decisions.compute): a master changed for a later year does not
  touch it. The new decision is kind 更正 (correction), from the same date as the old one, which becomes
  superseded (更正により失効); both stay, linked by `supersedes`.
- **Four eyes.** The person who recorded the objection or prepared the correction never decides it.
  The officer either upholds the decision (an answer is recorded, nothing else changes) or re-decides.
- **The certifications follow the re-decision** in the same transaction: the year's 収入超過者 or
  高額所得者 certification the new computation no longer supports is withdrawn (取消), the one it supports
  takes the new years over, and the household's flags are set again from the decision in force.
- **A new 家賃決定通知書** is issued for the correction decision (a background job, a page per household).
- **Retroactive**: the months already charged whose rent differs are listed with the difference per
  month. The adjustment charges themselves are billing's procedure (調定の訂正), not made here.

Every write runs in one transaction with its audit entry filed under the household.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from extensions import db
from models import Charge, Household, RentDecision, RentReview, User
from models.base import utcnow
from rules import wareki
from rules.filters import today_tokyo
from services import audit, billing, editing, jobs, masters

RuleViolation = editing.RuleViolation
NOTICE_JOB = "rent_correction_notices"


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", actor)


def _role(actor) -> str | None:
    if actor is None:
        return None
    if isinstance(actor, int):
        user = User.get_or_none(User.id == actor)
        return user.role if user else None
    return getattr(actor, "role", None)


# --- the period ----------------------------------------------------------------------------------------


def objection_deadline(decision: RentDecision) -> dt.date:
    """The last day a resident may object to a decision."""
    if decision.objection_deadline is not None:
        return decision.objection_deadline
    start = decision.decided_on or decision.effective_from
    return start + dt.timedelta(days=int(masters.parameter("objection.days", start)))


def decisions_open_to_review(household_id: int) -> list[RentDecision]:
    """The decisions in force of a household (approved), newest year first."""
    return list(
        RentDecision.select()
        .where((RentDecision.household == household_id) & (RentDecision.state == "approved"))
        .order_by(RentDecision.fiscal_year.desc(), RentDecision.effective_from.desc())
    )


def _pending(decision_id: int) -> bool:
    return (
        RentReview.select()
        .where((RentReview.decision == decision_id) & (RentReview.status == "received"))
        .exists()
    )


def _decision_of(household_id: int, decision_id: int) -> RentDecision:
    decision = RentDecision.get_or_none(
        (RentDecision.id == decision_id) & (RentDecision.household == household_id)
    )
    if decision is None:
        raise RuleViolation(_l("一覧から選んでください。"), field="decision")
    return decision


def receive(
    household_id: int,
    decision_id: int,
    *,
    received_on: dt.date,
    content: str,
    late_reason: str | None = None,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> RentReview:
    """A 意見申出 received. RuleViolation (nothing written) for a decision not in force, one already under
    review, a date in the future, or a late objection (unless an officer gives the reason to accept it)."""
    today = today or today_tokyo()
    content = (content or "").strip()
    late_reason = (late_reason or "").strip() or None
    with db.atomic():
        billing.lock_household(household_id)
        decision = _decision_of(household_id, decision_id)
        if decision.state != "approved":
            raise RuleViolation(
                _l("意見申出は効力のある家賃決定に対してだけ受け付けます。"), field="decision"
            )
        if received_on > today:
            raise RuleViolation(_l("受付日に未来の日は入力できません。"), field="received_on")
        if not content:
            raise RuleViolation(_l("申出の内容を入力してください。"), field="content")
        if _pending(decision.id):
            raise RuleViolation(
                _l("この家賃決定には決定を待っている意見申出・更正があります。"), field="decision"
            )
        deadline = objection_deadline(decision)
        if received_on > deadline:
            if _role(actor) != "officer":
                raise RuleViolation(
                    _l(
                        "意見申出の期間（%(deadline)sまで）を過ぎています。期間後の申出を受け付けるには、保護責任者が受け付ける理由を記録してください。",
                        deadline=wareki.to_wareki(deadline),
                    ),
                    field="received_on",
                )
            if not late_reason:
                raise RuleViolation(
                    _l(
                        "意見申出の期間（%(deadline)sまで）を過ぎています。受け付ける理由を入力してください。",
                        deadline=wareki.to_wareki(deadline),
                    ),
                    field="late_reason",
                )
        elif late_reason:
            late_reason = None  # within the period: nothing to justify
        return billing.create_record(
            RentReview,
            {
                "kind": "objection",
                "household": household_id,
                "decision": decision.id,
                "fiscal_year": decision.fiscal_year,
                "received_on": received_on,
                "content": content,
                "late_reason": late_reason,
                "prepared_by": _actor_id(actor),
            },
            household_id=household_id,
            action="rent_review.objection",
            **_context(actor, session_ref, ip),
        )


def prepare_correction(
    household_id: int,
    fiscal_year: int,
    *,
    reason: str,
    today: dt.date | None = None,
    actor=None,
    session_ref=None,
    ip=None,
) -> RentReview:
    """A 更正 of the household's decision for a fiscal year, prepared by staff for an officer to decide."""
    today = today or today_tokyo()
    reason = (reason or "").strip()
    with db.atomic():
        billing.lock_household(household_id)
        decision = (
            RentDecision.select()
            .where(
                (RentDecision.household == household_id)
                & (RentDecision.fiscal_year == fiscal_year)
                & (RentDecision.state == "approved")
            )
            .order_by(RentDecision.effective_from.desc())
            .first()
        )
        if decision is None:
            raise RuleViolation(_l("この年度の効力のある家賃決定がありません。"), field="fiscal_year")
        if not reason:
            raise RuleViolation(_l("更正の理由を入力してください。"), field="reason")
        if _pending(decision.id):
            raise RuleViolation(
                _l("この年度の家賃決定には決定を待っている意見申出・更正があります。"), field="fiscal_year"
            )
        return billing.create_record(
            RentReview,
            {
                "kind": "correction",
                "household": household_id,
                "decision": decision.id,
                "fiscal_year": fiscal_year,
                "received_on": today,
                "content": reason,
                "prepared_by": _actor_id(actor),
            },
            household_id=household_id,
            action="rent_review.correction",
            **_context(actor, session_ref, ip),
        )


# --- old vs new ------------------------------------------------------------------------------------------


@dataclass
class MonthDifference:
    period: dt.date
    charged: int
    due: int

    @property
    def difference(self) -> int:
        return self.due - self.charged


@dataclass
class Comparison:
    """The decision in force and what a recomputation with that year's masters gives now."""

    old: RentDecision
    computation: object | None
    new_rent: int | None
    new_status: str | None
    new_seirei: int | None
    new_standard: int | None
    new_market: int | None
    explanation: list[str]
    masters_used: dict
    problem: str | None = None
    months: list[MonthDifference] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new_rent is not None and (
            self.new_rent != self.old.rent or self.new_status != self.old.rent_status
        )

    @property
    def total_difference(self) -> int:
        return sum(m.difference for m in self.months)


def old_explanation(decision: RentDecision) -> list[str]:
    try:
        steps = json.loads(decision.explanation or "[]")
    except ValueError:
        return [decision.explanation]
    return [str(s) for s in steps] if isinstance(steps, list) else [str(steps)]


def compare(review: RentReview) -> Comparison:
    """Recompute the household for the decision's fiscal year and start date (no write), with the masters
    in force on 1 April of that year, and set it beside the old decision."""
    from services import rent_decisions

    old = RentDecision.get_by_id(review.decision_id)
    household = Household.get_by_id(review.household_id)
    try:
        computation = rent_decisions.compute(household, old.fiscal_year, on=old.effective_from)
    except rent_decisions.Incomplete as exc:
        return Comparison(old, None, None, None, None, None, None, [], {}, problem=exc.message)
    except masters.MasterMissing:
        problem = str(_l("この年度のマスタがそろっていないため再計算できません。"))
        return Comparison(old, None, None, None, None, None, None, [], {}, problem=problem)
    result = computation.result
    comparison = Comparison(
        old,
        computation,
        result.rent,
        result.status,
        result.seirei_getsushu,
        result.standard_rent,
        result.market_rent,
        list(computation.explanation),
        dict(computation.masters_used),
    )
    comparison.months = month_differences(old, result.rent)
    return comparison


def month_differences(old: RentDecision, new_rent: int) -> list[MonthDifference]:
    """The rent charges of the decision's period already made whose amount the new rent changes."""
    end = dt.date(old.fiscal_year + 1, 3, 31)
    charges = (
        Charge.select()
        .where(
            (Charge.household == old.household_id)
            & (Charge.kind == "rent")
            & (Charge.period >= old.effective_from.replace(day=1))
            & (Charge.period <= end)
            & ~Charge.cancelled
        )
        .order_by(Charge.period)
    )
    rows = []
    for charge in charges:
        # a prorated month (move-in, move-out) keeps its proportion of the monthly rent
        due = new_rent if charge.amount == old.rent or not old.rent else charge.amount * new_rent // old.rent
        if due != charge.amount:
            rows.append(MonthDifference(charge.period, charge.amount, due))
    return rows


# --- the officer's decision ---------------------------------------------------------------------------------


def _received_review(review_id: int) -> RentReview:
    """The review read again under its household's lock, still waiting for a decision."""
    review = RentReview.get_or_none(RentReview.id == review_id)
    if review is None:
        raise LookupError(review_id)
    billing.lock_household(review.household_id)
    review = RentReview.get_by_id(review_id)
    if review.status != "received":
        raise RuleViolation(_l("この申出はすでに決定されています。"))
    return review


def _open_review(review_id: int, actor) -> RentReview:
    review = _received_review(review_id)
    if review.prepared_by_id == _actor_id(actor):
        raise RuleViolation(
            _l("自分が受け付けた（起案した）申出は決定できません。別の保護責任者が決定してください。")
        )
    return review


def _decide(
    review: RentReview, status: str, answer: str, action: str, actor, session_ref, ip, **more
) -> None:
    """Close the review with its answer, the decider and the time of the decision (audited as `action`)."""
    editing.update(
        review,
        review.version,
        {"status": status, "answer": answer, "decided_by": _actor_id(actor), "decided_at": utcnow(), **more},
        household_id=review.household_id,
        action=action,
        **_context(actor, session_ref, ip),
    )


def uphold(
    review_id: int, *, answer: str, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> RentReview:
    """The decision stands: the answer is recorded (原決定維持)."""
    answer = (answer or "").strip()
    if not answer:
        raise RuleViolation(_l("回答（原決定を維持する理由）を入力してください。"), field="answer")
    with db.atomic():
        review = _open_review(review_id, actor)
        _decide(review, "upheld", answer, "rent_review.uphold", actor, session_ref, ip)
    return review


def withdraw(
    review_id: int, *, note: str, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> RentReview:
    """The resident withdrew the objection (or the correction is not pursued)."""
    note = (note or "").strip()
    if not note:
        raise RuleViolation(_l("取下げの経緯を入力してください。"), field="answer")
    with db.atomic():
        review = _received_review(review_id)
        _decide(review, "withdrawn", note, "rent_review.withdraw", actor, session_ref, ip)
    return review


@dataclass
class Redecided:
    review: RentReview
    decision: RentDecision
    comparison: Comparison
    job: object | None


def redecide(
    review_id: int, *, answer: str, today: dt.date | None = None, actor=None, session_ref=None, ip=None
) -> Redecided:
    """A correction decision (更正) replaces the old one from the same date; its notice is queued."""
    from services import rent_decisions

    today = today or today_tokyo()
    answer = (answer or "").strip()
    if not answer:
        raise RuleViolation(_l("回答（再決定の理由）を入力してください。"), field="answer")
    context = _context(actor, session_ref, ip)
    with db.atomic():
        review = _open_review(review_id, actor)
        old = RentDecision.get_by_id(review.decision_id)
        if old.state != "approved":
            raise RuleViolation(_l("対象の家賃決定はすでに効力を失っています。"))
        comparison = compare(review)
        if comparison.computation is None:
            raise RuleViolation(comparison.problem or _l("再計算できません。"))
        editing.update(
            old,
            old.version,
            {"state": "superseded"},
            household_id=review.household_id,
            action="rent_decision.supersede",
            **context,
        )
        household = Household.get_by_id(review.household_id)
        days = int(masters.parameter("objection.days", today))
        new = rent_decisions.write_decision(
            household,
            comparison.computation,
            "correction",
            supersedes=old,
            state="approved",
            decided_on=today,
            approved_by=_actor_id(actor),
            objection_deadline=today + dt.timedelta(days=days),
        )
        audit.record(
            "rent_decision.correct",
            target_table="household",
            target_ids=[review.household_id],
            fields=["rent_decision.rent", "rent_decision.rent_status", "rent_decision.state"],
            changes={
                "rent_decision.rent": [old.rent, new.rent],
                "rent_decision.rent_status": [old.rent_status, new.rent_status],
            },
            reason=f"rent_decision {new.id} supersedes {old.id}",
            **context,
        )
        _recertify(household, new, today, context)
        _decide(
            review, "redecided", answer, "rent_review.redecide", actor, session_ref, ip, new_decision=new.id
        )
    job = jobs.submit(NOTICE_JOB, {"decisions": [new.id]}, _actor_id(actor), session_ref=session_ref, ip=ip)
    return Redecided(review, new, comparison, job)


def _recertify(household: Household, new: RentDecision, today: dt.date, context: dict) -> None:
    """The year's certifications and the household's flags follow the correction decision: a
    certification the new computation no longer supports is withdrawn (取消), one it supports gets the new
    years over, and the flags come from the decision in force today. A household with an open 高額所得者
    明渡請求 keeps its high_income flag until the request is withdrawn (services.evictions)."""
    from models import Certification, EvictionRequest

    supported = {"over_income": new.rent_status in ("over_income", "high_income")}
    supported["high_income"] = new.rent_status == "high_income"
    for certification in Certification.select().where(
        (Certification.household == household.id)
        & (Certification.fiscal_year == new.fiscal_year)
        & (Certification.state == "certified")
    ):
        if supported.get(certification.kind):
            values = {"years_over": new.years_over}
            if new.seirei_getsushu is not None:
                values["seirei_getsushu"] = new.seirei_getsushu
        else:
            values = {"state": "withdrawn"}
        editing.update(
            certification,
            certification.version,
            values,
            household_id=household.id,
            action="certification.correct",
            **context,
        )
    in_force = (
        RentDecision.select()
        .where(
            (RentDecision.household == household.id)
            & (RentDecision.state == "approved")
            & (RentDecision.effective_from <= today)
        )
        .order_by(RentDecision.effective_from.desc(), RentDecision.id.desc())
        .first()
    ) or new
    evicting = (
        EvictionRequest.select()
        .where(
            (EvictionRequest.household == household.id)
            & (EvictionRequest.ground == "high_income")
            & EvictionRequest.status.in_(("requested", "extended"))
        )
        .exists()
    )
    flags = {
        "over_income": in_force.rent_status in ("over_income", "high_income"),
        "high_income": in_force.rent_status == "high_income" or evicting,
    }
    household = Household.get_by_id(household.id)
    changed = {k: v for k, v in flags.items() if getattr(household, k) != v}
    if changed:
        editing.update(
            household,
            household.version,
            changed,
            household_id=household.id,
            action="household.certification_flags",
            **context,
        )


# --- lists -----------------------------------------------------------------------------------------------


def reviews_of(household_id: int) -> list[RentReview]:
    return list(
        RentReview.select()
        .where(RentReview.household == household_id)
        .order_by(RentReview.received_on.desc(), RentReview.id.desc())
    )


def pending(user) -> list[RentReview]:
    """Objections and corrections waiting for a decision, in the user's scope, oldest first."""
    from services import access

    return list(
        RentReview.select(RentReview, Household)
        .join(Household)
        .where((RentReview.status == "received") & RentReview.household.in_(access.visible_households(user)))
        .order_by(RentReview.received_on, RentReview.id)
    )


# --- the 家賃決定通知書 of a correction -------------------------------------------------------------------------


def notice_page(decision: RentDecision):
    """The 家賃決定通知書 (更正) of one household: the new rent with its computation."""
    from services import notices

    household = Household.get_by_id(decision.household_id)
    previous = RentDecision.get_or_none(RentDecision.id == decision.supersedes_id)
    label = wareki.fiscal_year_label(decision.fiscal_year)
    rows = [
        ("年度", label),
        ("適用開始日", wareki.to_wareki(decision.effective_from)),
        ("家賃区分", RentDecision.rent_status.label(decision.rent_status)),
        ("住宅使用料（月額）", f"{decision.rent:,}円"),
    ]
    if previous is not None:
        rows.append(("更正前の住宅使用料（月額）", f"{previous.rent:,}円"))
    deadline = decision.objection_deadline
    blocks = [
        notices.Paragraph(
            f"{label}の住宅使用料を次のとおり更正して決定したので、公営住宅法第16条の規定により通知します。"
            "この決定は、さきに通知した決定に代わるものです。"
        ),
        notices.Table(rows=rows),
        notices.Steps(old_explanation(decision), heading="計算の内容"),
    ]
    if deadline is not None:
        blocks.append(
            notices.Paragraph(
                f"この決定に意見がある場合は、{wareki.to_wareki(deadline)}までに市営住宅管理課へ申し出てください。"
            )
        )
    blocks.append(notices.Note("すでに納めた月の使用料との差額は、別に調定の訂正をしてお知らせします。"))
    return notices.NoticePage(
        kind="rent_decision",
        household_id=household.id,
        addressee=notices.address_of(household),
        title="家賃決定通知書（更正）",
        blocks=blocks,
        subject_table="rent_decision",
        subject_id=decision.id,
    )


@jobs.handler(NOTICE_JOB, label=_l("家賃決定通知書（更正）の発行"))
def _issue_job(job, report):
    from services import notices

    ids = jobs.params_of(job).get("decisions", [])
    decisions = list(RentDecision.select().where(RentDecision.id.in_(ids)).order_by(RentDecision.id))
    if not decisions:
        raise jobs.JobError(_l("発行できる家賃決定がありません。"))
    pages = [notice_page(d) for d in decisions]
    return notices.issue_run(
        "rent_decision", decisions[0].fiscal_year, pages, job.created_by_id, report=report, job=job
    )


def audit_view(review: RentReview, **context) -> None:
    audit.record(
        "rent_review.view",
        target_table="household",
        target_ids=[review.household_id],
        fields=["rent_review.content", "rent_decision.rent", "rent_decision.explanation"],
        reason=f"rent_review {review.id}",
        **context,
    )
