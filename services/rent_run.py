"""The yearly rent run (毎年度の使用料決定, SPEC §3.4-3.5): compute, preview, approve, notify.

    run = rent_run.start(2027, actor)                 # the open run of the year, or a new one
    rent_run.compute_pending(run, report=…)           # batch by batch until every household is done
    page = rent_run.preview(run, Filters(changed_only=True), page=1)
    rent_run.approve(run, officer)                    # drafts → decisions, certifications, flags
    # … then background jobs issue 家賃決定通知書, 収入超過者認定通知書, 高額所得者認定通知書.

How it stays right when stopped anywhere (kill -9, a deploy, a second worker):

- One open run per fiscal year (a partial unique index on rent_run): start returns the year's run
  that is running, waiting for approval, approved or issued, and creates one only when there is none
  (a cancelled run does not count).
- Computing: the households in residence on 1 April (a tenancy covering the day, the household not
  moved out), in household-id order, a batch per transaction. Each household gets a RentRunItem —
  with its draft RentDecision, or with the problem that prevented one (no unit figures for the year,
  no declaration …: listed, never skipped silently) — in the same transaction as the run's counter.
  The run row is locked first, so a cancelled run takes no more drafts and two workers never write
  the same batch (the item's unique (run, household) index backs that up). A rerun continues after
  the last household done; when none is left the run waits for approval (preview).
- Approval: an officer, never the person who started the run (four-eyes: who prepared the figures does
  not approve them). Every draft is first computed again from the file as it is now (refresh_drafts):
  when any went stale during the preview (a declaration keyed in, a move-out before 1 April …) those
  are put right, nothing is approved and the officer reads the run again (InputsChanged). The preview
  and its counts show each member of staff only the households services.access lets them see (支援措置);
  the approval covers them all. The run is marked approved first, then drafts are approved a batch per
  transaction — each with its 収入超過者 / 高額所得者 Certification rows (created once: unique per
  household, year, kind) and the household's flags — and resuming continues with the drafts left.
  Then one notice job per kind is queued, once (found again by its exact parameters); each job issues
  its NoticeRun once (notices.issue_run(job=…)), and the last one marks the run issued.
- Cancelling (running or waiting for approval): drafts → cancelled, the run → cancelled.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from peewee import JOIN, SQL, IntegrityError, fn

from extensions import db, is_sqlite
from models import Certification, Estate, Household, Job, RentDecision, RentRun, Tenancy, Unit, User
from models.base import utcnow
from models.income import RENT_STATUSES
from models.rent_runs import PROBLEMS, REASONS, RentRunItem
from rules import wareki
from rules.filters import today_tokyo
from services import access, audit, jobs, masters, notices
from services import rent_decisions as decisions

BATCH = 200
PER_PAGE = 50
OPEN_STATES = ("running", "preview", "approved")
NOTICE_KINDS = ("rent_decision", "over_income", "high_income")
OFFICER_ROLES = frozenset({"officer"})
STATUS_LABELS = dict(RENT_STATUSES)
PROBLEM_LABELS = dict(PROBLEMS)
REASON_LABELS = dict(REASONS)

Report = Callable[[int, int], None] | None


class RunRefused(Exception):
    """The run cannot do what was asked (state, role, four-eyes): message (Japanese) and an HTTP status."""

    def __init__(self, message, status: int = 409):
        self.message = text_of(message)
        super().__init__(self.message)
        self.status = status


def text_of(message) -> str:
    """A lazy message as text: in the request's language, in Japanese outside a request (CLI, jobs)."""
    if has_request_context():
        return str(message)
    with force_locale("ja"):
        return str(message)


# --- which run, which households ------------------------------------------------------------------------


def next_fiscal_year(today: dt.date | None = None) -> int:
    """The fiscal year a run decides now: the one after the current 年度."""
    today = today or today_tokyo()
    return (today.year if today.month >= 4 else today.year - 1) + 1


def current_run(fiscal_year: int) -> RentRun | None:
    """The year's run that counts: open (running, preview, approved) or issued; the newest one."""
    return (
        RentRun.select()
        .where((RentRun.fiscal_year == fiscal_year) & (RentRun.state != "cancelled"))
        .order_by(RentRun.id.desc())
        .first()
    )


def resident_households(fiscal_year: int):
    """The households in residence on 1 April of fiscal_year (a query of Household ids).

    A correlated EXISTS on the tenancy's household index: walking households in id order from a
    point and stopping at a batch's size costs the batch, not the city.
    """
    on = masters.fiscal_year_start(fiscal_year)
    covering = Tenancy.select(SQL("1")).where(
        (Tenancy.household == Household.id)
        & (Tenancy.move_in_date <= on)
        & (Tenancy.move_out_date.is_null() | (Tenancy.move_out_date >= on))
    )
    return Household.select(Household.id).where(fn.EXISTS(covering) & (Household.status != "moved_out"))


