"""The yearly 収入申告 cycle (SPEC §3.3): forms sent in July, declarations followed up, non-declarers reminded.

    declaration_cycle.start(2026, actor=…)            # a 送付済 declaration for every household in residence
                                                      # that has none, and a job printing their 収入申告書
    declaration_cycle.mark_not_submitted(2026, picks)  # after the deadline: 送付済 → 未提出
    declaration_cycle.issue_reminders(2026, actor=…)  # a job: 収入申告督促状 for 送付済・未提出, then 督促済
    declaration_cycle.set_status(declaration_id, version, "investigation", note)   # 法34条調査 / 税情報で認定

What it builds on: services.declarations stays the one place that computes and saves a declaration's
figures (the entry screen in the household file); the cycle only creates the empty declarations and
moves the status of those that hold no figures (送付済, 未提出, 督促済). A declaration with figures
(提出済, 税情報で認定, 法34条調査) is never changed by a bulk action.

- The deadline is the last day of the month the masters name (``declaration.month``, 7: 条例 毎年7月)
  of the fiscal year; 未提出 and reminders are possible only after it. A reminder asks for the
  declaration by the end of the month after the reminder is issued.
- 法34条調査 and 税情報で認定 are set with a note (what was asked of the tax office, or which 市民税
  extract the figures come from); the figures themselves are keyed in the entry screen from the
  answer or the extract (source 法34条調査 / 税情報照会). The matching has no 市民税 import yet, so
  nothing is read from a file here.
- Every change: one transaction with its audit entries, filed under the household. Single changes
  name the version the person read (ConflictError); bulk changes name the version each row was read
  with and skip a row someone changed in between (it is counted, never overwritten).
- Starting a cycle is idempotent: one declaration per household and fiscal year (a unique index),
  so a second start creates only those still missing (households that moved in since).
- Printing is a background job (services.jobs) that issues one PDF through services.notices, a page
  per household. A notice never carries a My Number: the form has no box for it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from peewee import fn

from extensions import db, is_sqlite
from models import Building, Estate, Household, IncomeDeclaration, Person, Tenancy, Unit
from models.base import ConflictError, utcnow
from models.income import DECLARATION_STATUSES
from models.person import RELATIONS
from rules import wareki
from rules.filters import today_tokyo
from services import access, audit, declarations, jobs, masters, search

__all__ = [
    "CHANGEABLE",
    "NON_DECLARERS",
    "ConflictError",
    "CycleRefused",
    "Filters",
    "Page",
    "Row",
    "YearSummary",
    "deadline",
    "fiscal_years",
    "issue_reminders",
    "list_rows",
    "mark_not_submitted",
    "reminder_deadline",
    "set_status",
    "start",
    "year_summary",
]

PER_PAGE = 50
AUDIT_CHUNK = 500  # households named by one audit entry of a cycle start
FORMS_JOB = "declaration_forms"
REMINDERS_JOB = "declaration_reminders"
STATUS_CODES = tuple(code for code, _ in DECLARATION_STATUSES)
NON_DECLARERS = ("sent", "not_submitted")  # the reminder's addressees
CHANGEABLE = ("sent", "not_submitted", "reminded")  # statuses without figures: the cycle may move them
SET_BY_NOTE = {"investigation": "investigation", "tax_certified": "tax"}  # status → source
MAX_NOTE = 500
MIN_FISCAL_YEAR = 2000
PG_LOCK_ID = 0x64656373  # pg_advisory_xact_lock key serialising starts of the cycle ("decs")


class CycleRefused(ValueError):
    """What was asked cannot be done now (before the deadline, nothing to do, bad note): the message says why."""

    def __init__(self, message, field: str | None = None) -> None:
        self.message = message  # lazy: read in the request that shows it
        self.field = field
        super().__init__(field or "refused")


# --- the calendar of the cycle ---------------------------------------------------------------------


def declaration_month(fiscal_year: int) -> int:
    """The month of the year's declarations (masters ``declaration.month`` in force on 1 April)."""
    month = int(masters.parameter("declaration.month", masters.fiscal_year_start(fiscal_year)))
    if not 1 <= month <= 12:
        raise masters.MasterMissing(f"declaration.month {month} is not a month")
    return month


