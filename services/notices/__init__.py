"""Notices (帳票): one PDF per run, a notice per household, each notice logged with its document number.

The services that send notices (the income-declaration cycle, the yearly rent run, certifications,
arrears, disclosure) build ``NoticePage`` values and call ``issue_run``, usually from a background job
(services.jobs):

    pages = [notices.NoticePage("rent_decision", h.id, notices.address_of(h), "令和8年度 家賃決定通知書",
                                [notices.Paragraph(…), notices.Table([("家賃", "38,600円")]), …],
                                subject_table="rent_decision", subject_id=d.id) for h, d in …]
    run = notices.issue_run("rent_decision", 2026, pages, actor_id, report, job=job)

``issue_run`` works in three steps, so nothing is half-written and no lock is held while the PDF is
laid out: (1) one short transaction reserves the run and numbers every notice; (2) the PDF is
written to ``instance/notices/<run id>.pdf`` (mode 0600, through a temporary file); (3) one short
transaction records the pages, the file's SHA-256 and the audit entry. If (2) fails the reservation
is removed; a run whose step (3) never happened (the process died) has no SHA-256, cannot be
downloaded, and is removed when its job runs again.

Document numbers: ``<era letter><era year>-<kind>-<six-digit sequence>``, e.g. ``R8-家決-000123``:
one sequence per kind and 年度 of issue (the 年度 of the date printed on the notice), starting at 1
each April. Numbers are taken under a lock (SQLite's write lock, a PostgreSQL advisory lock) and the
database keeps them unique. The numbers of a run that never completed were never issued (nobody
could download its file) and are taken again by the next run.

No notice carries a My Number: every text of every page is checked before anything is written.
The PDF files are kept ``NOTICE_FILE_RETENTION_YEARS`` (5) years, then ``flask notices purge``
deletes them; the log of each notice issued (the Notice rows) stays with the household's file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import fn

from extensions import db, is_sqlite
from models import Estate, Household, Notice, NoticeRun, Person, Tenancy, Unit, User
from models.base import utcnow
from models.housing import Building
from models.notices import NOTICE_KINDS
from rules.filters import today_tokyo
from rules.wareki import era_of
from services import audit
from services.notices.blocks import Addressee, Block, Grid, Note, NoticePage, Paragraph, Steps, Table
from services.notices.pdf import Sender, Sheet, render

__all__ = [
    "Addressee",
    "Block",
    "Grid",
    "Note",
    "NoticePage",
    "Paragraph",
    "Steps",
    "Table",
    "address_of",
    "issue_run",
]

# The kind's part of a document number (two characters, as 文書番号 abbreviate).
DOCUMENT_CODES = {
    "income_declaration": "収申",
    "declaration_reminder": "申督",
    "rent_decision": "家決",
    "over_income": "超認",
    "high_income": "高認",
    "eviction": "明請",
    "demand": "督促",
    "urge": "催告",
    "transfer_failure": "振不",
    "disclosure_decision": "開決",
}
KIND_LABELS = dict(NOTICE_KINDS)
PG_LOCK_ID = 0x6E6F74696365  # pg_advisory_xact_lock key serialising document numbers ("notice")
IDEOGRAPHIC_SPACE = "\u3000"


class RunUnavailable(LookupError):
    """The run does not exist, is not complete, or its file was deleted or altered (the view answers 404/410)."""

    def __init__(self, message, gone: bool = False) -> None:
        self.message = message
        self.gone = gone
        super().__init__(message)


# --- addresses ------------------------------------------------------------------------------------------


def _head_of(household_id: int) -> Person | None:
    current = Person.select().where((Person.household == household_id) & Person.member_to.is_null())
    return current.order_by(Person.is_head.desc(), Person.id).first()


def _latest_tenancy(household_id: int) -> Tenancy | None:
    return (
        Tenancy.select(Tenancy, Unit, Building, Estate)
        .join(Unit)
        .join(Building)
        .join(Estate)
        .where(Tenancy.household == household_id)
        .order_by((Tenancy.status == "active").desc(), Tenancy.move_in_date.desc(), Tenancy.id.desc())
        .first()
    )


def unit_address(unit: Unit) -> tuple[str | None, str]:
    """(postal code, address) of a dwelling: the estate's address, then 団地名 n号棟 m号室."""
    building = unit.building
    estate = building.estate
    place = f"{estate.name}{building.number}号棟{unit.room_number}号室"
    return estate.postal_code, f"{estate.address}{IDEOGRAPHIC_SPACE}{place}"