def start(fiscal_year: int, actor, **context) -> RentRun:
    """The year's run (see current_run), or a new running one; MasterMissing when the year's masters
    are not entered (nothing is created)."""
    masters.rent_masters(fiscal_year)  # refuse before creating anything
    existing = current_run(fiscal_year)
    if existing is not None:
        return existing
    try:
        with db.atomic():
            total = resident_households(fiscal_year).count()
            run = RentRun.create(
                fiscal_year=fiscal_year,
                state="running",
                started_by=actor,
                started_at=utcnow(),
                households_total=total,
            )
            audit.record(
                "rent_run.start",
                actor=actor,
                target_table="rent_run",
                target_ids=[run.id],
                reason=f"fiscal_year={fiscal_year} households={total}",
                **context,
            )
    except IntegrityError:  # someone started the year's run at the same moment
        existing = current_run(fiscal_year)
        if existing is None:
            raise
        return existing
    return run


def _lock(run_id: int) -> RentRun:
    """The run row, locked for this transaction (SQLite's write transaction already serialises)."""
    query = RentRun.select().where(RentRun.id == run_id)
    if not is_sqlite():
        query = query.for_update()
    return query.get()


# --- computing ------------------------------------------------------------------------------------------


def reasons_for(computation: decisions.Computation) -> list[str]:
    """Why the draft differs from the decision in force (codes of models.rent_runs.REASONS)."""
    new, old = computation.result, computation.in_force
    if old is None:
        return ["no_previous"]
    found = []
    if old.unit_id != computation.unit_id:
        found.append("unit_changed")
    if new.bracket is not None and old.bracket is not None and new.bracket != old.bracket:
        found.append("new_bracket")
    if new.status == "over_income":
        found.append("over_income")
    if old.rent_status in ("over_income", "high_income") and new.status == "normal":
        found.append("over_income_ended")
    if new.status == "high_income":
        found.append("high_income")
    if old.rent_status == "high_income" and new.status != "high_income":
        found.append("high_income_ended")
    if new.status == "undeclared":
        found.append("undeclared")
    if old.rent_status == "undeclared" and new.status != "undeclared":
        found.append("declared_again")
    if new.market_rent != old.market_rent and (new.status != "normal" or new.rent == new.market_rent):
        found.append("market_rent")  # the rent follows 近傍同種家賃 (in part for 収入超過者)
    if new.rent != old.rent and not found:
        found.append("coefficients")  # 経過年数係数 (a year older), 利便性係数 or the masters
    return found


def _encode(codes: list[str]) -> str:
    return "," + ",".join(codes) + "," if codes else ""


def _record(run: RentRun, facts: decisions.Facts, rent_masters) -> None:
    household = facts.household
    previous = facts.in_force
    base = {
        "run": run.id,
        "household": household.id,
        "estate": facts.estate_id,
        "previous": previous.id if previous is not None else None,
        "previous_rent": previous.rent if previous is not None else None,
    }
    if facts.decided is not None:
        RentRunItem.create(**base, problem="already_decided")
        return
    try:
        computation = decisions.compute_from(facts, run.fiscal_year, rent_masters)
    except decisions.Incomplete as problem:
        RentRunItem.create(**base, problem=problem.code)
        return
    try:
        with db.atomic():
            decision = decisions.write_decision(household, computation, "annual", run=run.id)
    except IntegrityError:  # a draft of another kind holds the day (a correction in preparation)
        RentRunItem.create(**base, problem="already_decided")
        return
    RentRunItem.create(
        **base,
        decision=decision.id,
        rent=decision.rent,
        reasons=_encode(reasons_for(computation)),
        resident_three_years=computation.resident_three_years,
    )


def _record_batch(run: RentRun, households: list, facts: dict, rent_masters) -> None:
    """Compute a batch and record it with two multi-row INSERTs (drafts, then items); when a draft of
    another kind holds a household's day after all (a correction saved meanwhile), household by household."""
    on = masters.fiscal_year_start(run.fiscal_year)
    ids = [h.id for h in households]
    held = {
        row.household_id
        for row in RentDecision.select(RentDecision.household).where(
            RentDecision.household.in_(ids)
            & (RentDecision.effective_from == on)
            & (RentDecision.state == "draft")
        )
    }
    now = utcnow()
    items, computed = [], []
    for household in households:
        item = facts[household.id]
        previous = item.in_force
        base = {
            "created_at": now,
            "updated_at": now,
            "run": run.id,
            "household": household.id,
            "estate": item.estate_id,
            "previous": previous.id if previous is not None else None,
            "previous_rent": previous.rent if previous is not None else None,
            "decision": None,
            "rent": None,
            "reasons": "",
            "problem": None,
            "resident_three_years": False,
        }
        if item.decided is not None or household.id in held:
            items.append({**base, "problem": "already_decided"})
            continue
        try:
            computation = decisions.compute_from(item, run.fiscal_year, rent_masters)
        except decisions.Incomplete as problem:
            items.append({**base, "problem": problem.code})
            continue
        computed.append((base, computation))
    if computed:
        rows = [
            {**c.decision_values(), "run": run.id, "kind": "annual", "state": "draft", "created_at": now,
             "updated_at": now, "version": 1, "deposit": None, "supersedes": None, "decided_on": None,
             "approved_by": None, "objection_deadline": None}
            for _, c in computed
        ]  # fmt: skip
        try:
            with db.atomic():
                RentDecision.insert_many(rows).execute()
        except IntegrityError:
            for household in households:
                _record(run, facts[household.id], rent_masters)
            return
        written = dict(
            RentDecision.select(RentDecision.household, RentDecision.id)
            .where(
                (RentDecision.run == run.id)
                & RentDecision.household.in_([c.household_id for _, c in computed])
            )
            .tuples()
        )
        for base, c in computed:
            items.append(
                {
                    **base,
                    "decision": written[c.household_id],
                    "rent": c.result.rent,
                    "reasons": _encode(reasons_for(c)),
                    "resident_three_years": c.resident_three_years,
                }
            )
    items.sort(key=lambda row: row["household"])
    RentRunItem.insert_many(items).execute()