def deadline(fiscal_year: int) -> dt.date:
    """The last day to declare: the end of the declaration month within the fiscal year (April-March)."""
    month = declaration_month(fiscal_year)
    year = fiscal_year if month >= 4 else fiscal_year + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def reminder_deadline(issued_on: dt.date) -> dt.date:
    """A reminder asks for the declaration by the end of the month after it is issued."""
    year, month = (issued_on.year + 1, 1) if issued_on.month == 12 else (issued_on.year, issued_on.month + 1)
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def age_reference_day(fiscal_year: int) -> dt.date:
    """The day ages are counted on (masters ``age_reference.month_day``, 1231: 31 December of the
    income year)."""
    value = int(masters.parameter("age_reference.month_day", masters.fiscal_year_start(fiscal_year)))
    return dt.date(fiscal_year - 1, value // 100, value % 100)


def _deadline_or_none(fiscal_year: int) -> dt.date | None:
    try:
        return deadline(fiscal_year)
    except masters.MasterMissing:
        return None


def _require_overdue(fiscal_year: int, today: dt.date) -> dt.date:
    try:
        due = deadline(fiscal_year)
    except masters.MasterMissing:
        raise CycleRefused(_l("申告月（declaration.month）がマスタに登録されていません。")) from None
    if today <= due:
        raise CycleRefused(_l("申告期限（%(date)s）を過ぎてから行えます。", date=wareki.to_wareki(due)))
    return due


# --- who is in the cycle -----------------------------------------------------------------------------


def in_residence():
    """The households living in a unit now (an active tenancy): the cycle's addressees."""
    return Tenancy.select(Tenancy.household).where(Tenancy.status == "active")


def missing(fiscal_year: int):
    """Households in residence without a declaration for the fiscal year (a query of ids)."""
    have = IncomeDeclaration.select(IncomeDeclaration.household).where(
        IncomeDeclaration.fiscal_year == fiscal_year
    )
    return (
        Household.select(Household.id)
        .where(Household.id.in_(in_residence()) & Household.id.not_in(have))
        .order_by(Household.id)
    )


# --- what the pages show ------------------------------------------------------------------------------


@dataclass
class YearSummary:
    """A fiscal year of the cycle: declarations per status, the deadline, households still to send to."""

    fiscal_year: int
    counts: dict[str, int]
    deadline: dt.date | None
    to_send: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def overdue(self, today: dt.date) -> bool:
        return self.deadline is not None and today > self.deadline


def _counts(where=None) -> dict[int, Counter]:
    query = IncomeDeclaration.select(
        IncomeDeclaration.fiscal_year, IncomeDeclaration.status, fn.COUNT(IncomeDeclaration.id)
    ).group_by(IncomeDeclaration.fiscal_year, IncomeDeclaration.status)
    if where is not None:
        query = query.where(where)
    result: dict[int, Counter] = {}
    for year, status, count in query.tuples():
        result.setdefault(year, Counter())[status] = count
    return result


def fiscal_years(today: dt.date | None = None) -> list[YearSummary]:
    """Every fiscal year with declarations, and the current one, newest first (counts are aggregates)."""
    today = today or today_tokyo()
    current = declarations.current_fiscal_year(today)
    counts = _counts()
    years = sorted(set(counts) | {current}, reverse=True)
    summaries = [YearSummary(y, dict(counts.get(y, {})), _deadline_or_none(y)) for y in years]
    for summary in summaries:
        if summary.fiscal_year == current:
            summary.to_send = missing(current).count()
    return summaries


def year_summary(fiscal_year: int) -> YearSummary:
    """One fiscal year: counts per status, the deadline, households in residence without a declaration."""
    counts = _counts(IncomeDeclaration.fiscal_year == fiscal_year).get(fiscal_year, {})
    return YearSummary(
        fiscal_year, dict(counts), _deadline_or_none(fiscal_year), missing(fiscal_year).count()
    )


@dataclass(frozen=True)
class Filters:
    """The list's filters: an estate, a status, only the overdue (no declaration received after the deadline)."""

    estate_id: int | None = None
    status: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class Row:
    """One household's declaration in the list."""

    declaration_id: int
    version: int
    household_id: int
    household_no: str
    head_name: str | None
    estate_name: str | None
    building: str | None
    room: str | None
    status: str
    sent_on: dt.date | None
    submitted_on: dt.date | None
    reminded_on: dt.date | None
    seirei_getsushu: int | None
    status_note: str | None

    @property
    def changeable(self) -> bool:
        return self.status in CHANGEABLE


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.per_page, self.total)