def address_of(household: Household | int) -> Addressee:
    """Where the household's notices go: the 送付先 if one is recorded, else its dwelling.

    The name is the 送付先宛名 when the 送付先 names one, else the head's (名義人; the first current
    member when there is no head), with 様. A household that has moved out without a 送付先 is written
    to at its head's recorded address when there is one, else at the last dwelling. ValueError when
    the household has nobody to address.
    """
    if not isinstance(household, Household):
        household = Household.get_by_id(household)
    head = _head_of(household.id)
    if household.mail_address:
        name = household.mail_name or (head.name if head else None)
        if not name:
            raise ValueError("the household has no member and its 送付先 names nobody")
        return Addressee(household.mail_postal_code, household.mail_address, f"{name} 様")
    if head is None:
        raise ValueError("the household has no current member to address")
    tenancy = _latest_tenancy(household.id)
    if (tenancy is None or tenancy.status != "active") and head.address:
        return Addressee(head.postal_code, head.address, f"{head.name} 様")
    if tenancy is None:
        raise ValueError("the household has no dwelling and no address")
    code, address = unit_address(tenancy.unit)
    return Addressee(code, address, f"{head.name} 様")


# --- numbering ------------------------------------------------------------------------------------------


def fiscal_year_of(day: dt.date) -> int:
    """The 年度 of a day (April to March)."""
    return day.year if day.month >= 4 else day.year - 1


def document_prefix(kind: str, issued_on: dt.date) -> str:
    """R8-家決- for a 家賃決定通知書 issued in 令和8年度."""
    fiscal_year = fiscal_year_of(issued_on)
    end = dt.date(fiscal_year, 12, 31)  # a 年度 takes the era in force at the end of its calendar year
    era = era_of(end)
    return f"{era.letter}{fiscal_year - era.start.year + 1}-{DOCUMENT_CODES[kind]}-"


def _lock_numbers() -> None:
    if not is_sqlite():  # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE)
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_ID,))


def _next_numbers(kind: str, issued_on: dt.date, count: int) -> list[str]:
    prefix = document_prefix(kind, issued_on)
    last = Notice.select(fn.MAX(Notice.document_no)).where(Notice.document_no.startswith(prefix)).scalar()
    start = int(last[len(prefix) :]) + 1 if last else 1
    return [f"{prefix}{number:06d}" for number in range(start, start + count)]


# --- files ----------------------------------------------------------------------------------------------


def storage_dir() -> Path:
    """instance/notices, created owner-only."""
    path = Path(current_app.instance_path) / "notices"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def file_path(run: NoticeRun) -> Path:
    """Where the run's PDF lives."""
    return storage_dir() / f"{int(run.id)}.pdf"