def _pending_ids(run: RentRun, after: int, limit: int) -> list[int]:
    query = resident_households(run.fiscal_year).where(Household.id > after).order_by(Household.id)
    return [row.id for row in query.limit(limit)]


def _stragglers(run: RentRun, limit: int) -> list[int]:
    """Households in residence with no item although below the last one done (moved in meanwhile)."""
    done = RentRunItem.select(RentRunItem.household).where(RentRunItem.run == run.id)
    query = resident_households(run.fiscal_year).where(Household.id.not_in(done)).order_by(Household.id)
    return [row.id for row in query.limit(limit)]


def compute_batch(run_id: int, batch: int = BATCH) -> tuple[RentRun, int]:
    """Compute the next batch of households in one transaction; (the run, households written).

    0 written and the run in preview: done. A run that is no longer running writes nothing.
    """
    with db.atomic():
        run = _lock(run_id)
        if run.state != "running":
            return run, 0
        last = (
            RentRunItem.select(fn.MAX(RentRunItem.household)).where(RentRunItem.run == run.id).scalar() or 0
        )
        ids = _pending_ids(run, last, batch) or _stragglers(run, batch)
        if not ids:
            total = RentRunItem.select().where(RentRunItem.run == run.id).count()
            RentRun.update(
                state="preview",
                finished_at=utcnow(),
                households_done=total,
                households_total=total,
                updated_at=utcnow(),
                version=RentRun.version + 1,
            ).where(RentRun.id == run.id).execute()
            audit.record(
                "rent_run.computed",
                target_table="rent_run",
                target_ids=[run.id],
                reason=f"households={total} problems={problem_count(run)}",
            )
            return RentRun.get_by_id(run.id), 0
        rent_masters = masters.rent_masters(run.fiscal_year)
        households = list(Household.select().where(Household.id.in_(ids)).order_by(Household.id))
        facts = decisions.load_facts(households, run.fiscal_year)
        _record_batch(run, households, facts, rent_masters)
        RentRun.update(households_done=RentRun.households_done + len(households), updated_at=utcnow()).where(
            RentRun.id == run.id
        ).execute()
    return RentRun.get_by_id(run.id), len(households)


def compute_pending(run: RentRun, *, batch: int = BATCH, report: Report = None) -> RentRun:
    """Compute every household not yet done, batch by batch (resumable); the run as it ends."""
    if run.state == "running":  # the count of households may have moved since the run started
        with db.atomic():
            done = RentRunItem.select().where(RentRunItem.run == run.id).count()
            last = RentRunItem.select(fn.MAX(RentRunItem.household)).where(RentRunItem.run == run.id).scalar()
            remaining = resident_households(run.fiscal_year).where(Household.id > (last or 0)).count()
            RentRun.update(
                households_done=done, households_total=done + remaining, updated_at=utcnow()
            ).where((RentRun.id == run.id) & (RentRun.state == "running")).execute()
    while True:
        run, written = compute_batch(run.id, batch)
        if report is not None:
            report(run.households_done, max(run.households_total, run.households_done))
        if written == 0:
            return run


def problem_count(run: RentRun) -> int:
    return (
        RentRunItem.select().where((RentRunItem.run == run.id) & RentRunItem.problem.is_null(False)).count()
    )