def _overdue_condition(fiscal_year: int, today: dt.date):
    due = _deadline_or_none(fiscal_year)
    if due is None or today <= due:
        return None
    return IncomeDeclaration.status.in_(("sent", "not_submitted", "reminded"))


def list_rows(
    user, fiscal_year: int, filters: Filters, *, page: int = 1, today: dt.date | None = None
) -> Page:
    """A page of the fiscal year's declarations of the households user may see, by estate and room."""
    today = today or today_tokyo()
    head = Person.alias("head")
    conditions = [
        IncomeDeclaration.fiscal_year == fiscal_year,
        IncomeDeclaration.household.in_(access.visible_households(user)),
    ]
    if filters.status:
        conditions.append(IncomeDeclaration.status == filters.status)
    if filters.estate_id:
        conditions.append(Estate.id == filters.estate_id)
    if filters.overdue:
        overdue = _overdue_condition(fiscal_year, today)
        if overdue is None:
            return Page([], 0, 1)
        conditions.append(overdue)
    selected = IncomeDeclaration.select(
        IncomeDeclaration.id,
        IncomeDeclaration.version,
        IncomeDeclaration.household,
        IncomeDeclaration.status,
        IncomeDeclaration.sent_on,
        IncomeDeclaration.submitted_on,
        IncomeDeclaration.reminded_on,
        IncomeDeclaration.seirei_getsushu,
        IncomeDeclaration.status_note,
        Household.household_no,
        head.name.alias("head_name"),
        Estate.name.alias("estate_name"),
        Building.number.alias("building"),
        Unit.room_number.alias("room"),
    ).join(Household, on=(IncomeDeclaration.household == Household.id))
    query = search.join_head(search.join_current_unit(selected), head).where(*conditions)
    total = query.count()
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    ordered = query.order_by(
        fn.COALESCE(Unit.housing_code, ""), Household.household_no, IncomeDeclaration.id
    ).paginate(page, PER_PAGE)
    rows = [
        Row(
            declaration_id=r["id"],
            version=r["version"],
            household_id=r["household"],
            household_no=r["household_no"],
            head_name=r["head_name"],
            estate_name=r["estate_name"],
            building=r["building"],
            room=r["room"],
            status=r["status"],
            sent_on=r["sent_on"],
            submitted_on=r["submitted_on"],
            reminded_on=r["reminded_on"],
            seirei_getsushu=r["seirei_getsushu"],
            status_note=r["status_note"],
        )
        for r in ordered.dicts()
    ]
    return Page(rows, total, page)


def audit_list(fiscal_year: int, page: Page, filters: Filters, **context) -> None:
    """The list shows households, names and 政令月収: one entry naming the households shown."""
    with db.atomic():
        audit.record(
            "income_declaration.list",
            target_table="household",
            target_ids=[row.household_id for row in page.rows],
            fields=[
                "household.household_no",
                "person.name",
                "income_declaration.status",
                "income_declaration.seirei_getsushu",
            ],
            reason=(
                f"fiscal_year={fiscal_year}; page={page.page}; status={filters.status or ''}; "
                f"estate={filters.estate_id or ''}; overdue={int(filters.overdue)}"
            ),
            **context,
        )


# --- starting the cycle --------------------------------------------------------------------------------


@dataclass
class Started:
    """What a start did: declarations created (ids first..last) and the job printing their forms."""

    fiscal_year: int
    created: int
    job: object | None