def sender() -> Sender:
    """The sender block printed on every notice, from the configuration."""
    config = current_app.config
    return Sender(
        name=config["NOTICE_SENDER"],
        office=f"{config['CITY_NAME']} {config['OFFICE_NAME']}",
        postal_code=config.get("NOTICE_OFFICE_POSTAL_CODE"),
        address=config["NOTICE_OFFICE_ADDRESS"],
        phone=config["NOTICE_OFFICE_PHONE"],
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_pdf(
    path: Path, sheets: list[Sheet], issued_on: dt.date, title: str, report
) -> tuple[int, list[int]]:
    partial = path.with_name(path.name + ".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            result = render(stream, sheets, sender=sender(), issued_on=issued_on, title=title, report=report)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return result


# --- issuing --------------------------------------------------------------------------------------------


def _check(kind: str, pages: list[NoticePage]) -> None:
    if kind not in KIND_LABELS:
        raise ValueError(f"unknown notice kind {kind!r}")
    if not pages:
        raise ValueError("a notice run needs at least one page")
    for page in pages:
        if not isinstance(page, NoticePage):
            raise TypeError("pages are notices.NoticePage values")
        if page.kind != kind:
            raise ValueError("every page of a run is of the run's kind")
    # A 12-digit 住宅コード or 世帯番号 can pass the check digit by chance (one in ten): those are the
    # file's own identifiers, printed on purpose; any other number that passes it refuses the run.
    candidates = set().union(*(audit.my_number_candidates(list(page.texts())) for page in pages))
    if candidates:
        known = {
            u.housing_code for u in Unit.select(Unit.housing_code).where(Unit.housing_code.in_(candidates))
        }
        known |= {
            h.household_no
            for h in Household.select(Household.household_no).where(Household.household_no.in_(candidates))
        }
        if candidates - known:
            raise ValueError("a notice must never carry a My Number")


def _household_numbers(pages: list[NoticePage]) -> dict[int, str]:
    ids = sorted({page.household_id for page in pages if page.household_id is not None})
    numbers: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        numbers.update(
            Household.select(Household.id, Household.household_no).where(Household.id.in_(chunk)).tuples()
        )
    return numbers


def _reserve(kind, fiscal_year, pages, actor, issued_on, job) -> tuple[NoticeRun, list[str]]:
    with db.atomic():
        _lock_numbers()
        if job is not None:  # a resumed job: what its earlier attempt reserved was never issued
            unfinished = (
                (NoticeRun.job == job.id) & (NoticeRun.kind == kind) & NoticeRun.file_sha256.is_null()
            )
            for stale in NoticeRun.select().where(unfinished):
                _discard(stale)
        run = NoticeRun.create(kind=kind, fiscal_year=fiscal_year, created_by=actor, pages=0, job=job)
        numbers = _next_numbers(kind, issued_on, len(pages))
        rows = [
            {
                "run": run.id,
                "kind": kind,
                "household": page.household_id,
                "person": page.person_id,
                "fiscal_year": fiscal_year,
                "document_no": number,
                "issued_on": issued_on,
                "issued_by": actor.id,
                "subject_table": page.subject_table,
                "subject_id": page.subject_id,
            }
            for page, number in zip(pages, numbers, strict=True)
        ]
        for start in range(0, len(rows), 500):
            Notice.insert_many(rows[start : start + 500]).execute()
    return run, numbers


def _discard(run: NoticeRun) -> None:
    """Remove a run that was never completed: its reserved notices, its file, the run itself."""
    with db.atomic():
        Notice.delete().where(Notice.run == run.id).execute()
        NoticeRun.delete().where(NoticeRun.id == run.id).execute()
    path = storage_dir() / f"{int(run.id)}.pdf"
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".part").unlink(missing_ok=True)


def issue_run(
    kind: str,
    fiscal_year: int | None,
    pages: Iterable[NoticePage],
    actor_id: int,
    report: Callable[[int, int], None] | None = None,
    *,
    job=None,
    issued_on: dt.date | None = None,
    **context,
) -> NoticeRun:
    """Issue pages as one run: number and log each notice, write the PDF, return the NoticeRun.

    kind: a code of NOTICE_KINDS (every page has it); fiscal_year: the 年度 the notices are about;
    actor_id: who issues them (the job's submitter in a job); report(done, total): progress while
    the PDF is laid out. job: the background job issuing the run, so that the job run again after
    an interruption returns the run of this kind it already issued instead of issuing it twice. issued_on: the
    date printed (today in Japan by default). context: session_ref, ip for the audit entry.

    Call it outside any transaction of the caller's. ValueError (nothing written) for an unknown
    kind, no pages, a page of another kind, or a text holding a My Number.
    """
    if job is not None:
        issued = NoticeRun.get_or_none(
            (NoticeRun.job == job.id) & (NoticeRun.kind == kind) & NoticeRun.file_sha256.is_null(False)
        )
        if issued is not None:
            return issued
    pages = list(pages)
    _check(kind, pages)
    issued_on = issued_on or today_tokyo()
    actor = User.get_by_id(actor_id)
    references = _household_numbers(pages)
    run, numbers = _reserve(kind, fiscal_year, pages, actor, issued_on, job)
    sheets = [
        Sheet(
            page,
            number,
            f"世帯番号 {references[page.household_id]}" if page.household_id in references else None,
        )
        for page, number in zip(pages, numbers, strict=True)
    ]
    try:
        page_count, first_pages = _write_pdf(file_path(run), sheets, issued_on, KIND_LABELS[kind], report)
        digest = _sha256(file_path(run))
        context.pop("actor", None)
        with db.atomic():
            now = utcnow()
            NoticeRun.update(pages=page_count, file_sha256=digest, updated_at=now).where(
                NoticeRun.id == run.id
            ).execute()
            for number, first in zip(numbers, first_pages, strict=True):
                Notice.update(page=first, updated_at=now).where(Notice.document_no == number).execute()
            audit.record(
                "notice.issue",
                actor=actor,
                target_table="notice_run",
                target_ids=[run.id],
                reason=f"{kind}: {len(pages)}通 {page_count}枚",
                **context,
            )
    except BaseException:
        _discard(run)
        raise
    current_app.logger.info(
        "notice run %s issued: %s, %s notices, %s pages", run.id, kind, len(pages), page_count
    )
    return NoticeRun.get_by_id(run.id)


# --- reading --------------------------------------------------------------------------------------------


def runs(page: int = 1, per_page: int = 50) -> tuple[list[NoticeRun], int]:
    """Completed runs, newest first, with their issuer and number of notices; and how many there are."""
    notices = Notice.select(fn.COUNT(Notice.id)).where(Notice.run == NoticeRun.id)
    query = (
        NoticeRun.select(NoticeRun, User, notices.alias("notice_count"))
        .join(User, on=(NoticeRun.created_by == User.id))
        .where(NoticeRun.file_sha256.is_null(False))
        .order_by(NoticeRun.id.desc())
    )
    return list(query.paginate(page, per_page)), query.count()


def run_file(user, run_id, **context) -> tuple[NoticeRun, Path]:
    """The run's PDF for user to download, audited as an access to the personal data it holds.

    RunUnavailable when there is no such completed run, its file is gone (retention) or no longer
    matches the SHA-256 recorded when it was issued. The entry is flagged 支援措置対象 when the run
    holds a notice to a household under a DV/stalking support measure.
    """
    from services.access import DV_FLAG

    context.pop("actor", None)
    run = NoticeRun.get_or_none((NoticeRun.id == run_id) & NoticeRun.file_sha256.is_null(False))
    if run is None:
        raise RunUnavailable(_l("該当する帳票は見つかりません。"))
    path = file_path(run)
    if run.file_removed_at is not None or not path.exists():
        raise RunUnavailable(_l("この帳票のファイルは保存期間を過ぎたため削除されています。"), gone=True)
    if _sha256(path) != run.file_sha256:
        current_app.logger.error("notice run %s: the file does not match its recorded SHA-256", run.id)
        audit.record(
            "notice.download",
            actor=user,
            target_table="notice_run",
            target_ids=[run.id],
            outcome="failed",
            reason="file altered",
            **context,
        )
        raise RunUnavailable(
            _l("この帳票のファイルは発行時の内容と一致しないため表示できません。"), gone=True
        )
    protected = (
        Notice.select()
        .join(Household, on=(Notice.household == Household.id))
        .where((Notice.run == run.id) & Household.support_measure)
        .exists()
    )
    audit.record(
        "notice.download",
        actor=user,
        target_table="notice_run",
        target_ids=[run.id],
        reason=DV_FLAG if protected else None,
        **context,
    )
    return run, path


def purge_expired(today: dt.date | None = None) -> int:
    """Delete the PDFs of runs older than NOTICE_FILE_RETENTION_YEARS; how many (the log stays)."""
    today = today or today_tokyo()
    years = int(current_app.config["NOTICE_FILE_RETENTION_YEARS"])
    try:
        limit = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        limit = today.replace(year=today.year - years, day=28)
    expired = NoticeRun.select().where(
        (NoticeRun.created_at < dt.datetime.combine(limit, dt.time())) & NoticeRun.file_removed_at.is_null()
    )
    removed = 0
    for run in expired:
        with db.atomic():
            NoticeRun.update(file_removed_at=utcnow()).where(NoticeRun.id == run.id).execute()
            audit.record(
                "notice.file_removed", target_table="notice_run", target_ids=[run.id], reason="retention"
            )
        file_path(run).unlink(missing_ok=True)
        removed += 1
    return removed