# --- the preview ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the preview shows: changed only (rent, 区分 or status: any reason), one reason, one estate,
    the problems only."""

    changed_only: bool = False
    reason: str | None = None
    estate_id: int | None = None
    problems_only: bool = False


@dataclass
class Row:
    """One household of the preview."""

    item_id: int
    household_id: int
    household_no: str
    housing_code: str | None
    estate_name: str | None
    previous_rent: int | None
    previous_bracket: int | None
    previous_status: str | None
    rent: int | None
    bracket: int | None
    status: str | None
    years_over: int
    reasons: list[str]
    problem: str | None
    decision_id: int | None

    @property
    def difference(self) -> int | None:
        if self.rent is None or self.previous_rent is None:
            return None
        return self.rent - self.previous_rent

    @property
    def reason_labels(self) -> list[str]:
        return [reason_label(code, self.years_over) for code in self.reasons]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, "") if self.status else ""

    @property
    def previous_status_label(self) -> str:
        return STATUS_LABELS.get(self.previous_status, "") if self.previous_status else ""

    @property
    def problem_label(self) -> str:
        return PROBLEM_LABELS.get(self.problem, "") if self.problem else ""


def reason_label(code: str, years_over: int = 0) -> str:
    """A reason in Japanese, with the year over for 収入超過."""
    if code == "over_income" and years_over:
        return f"収入超過{years_over}年目"
    if code == "undeclared":
        return "未申告 → 近傍同種家賃"
    if code == "high_income":
        return "高額所得者 → 近傍同種家賃"
    return REASON_LABELS.get(code, code)


@dataclass
class Summary:
    """The run's counts and totals (yen) for the preview's head."""

    households: int = 0
    drafts: int = 0
    problems: int = 0
    changed: int = 0
    increased: int = 0
    decreased: int = 0
    rent_total: int = 0
    previous_total: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_problem: dict[str, int] = field(default_factory=dict)
    resident_three_years: int = 0
    run_drafts: int = 0  # every draft of the run: what an approval decides, whoever reads the counts

    @property
    def difference(self) -> int:
        return self.rent_total - self.previous_total


def _in_view(viewer):
    """The run items viewer may see (services.access: no 支援措置 household without an assignment);
    viewer None: all of them (the command line, the approval)."""
    if viewer is None:
        return RentRunItem.id.is_null(False)
    return RentRunItem.household.in_(access.visible_households(viewer))


def summary(run: RentRun, viewer=None) -> Summary:
    """Counts by reason, status and problem, and the monthly totals of the drafts against this year,
    over the households viewer may see (all of them for None)."""
    visible = _in_view(viewer)
    items = RentRunItem.select().where((RentRunItem.run == run.id) & visible)
    result = Summary()
    result.run_drafts = (
        RentRunItem.select().where((RentRunItem.run == run.id) & RentRunItem.decision.is_null(False)).count()
    )
    result.households = items.count()
    result.problems = items.where(RentRunItem.problem.is_null(False)).count()
    computed = items.where(RentRunItem.decision.is_null(False))
    result.drafts = computed.count()
    result.changed = computed.where(RentRunItem.reasons != "").count()
    result.increased = computed.where(RentRunItem.rent > RentRunItem.previous_rent).count()
    result.decreased = computed.where(RentRunItem.rent < RentRunItem.previous_rent).count()
    result.rent_total = int(
        RentRunItem.select(fn.COALESCE(fn.SUM(RentRunItem.rent), 0))
        .where((RentRunItem.run == run.id) & RentRunItem.decision.is_null(False) & visible)
        .scalar()
    )
    result.previous_total = int(
        RentRunItem.select(fn.COALESCE(fn.SUM(RentRunItem.previous_rent), 0))
        .where((RentRunItem.run == run.id) & RentRunItem.decision.is_null(False) & visible)
        .scalar()
    )
    result.resident_three_years = computed.where(RentRunItem.resident_three_years).count()
    for code, _ in REASONS:
        count = computed.where(RentRunItem.reasons.contains(f",{code},")).count()
        if count:
            result.by_reason[code] = count
    statuses = (
        RentDecision.select(RentDecision.rent_status, fn.COUNT(RentDecision.id))
        .join(RentRunItem, on=(RentRunItem.decision == RentDecision.id))
        .where((RentRunItem.run == run.id) & visible)
        .group_by(RentDecision.rent_status)
        .tuples()
    )
    result.by_status = {status: count for status, count in statuses}
    problems = (
        RentRunItem.select(RentRunItem.problem, fn.COUNT(RentRunItem.id))
        .where((RentRunItem.run == run.id) & RentRunItem.problem.is_null(False) & visible)
        .group_by(RentRunItem.problem)
        .tuples()
    )
    result.by_problem = {problem: count for problem, count in problems}
    return result


@dataclass
class PreviewPage:
    """A page of the preview."""

    rows: list[Row]
    page: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        return (self.page - 1) * PER_PAGE + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page * PER_PAGE)


def preview(run: RentRun, filters: Filters = Filters(), page: int = 1, *, viewer=None) -> PreviewPage:
    """The households of the run viewer may see (all for None) with their draft against the decision
    in force, PER_PAGE a page."""
    query = (
        RentRunItem.select(RentRunItem, Household.household_no, Estate.name)
        .join(Household, on=(RentRunItem.household == Household.id))
        .switch(RentRunItem)
        .join(Estate, JOIN.LEFT_OUTER, on=(RentRunItem.estate == Estate.id))
        .where((RentRunItem.run == run.id) & _in_view(viewer))
    )
    if filters.problems_only:
        query = query.where(RentRunItem.problem.is_null(False))
    if filters.changed_only:
        query = query.where(RentRunItem.decision.is_null(False) & (RentRunItem.reasons != ""))
    if filters.reason:
        query = query.where(RentRunItem.reasons.contains(f",{filters.reason},"))
    if filters.estate_id:
        query = query.where(RentRunItem.estate == filters.estate_id)
    total = query.count()
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = []
    for item in query.order_by(RentRunItem.household).paginate(page, PER_PAGE).objects():
        rows.append(
            Row(
                item_id=item.id,
                household_id=item.household_id,
                household_no=item.household_no,
                housing_code=None,
                estate_name=getattr(item, "name", None),
                previous_rent=item.previous_rent,
                previous_bracket=None,
                previous_status=None,
                rent=item.rent,
                bracket=None,
                status=None,
                years_over=0,
                reasons=item.reason_codes,
                problem=item.problem,
                decision_id=item.decision_id,
            )
        )
    _fill_decisions(rows)
    return PreviewPage(rows, page, pages, total)


def _fill_decisions(rows: list[Row]) -> None:
    """The draft's and the previous decision's bracket, status and unit (one query for the page)."""
    wanted = {row.decision_id for row in rows if row.decision_id}
    items = {row.item_id: row for row in rows}
    previous_ids = dict(
        RentRunItem.select(RentRunItem.id, RentRunItem.previous)
        .where(RentRunItem.id.in_(list(items)))
        .tuples()
    )
    wanted |= {pid for pid in previous_ids.values() if pid}
    found = (
        {d.id: d for d in RentDecision.select().where(RentDecision.id.in_(list(wanted)))} if wanted else {}
    )
    units = (
        {
            u.id: u.housing_code
            for u in Unit.select(Unit.id, Unit.housing_code).where(
                Unit.id.in_([d.unit_id for d in found.values()])
            )
        }
        if found
        else {}
    )
    for row in rows:
        draft = found.get(row.decision_id)
        if draft is not None:
            row.bracket, row.status, row.years_over = draft.bracket, draft.rent_status, draft.years_over
            row.housing_code = units.get(draft.unit_id)
        before = found.get(previous_ids.get(row.item_id))
        if before is not None:
            row.previous_bracket, row.previous_status = before.bracket, before.rent_status
            row.housing_code = row.housing_code or units.get(before.unit_id)


def estates_in(run: RentRun) -> list[tuple[int, str]]:
    """The estates of the run's households, for the preview's filter."""
    return [
        (e.id, f"{e.code} {e.name}")
        for e in Estate.select(Estate.id, Estate.code, Estate.name)
        .where(Estate.id.in_(RentRunItem.select(RentRunItem.estate).where(RentRunItem.run == run.id)))
        .order_by(Estate.code)
    ]


# --- approving ------------------------------------------------------------------------------------------


def check_approver(run: RentRun, actor) -> None:
    """RunRefused (403) unless actor is an officer other than the person who started the run."""
    role = getattr(getattr(actor, "role", None), "value", getattr(actor, "role", None))
    if actor is None or role not in OFFICER_ROLES or not getattr(actor, "active", True):
        raise RunRefused(_l("年次家賃決定の承認は保護責任者（課長等）が行います。"), 403)
    if actor.id == run.started_by_id:
        raise RunRefused(
            _l("計算を開始した職員は、同じ年次処理を承認できません。別の保護責任者が承認してください。"), 403
        )


class InputsChanged(RunRefused):
    """The approval did not happen: drafts had gone stale since the preview and were computed again
    (refresh_drafts); the run waits in preview for the officer to read it and approve again."""

    def __init__(self, households: list[int]):
        super().__init__(
            _l(
                "%(count)s世帯の入力が変わったため再計算しました。内容を確認して、もう一度承認してください。",
                count=len(households),
            ),
            409,
        )
        self.households = households


# The columns of a draft that must still match a computation from the file as it is now.
CHECKED = ("tenancy", "unit", "seirei_getsushu", "bracket", "rent_status", "years_over", "rent")


def _draft_key(draft: RentDecision) -> tuple:
    return (draft.tenancy_id, draft.unit_id, draft.seirei_getsushu, draft.bracket, draft.rent_status,
            draft.years_over, draft.rent)  # fmt: skip


def _item_key(item: RentRunItem) -> tuple:
    return (item.previous_id, item.previous_rent, item.estate_id, item.rent, item.reasons,
            item.resident_three_years)  # fmt: skip


def refresh_drafts(run: RentRun, *, batch: int = BATCH) -> list[int]:
    """Compute every draft of the run again from the file as it is now and put right those that went
    stale since the computation (a declaration keyed in during the preview, a move-out before 1 April,
    a correction of the decision in force, new masters or unit figures); the households put right.

    A draft whose household is no longer in residence on 1 April is cancelled and its item removed
    (the run never lists such a household); one that can no longer be computed is cancelled and its
    item lists the problem; any other is updated in place with its item (rent, reasons, the decision
    in force). Call in the approval's transaction, the run row locked: approving must not decide
    figures the officer has not seen.
    """
    rent_masters = masters.rent_masters(run.fiscal_year)
    changed: list[int] = []
    after = 0
    while True:
        items = list(
            RentRunItem.select()
            .where(
                (RentRunItem.run == run.id)
                & RentRunItem.decision.is_null(False)
                & (RentRunItem.household > after)
            )
            .order_by(RentRunItem.household)
            .limit(batch)
        )
        if not items:
            return changed
        after = items[-1].household_id
        ids = [item.household_id for item in items]
        drafts = {
            d.id: d for d in RentDecision.select().where(RentDecision.id.in_([i.decision_id for i in items]))
        }
        resident = {row.id for row in resident_households(run.fiscal_year).where(Household.id.in_(ids))}
        facts = decisions.load_facts(Household.select().where(Household.id.in_(ids)), run.fiscal_year)
        now = utcnow()
        for item in items:
            draft = drafts[item.decision_id]
            if draft.state != "draft":
                continue
            cancel_draft = RentDecision.update(
                state="cancelled", updated_at=now, version=RentDecision.version + 1
            ).where((RentDecision.id == draft.id) & (RentDecision.state == "draft"))
            if item.household_id not in resident:
                RentRunItem.delete().where(RentRunItem.id == item.id).execute()
                cancel_draft.execute()
                changed.append(item.household_id)
                continue
            try:
                computation = decisions.compute_from(facts[item.household_id], run.fiscal_year, rent_masters)
            except decisions.Incomplete as problem:
                RentRunItem.update(
                    decision=None, rent=None, reasons="", resident_three_years=False, problem=problem.code,
                    updated_at=now,
                ).where(RentRunItem.id == item.id).execute()  # fmt: skip
                cancel_draft.execute()
                changed.append(item.household_id)
                continue
            values = computation.decision_values()
            previous = computation.in_force
            fresh_item = {
                "previous": previous.id if previous is not None else None,
                "previous_rent": previous.rent if previous is not None else None,
                "estate": computation.estate_id,
                "rent": computation.result.rent,
                "reasons": _encode(reasons_for(computation)),
                "resident_three_years": computation.resident_three_years,
            }
            if _draft_key(draft) == tuple(values[name] for name in CHECKED) and _item_key(item) == tuple(
                fresh_item.values()
            ):
                continue
            RentDecision.update(**values, updated_at=now, version=RentDecision.version + 1).where(
                RentDecision.id == draft.id
            ).execute()
            RentRunItem.update(**fresh_item, updated_at=now).where(RentRunItem.id == item.id).execute()
            changed.append(item.household_id)


def begin_approval(run: RentRun, actor, **context) -> RentRun:
    """Check the approver and mark the run approved (once); the drafts are approved by approve_pending.

    Every draft is checked against the file first (refresh_drafts): when any went stale they are put
    right, the run stays in preview and InputsChanged tells the officer to read it and approve again.
    """
    check_approver(run, actor)
    context = {k: v for k, v in context.items() if k != "actor"}
    with db.atomic():
        run = _lock(run.id)
        if run.state == "approved" or run.state == "issued":
            return run
        if run.state != "preview":
            raise RunRefused(_l("計算が終わっていない、または中止された年次処理は承認できません。"))
        changed = refresh_drafts(run)
        if changed:
            total = RentRunItem.select().where(RentRunItem.run == run.id).count()
            RentRun.update(
                households_done=total,
                households_total=total,
                updated_at=utcnow(),
                version=RentRun.version + 1,
            ).where(RentRun.id == run.id).execute()
            audit.record(
                "rent_run.recompute",
                actor=actor,
                target_table="household",
                target_ids=changed,
                fields=["rent_decision.rent", "rent_decision.rent_status", "rent_run_item.rent"],
                reason=f"rent_run {run.id} fiscal_year={run.fiscal_year} inputs changed before approval",
                **context,
            )
        else:
            now = utcnow()
            RentRun.update(
                state="approved",
                approved_by=actor.id,
                approved_at=now,
                updated_at=now,
                version=RentRun.version + 1,
            ).where((RentRun.id == run.id) & (RentRun.state == "preview")).execute()
            audit.record(
                "rent_run.approve",
                actor=actor,
                target_table="rent_run",
                target_ids=[run.id],
                reason=f"fiscal_year={run.fiscal_year}",
                **context,
            )
    if changed:
        raise InputsChanged(changed)  # after the commit: the drafts put right stay so
    return RentRun.get_by_id(run.id)


def approve_batch(run_id: int, batch: int = BATCH, decided_on: dt.date | None = None) -> int:
    """Approve the next batch of the run's drafts in one transaction; how many (0: none left)."""
    with db.atomic():
        run = _lock(run_id)
        if run.state != "approved":
            return 0
        drafts = list(
            RentDecision.select()
            .where((RentDecision.run == run.id) & (RentDecision.state == "draft"))
            .order_by(RentDecision.id)
            .limit(batch)
        )
        if not drafts:
            return 0
        decided_on = decided_on or today_tokyo()
        rent_masters = masters.rent_masters(run.fiscal_year)
        days = int(masters.parameter("objection.days", masters.fiscal_year_start(run.fiscal_year)))
        deadline = decided_on + dt.timedelta(days=days)
        ids = [d.id for d in drafts]
        RentDecision.update(
            state="approved",
            decided_on=decided_on,
            approved_by=run.approved_by_id,
            objection_deadline=deadline,
            updated_at=utcnow(),
            version=RentDecision.version + 1,
        ).where(RentDecision.id.in_(ids) & (RentDecision.state == "draft")).execute()
        _certify(run, drafts, decided_on, rent_masters)
        # Filed under the households, so each household's history shows its decision and certification.
        audit.record(
            "rent_decision.approve",
            actor=User.get_or_none(User.id == run.approved_by_id),
            target_table="household",
            target_ids=[d.household_id for d in drafts],
            fields=[
                "rent_decision.state",
                "certification.state",
                "household.over_income",
                "household.high_income",
            ],
            reason=f"rent_run {run.id} fiscal_year={run.fiscal_year} decisions={len(drafts)}",
        )
    return len(drafts)