def start(
    fiscal_year: int,
    *,
    actor,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
) -> Started:
    """Create a 送付済 declaration (sent_on today) for every household in residence that has none for the
    fiscal year, and submit the job that prints their pre-filled 収入申告書. Idempotent: nothing is
    created for a household that has one; with nothing created, no job is submitted."""
    today = today or today_tokyo()
    if not MIN_FISCAL_YEAR <= fiscal_year <= declarations.latest_fiscal_year(today):
        raise CycleRefused(
            _l("%(year)s年分の収入はまだ申告できません。", year=fiscal_year - 1)
            if fiscal_year > declarations.latest_fiscal_year(today)
            else _l("この年度の収入申告は開始できません。")
        )
    _deadline_or_refuse(fiscal_year)
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    now = utcnow()
    with db.atomic():
        _lock_cycle()
        hids = [hid for (hid,) in missing(fiscal_year).tuples()]
        if not hids:
            return Started(fiscal_year, 0, None)
        first_id = None
        for chunk_start in range(0, len(hids), AUDIT_CHUNK):
            chunk = hids[chunk_start : chunk_start + AUDIT_CHUNK]
            IncomeDeclaration.insert_many(
                [
                    {
                        "household": hid,
                        "fiscal_year": fiscal_year,
                        "income_year": fiscal_year - 1,
                        "status": "sent",
                        "sent_on": today,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                    for hid in chunk
                ]
            ).execute()
            audit.record(
                "income_declaration.cycle_start",
                target_table="household",
                target_ids=chunk,
                fields=["income_declaration.status", "income_declaration.sent_on"],
                changes={
                    "income_declaration.status": [None, "sent"],
                    "income_declaration.sent_on": [None, today.isoformat()],
                },
                reason=f"fiscal_year={fiscal_year}; households={len(chunk)}",
                **context,
            )
        created = IncomeDeclaration.select(fn.MIN(IncomeDeclaration.id), fn.MAX(IncomeDeclaration.id)).where(
            (IncomeDeclaration.fiscal_year == fiscal_year)
            & IncomeDeclaration.household.in_(hids)
            & (IncomeDeclaration.sent_on == today)
        )
        first_id, last_id = created.tuples().get()
        # In the same transaction: declarations marked 送付済 with no job to print their forms would
        # never be printed (a second start finds nothing missing), so a failed submit writes neither.
        job = jobs.submit(
            FORMS_JOB,
            {"fiscal_year": fiscal_year, "first_id": first_id, "last_id": last_id, "sent_on": today},
            actor.id if actor is not None else None,
            session_ref=session_ref,
            ip=ip,
        )
    return Started(fiscal_year, len(hids), job)


def _lock_cycle() -> None:
    """Serialise two starts of the cycle (SQLite transactions already hold the write lock)."""
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_ID,))


def _deadline_or_refuse(fiscal_year: int) -> dt.date:
    try:
        return deadline(fiscal_year)
    except masters.MasterMissing:
        raise CycleRefused(_l("申告月（declaration.month）がマスタに登録されていません。")) from None


# --- status changes --------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    """A bulk change: how many changed, how many were skipped (changed by someone, or with figures)."""

    changed: int
    skipped: int


def _audit_status(declaration: IncomeDeclaration, before: dict, after: dict, context: dict, action: str):
    changes = {
        f"income_declaration.{name}": [
            before[name].isoformat() if isinstance(before[name], dt.date) else before[name],
            after[name].isoformat() if isinstance(after[name], dt.date) else after[name],
        ]
        for name in after
        if before[name] != after[name]
    }
    return audit.record(
        action,
        target_table="household",
        target_ids=[declaration.household_id],
        fields=list(changes),
        changes=changes,
        reason=f"income_declaration {declaration.id}",
        **context,
    )


def _move(
    declaration: IncomeDeclaration, expected_version: int, values: dict, context: dict, action: str
) -> bool:
    """Update one declaration if it still has expected_version and a status without figures; audited."""
    before = {name: getattr(declaration, name) for name in values}
    changed = (
        IncomeDeclaration.update(**values, version=IncomeDeclaration.version + 1, updated_at=utcnow())
        .where(
            (IncomeDeclaration.id == declaration.id)
            & (IncomeDeclaration.version == expected_version)
            & IncomeDeclaration.status.in_(CHANGEABLE)
        )
        .execute()
    )
    if changed != 1:
        return False
    _audit_status(declaration, before, values, context, action)
    return True


def mark_not_submitted(
    fiscal_year: int,
    picks: Iterable[tuple[int, int]] | None = None,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
) -> BulkResult:
    """After the deadline: 送付済 → 未提出, for the picked declarations [(id, version read)] or, picks None,
    for every 送付済 declaration of the year. Anything else (提出済, 督促済 …) or a row changed since it
    was read is left alone and counted as skipped."""
    today = today or today_tokyo()
    _require_overdue(fiscal_year, today)
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    changed = skipped = 0
    with db.atomic():
        query = IncomeDeclaration.select().where(IncomeDeclaration.fiscal_year == fiscal_year)
        if picks is None:
            wanted = None
            query = query.where(IncomeDeclaration.status == "sent")
        else:
            wanted = dict(picks)
            if not wanted:
                raise CycleRefused(_l("世帯を選んでください。"), field="picks")
            query = query.where(IncomeDeclaration.id.in_(list(wanted)))
        found = 0
        for declaration in query.order_by(IncomeDeclaration.id):
            found += 1
            expected = declaration.version if wanted is None else wanted[declaration.id]
            ok = declaration.status == "sent" and _move(
                declaration,
                expected,
                {"status": "not_submitted"},
                context,
                "income_declaration.not_submitted",
            )
            changed, skipped = (changed + 1, skipped) if ok else (changed, skipped + 1)
        if wanted is not None:
            skipped += len(wanted) - found
    return BulkResult(changed, skipped)