def _certify(run: RentRun, drafts: list[RentDecision], decided_on: dt.date, rent_masters) -> None:
    """Certification rows and the household's flags for each approved draft."""
    wanted = []
    for draft in drafts:
        over = draft.rent_status in ("over_income", "high_income")
        high = draft.rent_status == "high_income"
        if over:
            wanted.append((draft, "over_income"))
        if high:
            wanted.append((draft, "high_income"))
    households = [d.household_id for d in drafts]
    existing = {
        (c.household_id, c.kind): c
        for c in Certification.select().where(
            Certification.household.in_(households) & (Certification.fiscal_year == run.fiscal_year)
        )
    }
    for draft, kind in wanted:
        known = existing.get((draft.household_id, kind))
        if known is None:
            Certification.create(
                household=draft.household_id,
                fiscal_year=run.fiscal_year,
                kind=kind,
                seirei_getsushu=draft.seirei_getsushu,
                years_over=draft.years_over,
                state="certified",
                certified_on=decided_on,
                certified_by=run.approved_by_id,
            )
        elif known.state != "certified":
            Certification.update(
                state="certified",
                seirei_getsushu=draft.seirei_getsushu,
                years_over=draft.years_over,
                certified_on=decided_on,
                certified_by=run.approved_by_id,
                updated_at=utcnow(),
                version=Certification.version + 1,
            ).where(Certification.id == known.id).execute()
    groups: dict[tuple[bool, bool], list[int]] = {}
    for draft in drafts:
        key = (draft.rent_status in ("over_income", "high_income"), draft.rent_status == "high_income")
        groups.setdefault(key, []).append(draft.household_id)
    for (over, high), ids in groups.items():
        Household.update(
            over_income=over, high_income=high, updated_at=utcnow(), version=Household.version + 1
        ).where(
            Household.id.in_(ids) & ((Household.over_income != over) | (Household.high_income != high))
        ).execute()


def approve_pending(run: RentRun, *, batch: int = BATCH, report: Report = None) -> RentRun:
    """Approve every draft left, batch by batch (resumable)."""
    total = RentDecision.select().where(RentDecision.run == run.id).count()
    while True:
        written = approve_batch(run.id, batch)
        if report is not None:
            left = (
                RentDecision.select()
                .where((RentDecision.run == run.id) & (RentDecision.state == "draft"))
                .count()
            )
            report(total - left, total)
        if written == 0:
            return RentRun.get_by_id(run.id)


def approve(run: RentRun, actor, *, batch: int = BATCH, report: Report = None, **context) -> RentRun:
    """begin_approval, approve_pending, then queue the notices: the whole approval in this process."""
    run = begin_approval(run, actor, **context)
    run = approve_pending(run, batch=batch, report=report)
    queue_notices(run)
    return RentRun.get_by_id(run.id)


# --- cancelling -----------------------------------------------------------------------------------------


def cancel(run: RentRun, actor, **context) -> RentRun:
    """Stop a run that is computing or waiting for approval: its drafts and the run are cancelled."""
    with db.atomic():
        run = _lock(run.id)
        if run.state == "cancelled":
            return run
        if run.state not in ("running", "preview"):
            raise RunRefused(_l("承認済みの年次処理は中止できません。個別の更正で直してください。"))
        now = utcnow()
        RentDecision.update(state="cancelled", updated_at=now, version=RentDecision.version + 1).where(
            (RentDecision.run == run.id) & (RentDecision.state == "draft")
        ).execute()
        RentRun.update(state="cancelled", updated_at=now, version=RentRun.version + 1).where(
            RentRun.id == run.id
        ).execute()
        audit.record(
            "rent_run.cancel",
            actor=actor,
            target_table="rent_run",
            target_ids=[run.id],
            reason=f"fiscal_year={run.fiscal_year}",
            **{k: v for k, v in context.items() if k != "actor"},
        )
    return RentRun.get_by_id(run.id)