def set_status(
    declaration_id: int,
    expected_version: int,
    status: str,
    note: str,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> IncomeDeclaration:
    """法34条調査 or 税情報で認定 for a declaration without figures, with a note (what was asked of the tax
    office; the 市民税 extract the figures are keyed from). Source follows the status; the figures are
    keyed afterwards in the entry screen. ConflictError when the declaration changed since it was read;
    CycleRefused for another status, a missing note or a declaration that holds figures."""
    if status not in SET_BY_NOTE:
        raise CycleRefused(_l("一覧から選んでください。"), field="status")
    note = (note or "").strip()
    if not note:
        raise CycleRefused(
            _l("備考を入力してください（照会の内容、税情報の抽出ファイルなど）。"), field="note"
        )
    if len(note) > MAX_NOTE:
        raise CycleRefused(_l("備考は%(max)s文字以内で入力してください。", max=MAX_NOTE), field="note")
    if audit.contains_my_number(note):
        raise CycleRefused(_l("備考に個人番号を書かないでください。"), field="note")
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    with db.atomic():
        declaration = IncomeDeclaration.get_or_none(IncomeDeclaration.id == declaration_id)
        if declaration is None:
            raise CycleRefused(_l("収入申告が見つかりません。"))
        if declaration.version != expected_version:
            raise ConflictError(declaration, expected_version)
        if declaration.status not in CHANGEABLE:
            raise CycleRefused(
                _l(
                    "収入の申告がある世帯（提出済・税情報で認定・法34条調査）の状況は、収入申告の入力画面で変更します。"
                )
            )
        values = {"status": status, "source": SET_BY_NOTE[status], "status_note": note}
        if not _move(declaration, expected_version, values, context, f"income_declaration.{status}"):
            raise ConflictError(IncomeDeclaration.get_by_id(declaration_id), expected_version)
    return IncomeDeclaration.get_by_id(declaration_id)


# --- reminders ---------------------------------------------------------------------------------------------


def reminder_targets(fiscal_year: int):
    """The declarations a reminder goes to: 送付済 or 未提出 (nothing received), households in residence."""
    return IncomeDeclaration.select(IncomeDeclaration.id).where(
        (IncomeDeclaration.fiscal_year == fiscal_year)
        & IncomeDeclaration.status.in_(NON_DECLARERS)
        & IncomeDeclaration.household.in_(in_residence())
    )


def issue_reminders(
    fiscal_year: int,
    *,
    actor,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
):
    """After the deadline: submit the job that issues a 収入申告督促状 to every non-declarer of the year
    and marks them 督促済. CycleRefused before the deadline or when there is nobody to remind."""
    today = today or today_tokyo()
    _require_overdue(fiscal_year, today)
    last_id = reminder_targets(fiscal_year).select(fn.MAX(IncomeDeclaration.id)).scalar()
    if last_id is None:
        raise CycleRefused(_l("督促状を送る世帯（送付済・未提出）はありません。"))
    return jobs.submit(
        REMINDERS_JOB,
        {"fiscal_year": fiscal_year, "last_id": last_id, "issued_on": today},
        actor.id if actor is not None else None,
        session_ref=session_ref,
        ip=ip,
    )


# --- the notices -----------------------------------------------------------------------------------------


def _relation(code: str) -> str:
    return dict(RELATIONS).get(code, code or "")


@dataclass(frozen=True)
class Place:
    household_no: str
    unit: str


def _places(hids: list[int]) -> dict[int, Place]:
    query = search.join_current_unit(
        Household.select(
            Household.id,
            Household.household_no,
            Estate.name.alias("estate_name"),
            Building.number.alias("building"),
            Unit.room_number.alias("room"),
            Unit.housing_code.alias("code"),
        )
    ).where(Household.id.in_(hids))
    places = {}
    for r in query.dicts():
        unit = (
            f"{r['estate_name']} {r['building']}棟 {r['room']}号室（{r['code']}）" if r["estate_name"] else ""
        )
        places[r["id"]] = Place(r["household_no"], unit)
    return places


def _chunks(query, size: int = 200) -> Iterator[list[IncomeDeclaration]]:
    last = 0
    while True:
        batch = list(query.where(IncomeDeclaration.id > last).order_by(IncomeDeclaration.id).limit(size))
        if not batch:
            return
        yield batch
        last = batch[-1].id


BLANK_YEN = "円"
GAP = "\u00a0" * 4  # room to write a figure (a plain space would be collapsed in print)
BOX = "□"


def form_page(declaration: IncomeDeclaration, place: Place, members: list[Person], ctx: dict):
    """The pre-filled 収入申告書 of one household: who it is, the members on the reference day, empty
    columns for their incomes, the deduction boxes, remote dependents, the deadline, consent to the
    tax inquiry. No My Number anywhere (the person never writes it on this form either)."""
    from services import notices

    fy = declaration.fiscal_year
    income_year = fy - 1
    age_day = ctx["age_day"]
    household = declaration.household
    first, last = dt.date(income_year, 1, 1), dt.date(income_year, 12, 31)
    blocks = [
        notices.Paragraph(
            f"公営住宅法第16条第1項及び市営住宅条例の規定により、{wareki.to_wareki(first)}から"
            f"{wareki.to_wareki(last)}までの世帯全員の収入を記入し、{wareki.to_wareki(ctx['deadline'])}までに"
            "提出してください。"
        ),
        notices.Grid(
            heading=(
                f"1 世帯員（{wareki.to_wareki(ctx['reference_day'])}現在。異なるときは訂正してください。"
                f"年齢は{wareki.to_wareki(age_day)}現在）"
            ),
            header=(
                "氏名",
                "フリガナ",
                "続柄",
                "生年月日",
                "年齢",
                "障害者手帳",
                "寡婦・ひとり親",
                "扶養親族",
            ),
            widths=(15, 18, 6, 17, 6, 9, 20, 9),
            align=("left", "left", "center", "left", "right", "center", "center", "center"),
            rows=[
                (
                    person.name,
                    person.name_kana or "",
                    _relation(person.relation),
                    wareki.to_wareki(person.birth_date),
                    f"{wareki.age_on(person.birth_date, age_day)}歳",
                    f"{BOX}有",
                    f"{BOX}寡婦 {BOX}ひとり親",
                    BOX,
                )
                for person in members
            ],
        ),
        notices.Grid(
            heading=f"2 {wareki.to_wareki(first).split('年')[0]}年中の収入（源泉徴収票・確定申告書の金額）",
            header=("氏名", "給与収入", "公的年金等収入", "その他の所得", "非課税収入"),
            widths=(20, 20, 20, 20, 20),
            align=("left", "right", "right", "right", "right"),
            row_height=10,
            rows=[(person.name, BLANK_YEN, BLANK_YEN, BLANK_YEN, BLANK_YEN) for person in members],
        ),
        notices.Grid(
            heading="3 別居している扶養親族（遠隔地扶養親族）",
            header=("氏名", "続柄", "生年月日", "住所", "障害者手帳"),
            widths=(18, 8, 17, 45, 12),
            align=("left", "center", "left", "left", "center"),
            row_height=9,
            rows=[("", "", f"{GAP[:2]}年{GAP[:2]}月{GAP[:2]}日", "", f"{BOX}有")],
        ),
        notices.Paragraph(
            "【税情報の照会への同意】私及び世帯員は、収入の認定のため、市が市民税の課税情報を照会し、"
            "その結果を利用することに同意します。"
        ),
        notices.Grid(
            header=("申告日", "申告者（名義人）署名", "日中の連絡先（電話）"),
            widths=(26, 44, 30),
            align=("center", "left", "left"),
            row_height=11,
            rows=[(f"令和{GAP}年{GAP}月{GAP}日", "", "")],
        ),
        notices.Note(
            "源泉徴収票・確定申告書の控えなど収入を証明する書類の写しを添えてください。非課税収入（遺族年金・"
            "障害年金・失業給付など）は政令月収に含めません。申告がないときは近傍同種家賃となることがあります。"
        ),
    ]
    return notices.NoticePage(
        kind="income_declaration",
        household_id=household.id,
        addressee=notices.address_of(household),
        title=f"{wareki.fiscal_year_label(fy)} 収入申告書",
        blocks=blocks,
        subject_table="income_declaration",
        subject_id=declaration.id,
    )


def reminder_page(declaration: IncomeDeclaration, place: Place, ctx: dict):
    """The 収入申告督促状 of one household: the declaration not received, the new deadline, the consequence."""
    from services import notices

    fy = declaration.fiscal_year
    blocks = [
        notices.Paragraph(
            f"{wareki.fiscal_year_label(fy)}の収入申告書を{wareki.to_wareki(declaration.sent_on or ctx['deadline'])}"
            f"にお送りしましたが、提出期限の{wareki.to_wareki(ctx['deadline'])}を過ぎても提出が確認できません。"
            f"{wareki.to_wareki(ctx['reply_by'])}までに提出してください。"
        ),
        notices.Table(
            rows=[
                ("世帯番号", place.household_no),
                ("住宅", place.unit),
                (
                    "申告する収入",
                    f"{fy - 1}年（{wareki.to_wareki(dt.date(fy - 1, 1, 1)).split('年')[0]}年）分",
                ),
                ("提出期限", wareki.to_wareki(ctx["reply_by"])),
            ]
        ),
        notices.Paragraph(
            "期限までに申告がないときは、公営住宅法第16条第1項ただし書により、近傍同種の住宅の家賃"
            "（近傍同種家賃）を家賃とすることがあります。また、同法第34条により、市が官公署に収入の"
            "状況を照会することがあります。"
        ),
        notices.Note(
            "行き違いで既に提出された場合は、ご容赦ください。申告書を紛失したときは住宅課へご連絡ください。"
        ),
    ]
    return notices.NoticePage(
        kind="declaration_reminder",
        household_id=declaration.household_id,
        addressee=notices.address_of(declaration.household),
        title="収入申告書の提出について（督促）",
        blocks=blocks,
        subject_table="income_declaration",
        subject_id=declaration.id,
    )


def _job_pages(selection, total: int, report, make) -> Iterator:
    """The pages of the selected declarations, read in batches (progress: households read)."""
    done = 0
    for batch in _chunks(selection):
        hids = [d.household_id for d in batch]
        places = _places(hids)
        households = {h.id: h for h in Household.select().where(Household.id.in_(hids))}
        for declaration in batch:
            declaration.household = households[declaration.household_id]
            yield make(declaration, places.get(declaration.household_id, Place("", "")))
            done += 1
        report(done, total, "帳票の内容を作成しています")


def _rendering(report, total: int):
    """The PDF's progress: households laid out (the count starts again after the pages were read)."""

    def step(done: int, _pages_total: int) -> None:
        report(min(done, total), total, "PDFを作成しています")

    return step


@jobs.handler(FORMS_JOB, label=_l("収入申告書の印刷"))
def print_forms(job, report):
    """Print the 収入申告書 of the declarations a start created (ids first..last of the fiscal year)."""
    from services import notices

    params = jobs.params_of(job)
    fy = int(params["fiscal_year"])
    sent_on = dt.date.fromisoformat(params["sent_on"])
    selection = IncomeDeclaration.select().where(
        (IncomeDeclaration.fiscal_year == fy)
        & IncomeDeclaration.id.between(int(params["first_id"]), int(params["last_id"]))
        & (IncomeDeclaration.sent_on == sent_on)
    )
    total = selection.count()
    if not total:
        raise jobs.JobError("印刷する収入申告書はありません。")
    report(0, total, None)
    ctx = {
        "deadline": deadline(fy),
        "age_day": age_reference_day(fy),
        "reference_day": declarations.reference_day(fy, sent_on),
    }

    def make(declaration, place):
        members = declarations.declaration_members(declaration.household_id, ctx["reference_day"])
        return form_page(declaration, place, members, ctx)

    pages = _job_pages(selection, total, report, make)
    return notices.issue_run(
        "income_declaration",
        fy,
        pages,
        job.created_by_id,
        _rendering(report, total),
        job=job,
        issued_on=sent_on,
    )


@jobs.handler(REMINDERS_JOB, label=_l("収入申告督促状の発行"))
def send_reminders(job, report):
    """Issue the reminders, then mark the reminded declarations 督促済 (those still without a declaration)."""
    from models import Notice, User
    from services import notices

    params = jobs.params_of(job)
    fy = int(params["fiscal_year"])
    issued_on = dt.date.fromisoformat(params["issued_on"])
    selection = IncomeDeclaration.select().where(
        (IncomeDeclaration.id <= int(params["last_id"])) & IncomeDeclaration.id.in_(reminder_targets(fy))
    )
    total = selection.count()
    if not total:
        raise jobs.JobError("督促状を送る世帯（送付済・未提出）はありません。")
    report(0, total, None)
    ctx = {"deadline": deadline(fy), "reply_by": reminder_deadline(issued_on)}
    pages = _job_pages(selection, total, report, lambda d, place: reminder_page(d, place, ctx))
    run = notices.issue_run(
        "declaration_reminder",
        fy,
        pages,
        job.created_by_id,
        _rendering(report, total),
        job=job,
        issued_on=issued_on,
    )
    # Idempotent: the declarations named by the run's notices that still have nothing received.
    reminded = [
        sid
        for (sid,) in Notice.select(Notice.subject_id)
        .where((Notice.run == run.id) & (Notice.subject_table == "income_declaration"))
        .tuples()
    ]
    actor = User.get_or_none(User.id == job.created_by_id) if job.created_by_id else None
    context = {"actor": actor}
    for start_at in range(0, len(reminded), AUDIT_CHUNK):
        with db.atomic():
            for declaration in IncomeDeclaration.select().where(
                IncomeDeclaration.id.in_(reminded[start_at : start_at + AUDIT_CHUNK])
                & IncomeDeclaration.status.in_(NON_DECLARERS)
            ):
                _move(
                    declaration,
                    declaration.version,
                    {"status": "reminded", "reminded_on": issued_on},
                    context,
                    "income_declaration.reminded",
                )
    report(total, total, "督促済にしました")
    return run