# --- background jobs ------------------------------------------------------------------------------------


def _params_text(params: dict) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True)


def jobs_of(run: RentRun, kind: str) -> list[Job]:
    """The run's jobs of a kind ("rent_run.compute", "rent_run.approve", "rent_run.notices")."""
    found = []
    for job in Job.select().where(Job.kind == kind).order_by(Job.id):
        if jobs.params_of(job).get("run_id") == run.id:
            found.append(job)
    return found


def notice_job(run: RentRun, kind: str) -> Job | None:
    """The job issuing the run's notices of a kind (found by its exact parameters)."""
    text = _params_text({"kind": kind, "run_id": run.id})
    return Job.select().where((Job.kind == "rent_run.notices") & (Job.params == text)).first()


def submit_compute(run: RentRun, actor, **context) -> Job:
    """Queue the computation of a run (resumes where it stopped)."""
    return jobs.submit("rent_run.compute", {"run_id": run.id}, actor.id, **context)


def submit_approval(run: RentRun, actor, **context) -> Job:
    """Check the approver, mark the run approved and queue the rest of the approval and the notices."""
    run = begin_approval(run, actor, **context)
    return jobs.submit("rent_run.approve", {"run_id": run.id}, actor.id, **context)


def queue_notices(run: RentRun) -> list[Job]:
    """Queue one notice job per kind for an approved run, once; returns the jobs."""
    queued = []
    with db.atomic():
        run = _lock(run.id)
        if run.state not in ("approved", "issued"):
            return []
        if (
            RentDecision.select()
            .where((RentDecision.run == run.id) & (RentDecision.state == "draft"))
            .exists()
        ):
            return []  # the approval is not finished
        for kind in NOTICE_KINDS:
            job = notice_job(run, kind)
            if job is None:
                job = jobs.submit("rent_run.notices", {"kind": kind, "run_id": run.id}, run.approved_by_id)
            queued.append(job)
    return queued


@jobs.handler("rent_run.compute", label=_l("年次家賃決定の計算"))
def _compute_job(job, report):
    run = RentRun.get_or_none(RentRun.id == jobs.params_of(job).get("run_id"))
    if run is None:
        raise jobs.JobError(text_of(_l("年次処理が見つかりません。")))
    return compute_pending(run, report=report)


@jobs.handler("rent_run.approve", label=_l("年次家賃決定の承認"))
def _approve_job(job, report):
    run = RentRun.get_or_none(RentRun.id == jobs.params_of(job).get("run_id"))
    if run is None:
        raise jobs.JobError(text_of(_l("年次処理が見つかりません。")))
    run = approve_pending(run, report=report)
    queue_notices(run)
    return run


@jobs.handler("rent_run.notices", label=_l("年次家賃決定の通知書"))
def _notices_job(job, report):
    params = jobs.params_of(job)
    run = RentRun.get_or_none(RentRun.id == params.get("run_id"))
    kind = params.get("kind")
    if run is None or kind not in NOTICE_KINDS:
        raise jobs.JobError(text_of(_l("年次処理が見つかりません。")))
    issued = None
    if _has_pages(run, kind):
        from services import rent_notices

        issued = notices.issue_run(
            kind,
            run.fiscal_year,
            rent_notices.pages(run, kind),
            run.approved_by_id,
            report,
            job=job,
        )
    _mark_issued(run, job)
    return issued


def _has_pages(run: RentRun, kind: str) -> bool:
    decisions_of_run = RentDecision.select().where(
        (RentDecision.run == run.id) & (RentDecision.state == "approved")
    )
    if kind == "rent_decision":
        return decisions_of_run.exists()
    if kind == "over_income":
        return (
            RentRunItem.select()
            .where(
                (RentRunItem.run == run.id)
                & RentRunItem.resident_three_years
                & RentRunItem.decision.is_null(False)
            )
            .exists()
        )
    return decisions_of_run.where(RentDecision.rent_status == "high_income").exists()


def _mark_issued(run: RentRun, current: Job) -> None:
    others = [notice_job(run, kind) for kind in NOTICE_KINDS]
    if all(job is not None and (job.id == current.id or job.state == "done") for job in others):
        with db.atomic():
            RentRun.update(state="issued", updated_at=utcnow(), version=RentRun.version + 1).where(
                (RentRun.id == run.id) & (RentRun.state == "approved")
            ).execute()


def notice_runs(run: RentRun) -> dict[str, object]:
    """The NoticeRun issued for each kind (by the run's notice jobs), when issued."""
    from models import NoticeRun

    found = {}
    for kind in NOTICE_KINDS:
        job = notice_job(run, kind)
        if job is not None:
            issued = NoticeRun.get_or_none((NoticeRun.job == job.id) & NoticeRun.file_sha256.is_null(False))
            found[kind] = (job, issued)
    return found


def runs(limit: int = 20) -> list[RentRun]:
    """The latest runs, newest first."""
    return list(RentRun.select().order_by(RentRun.fiscal_year.desc(), RentRun.id.desc()).limit(limit))


def user_name(user_id: int | None) -> str:
    user = User.get_or_none(User.id == user_id) if user_id else None
    return user.display_name if user else ""


def fiscal_label(fiscal_year: int) -> str:
    return f"{wareki.fiscal_year_label(fiscal_year)}({fiscal_year}年度)"
