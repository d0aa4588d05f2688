"""The yearly 収入申告 cycle: starting it is idempotent (one declaration per household and year), the
pre-filled forms come out as one PDF with a page per household (members, 和暦, never a My Number),
reminders go to non-declarers only and mark them 督促済, bulk 未提出 never touches a 提出済 declaration,
the deadline comes from the masters, and only city staff reach the pages."""

from __future__ import annotations

import datetime as dt
import io
import random
import re

import pytest
from pypdf import PdfReader

from extensions import db
from models import AuditEntry, IncomeDeclaration, Job, MasterParameter, Notice, NoticeRun, User
from rules import mynumber as mynumber_rules
from services import declaration_cycle as cycle
from services import declarations, jobs, mynumber, notices
from services.vault import keyring_for
from tests.conftest import csrf_token_of
from tests.factories import make_household, make_person, make_tenancy

FY = 2026  # incomes of 2025; the deadline is 31 July 2026 (declaration.month = 7)
SENT_DAY = dt.date(2026, 7, 1)
AFTER = dt.date(2026, 8, 20)


def _city(count: int = 3) -> list[dict]:
    """Households in residence, each a head and a child; plus one that has moved out (no form)."""
    made = []
    for n in range(count):
        household = make_household()
        make_tenancy(household)
        head = make_person(
            household,
            name=f"川崎 太郎{n}",
            name_kana=f"カワサキ タロウ{n}",
            birth_date=dt.date(1960 + n, 5, 1),
        )
        child = make_person(
            household, name=f"川崎 次郎{n}", name_kana="カワサキ ジロウ", kana_key="カワサキジロウ",
            relation="child", is_head=False, birth_date=dt.date(2001, 3, 2),
        )  # fmt: skip
        made.append({"household": household, "head": head, "child": child})
    gone = make_household(status="moved_out")
    make_tenancy(gone, status="ended", move_out_date=dt.date(2020, 3, 31))
    make_person(gone, name="退去 一郎", member_to=dt.date(2020, 3, 31))
    return made


@pytest.fixture
def staff(database):
    return User.create(login_id="cycle-staff", display_name="職員 申告", role="staff")


def _decl(household) -> IncomeDeclaration:
    return IncomeDeclaration.get(
        (IncomeDeclaration.household == household.id) & (IncomeDeclaration.fiscal_year == FY)
    )


def _pdf_text(run: NoticeRun) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(notices.file_path(run).read_bytes()))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_deadline_follows_the_masters(database):
    assert cycle.deadline(FY) == dt.date(2026, 7, 31)
    MasterParameter.create(code="declaration.month", valid_from=dt.date(2026, 4, 1), value="6")
    assert cycle.deadline(FY) == dt.date(2026, 6, 30)
    assert cycle.deadline(FY - 1) == dt.date(2025, 7, 31)  # the row in force on 1 April of that year
    assert cycle.reminder_deadline(dt.date(2026, 12, 5)) == dt.date(2027, 1, 31)


def test_start_twice_gives_one_declaration_per_household(database, staff):
    city = _city(3)
    # A household that already declared keeps its declaration untouched.
    declared = city[0]["household"]
    IncomeDeclaration.create(
        household=declared, fiscal_year=FY, income_year=FY - 1, status="submitted", submitted_on=SENT_DAY
    )
    first = cycle.start(FY, actor=staff, today=SENT_DAY)
    assert first.created == 2 and first.job is not None
    again = cycle.start(FY, actor=staff, today=SENT_DAY + dt.timedelta(days=3))
    assert again.created == 0 and again.job is None
    rows = list(IncomeDeclaration.select().where(IncomeDeclaration.fiscal_year == FY))
    assert len(rows) == 3  # the moved-out household gets none
    assert {r.household_id for r in rows} == {c["household"].id for c in city}
    assert _decl(declared).status == "submitted" and _decl(declared).sent_on is None
    for entry in city[1:]:
        row = _decl(entry["household"])
        assert (row.status, row.sent_on, row.income_year) == ("sent", SENT_DAY, FY - 1)
    logged = AuditEntry.get(AuditEntry.action == "income_declaration.cycle_start")
    assert sorted(map(int, re.findall(r"\d+", logged.target_ids))) == sorted(
        c["household"].id for c in city[1:]
    )
    # A household that moves in later is picked up by the next start, and only it.
    newcomer = make_household()
    make_tenancy(newcomer)
    make_person(newcomer, name="新規 入居")
    assert cycle.start(FY, actor=staff, today=SENT_DAY + dt.timedelta(days=10)).created == 1


def test_start_refuses_a_year_whose_incomes_are_not_over(database, staff):
    _city(1)
    with pytest.raises(cycle.CycleRefused):
        cycle.start(2027, actor=staff, today=dt.date(2026, 11, 1))
    assert IncomeDeclaration.select().count() == 0


def test_a_failed_submit_of_the_forms_job_writes_no_declaration(database, staff, monkeypatch):
    """送付済 declarations without their print job would never be printed: both or neither."""
    _city(2)
    real_submit = jobs.submit

    def failing_submit(*args, **kwargs):
        real_submit(*args, **kwargs)  # the job row is written, then the submit fails
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr(cycle.jobs, "submit", failing_submit)
    with pytest.raises(RuntimeError):
        cycle.start(FY, actor=staff, today=SENT_DAY)
    assert IncomeDeclaration.select().count() == 0 and Job.select().count() == 0
    monkeypatch.setattr(cycle.jobs, "submit", real_submit)
    again = cycle.start(FY, actor=staff, today=SENT_DAY)  # the start can simply be tried again
    assert again.created == 2 and again.job is not None


def test_forms_pdf_has_a_page_per_household_and_never_a_my_number(app, database, staff):
    city = _city(3)
    number = mynumber_rules.generate(random.Random(11))
    mynumber.store(
        city[1]["child"], number, checked_against_document=True, keyring=keyring_for(app.config), actor=staff
    )
    started = cycle.start(FY, actor=staff, today=SENT_DAY)
    assert jobs.run_pending() == 1
    job = Job.get_by_id(started.job.id)
    assert job.state == "done", job.error
    run = jobs.result_of(job)
    assert isinstance(run, NoticeRun) and run.kind == "income_declaration" and run.fiscal_year == FY
    pages, text = _pdf_text(run)
    assert pages >= 3
    flat = re.sub(r"\s+", "", text)
    assert "収入申告書" in flat
    assert "川崎太郎1" in flat and "カワサキジロウ" in flat
    assert "平成13年3月2日" in flat  # the child's birth date in 和暦
    assert "24歳" in flat  # age on 31 December 2025
    assert "令和8年7月31日" in flat  # the deadline
    assert "給与収入" in flat and "公的年金等収入" in flat and "税情報" in flat
    assert number not in flat and number not in text
    assert not re.search(r"\d{4}\s?\d{4}\s?\d{4}", text)  # no 12-digit run anywhere
    logged = list(Notice.select().where(Notice.run == run.id))
    assert sorted(n.subject_id for n in logged) == sorted(_decl(c["household"]).id for c in city)
    assert job.done == job.total


def test_reminders_go_to_non_declarers_only(database, staff):
    city = _city(4)
    cycle.start(FY, actor=staff, today=SENT_DAY)
    jobs.run_pending()
    submitted, not_submitted, sent, investigated = (_decl(c["household"]) for c in city)
    IncomeDeclaration.update(status="submitted", source="self", submitted_on=dt.date(2026, 7, 20)).where(
        IncomeDeclaration.id == submitted.id
    ).execute()
    IncomeDeclaration.update(status="not_submitted").where(IncomeDeclaration.id == not_submitted.id).execute()
    cycle.set_status(
        investigated.id, investigated.version, "investigation", "税務署へ照会（8月1日）", actor=staff
    )

    with pytest.raises(cycle.CycleRefused):  # not before the deadline
        cycle.issue_reminders(FY, actor=staff, today=dt.date(2026, 7, 31))
    job = cycle.issue_reminders(FY, actor=staff, today=AFTER)
    jobs.run_pending()
    job = Job.get_by_id(job.id)
    assert job.state == "done", job.error
    run = jobs.result_of(job)
    assert run.kind == "declaration_reminder"
    reminded = {n.subject_id for n in Notice.select().where(Notice.run == run.id)}
    assert reminded == {not_submitted.id, sent.id}
    pages, text = _pdf_text(run)
    assert pages == 2 and "督促" in text
    assert _decl(city[1]["household"]).status == "reminded"
    assert _decl(city[2]["household"]).reminded_on == AFTER
    assert _decl(city[0]["household"]).status == "submitted"
    assert _decl(city[3]["household"]).status == "investigation"
    # Nobody left to remind.
    with pytest.raises(cycle.CycleRefused):
        cycle.issue_reminders(FY, actor=staff, today=AFTER)


def test_bulk_not_submitted_leaves_submitted_alone(database, staff):
    city = _city(3)
    cycle.start(FY, actor=staff, today=SENT_DAY)
    first, second, third = (_decl(c["household"]) for c in city)
    IncomeDeclaration.update(status="submitted", source="self", submitted_on=dt.date(2026, 7, 20)).where(
        IncomeDeclaration.id == first.id
    ).execute()
    with pytest.raises(cycle.CycleRefused):
        cycle.mark_not_submitted(FY, actor=staff, today=dt.date(2026, 7, 31))
    # Picked rows: the submitted one and one read at an old version are left alone.
    stale = (third.id, third.version)
    IncomeDeclaration.update(version=IncomeDeclaration.version + 1).where(
        IncomeDeclaration.id == third.id
    ).execute()
    result = cycle.mark_not_submitted(
        FY, [(first.id, first.version + 1), (second.id, second.version), stale], actor=staff, today=AFTER
    )
    assert (result.changed, result.skipped) == (1, 2)
    assert [_decl(c["household"]).status for c in city] == ["submitted", "not_submitted", "sent"]
    # Everything: the remaining 送付済 only.
    result = cycle.mark_not_submitted(FY, actor=staff, today=AFTER)
    assert (result.changed, result.skipped) == (1, 0)
    assert [_decl(c["household"]).status for c in city] == ["submitted", "not_submitted", "not_submitted"]
    assert AuditEntry.select().where(AuditEntry.action == "income_declaration.not_submitted").count() == 2


def test_status_with_a_note(database, staff):
    city = _city(2)
    cycle.start(FY, actor=staff, today=SENT_DAY)
    row = _decl(city[0]["household"])
    with pytest.raises(cycle.CycleRefused) as refused:
        cycle.set_status(row.id, row.version, "tax_certified", "  ", actor=staff)
    assert refused.value.field == "note"
    with pytest.raises(cycle.ConflictError):
        cycle.set_status(row.id, row.version + 5, "tax_certified", "市民税 6月抽出", actor=staff)
    saved = cycle.set_status(row.id, row.version, "tax_certified", "令和8年度 市民税 6月抽出", actor=staff)
    assert (saved.status, saved.source, saved.status_note) == (
        "tax_certified",
        "tax",
        "令和8年度 市民税 6月抽出",
    )
    entry = AuditEntry.get(AuditEntry.action == "income_declaration.tax_certified")
    assert entry.target_ids == f"[{city[0]['household'].id}]"
    # Figures are keyed in the entry screen; once there are figures, the cycle never changes them.
    with pytest.raises(cycle.CycleRefused):
        cycle.set_status(saved.id, saved.version, "investigation", "照会", actor=staff)


# --- the pages -----------------------------------------------------------------------------------------


class Inside:
    def __init__(self, app):
        self.app = app

    def __enter__(self):
        self.ctx = self.app.app_context()
        self.ctx.push()
        self.conn = db.connection_context()
        self.conn.__enter__()

    def __exit__(self, *exc):
        self.conn.__exit__(*exc)
        self.ctx.pop()


def test_staff_start_the_cycle_through_the_pages(app, staff_client):
    fy = declarations.current_fiscal_year()
    with Inside(app):
        city = _city(2)
    page = staff_client.get("/staff/declarations/")
    assert page.status_code == 200
    assert f"/staff/declarations/{fy}" in page.get_data(as_text=True)
    confirm = staff_client.get(f"/staff/declarations/{fy}/start")
    assert confirm.status_code == 200 and 'data-testid="to-send">2<' in confirm.get_data(as_text=True)
    # Without the CSRF token nothing happens.
    assert staff_client.post(f"/staff/declarations/{fy}/start").status_code in (400, 422)
    token = csrf_token_of(staff_client)
    done = staff_client.post(f"/staff/declarations/{fy}/start", data={"csrf_token": token})
    assert done.status_code == 303 and "/staff/jobs/" in done.headers["Location"]
    with Inside(app):
        assert IncomeDeclaration.select().where(IncomeDeclaration.fiscal_year == fy).count() == 2
        jobs.run_pending()
    year = staff_client.get(f"/staff/declarations/{fy}")
    body = year.get_data(as_text=True)
    assert year.status_code == 200
    assert city[0]["household"].household_no in body
    assert f"/staff/household/{city[0]['household'].id}/income/{fy}/edit" in body
    assert "収入申告書（PDF）" in body
    fragment = staff_client.get(f"/staff/declarations/{fy}?status=sent", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert 'id="declaration-list"' in fragment.get_data(as_text=True)
    filtered = staff_client.get(f"/staff/declarations/{fy}?status=submitted")
    assert city[0]["household"].household_no not in filtered.get_data(as_text=True)
    with Inside(app):
        assert AuditEntry.select().where(AuditEntry.action == "income_declaration.list").count() >= 2


def test_bulk_form_leaves_submitted_alone(app, staff_client):
    fy = declarations.current_fiscal_year() - 1  # last year's cycle: its deadline has always passed
    with Inside(app):
        city = _city(2)
        user = User.get_by_id(staff_client.user.id)
        cycle.start(fy, actor=user, today=dt.date(fy, 7, 1))
        first, second = (
            IncomeDeclaration.get(
                (IncomeDeclaration.household == c["household"].id) & (IncomeDeclaration.fiscal_year == fy)
            )
            for c in city
        )
        IncomeDeclaration.update(status="submitted", source="self", submitted_on=dt.date(fy, 7, 9)).where(
            IncomeDeclaration.id == first.id
        ).execute()
    token = csrf_token_of(staff_client)
    response = staff_client.post(
        f"/staff/declarations/{fy}/not-submitted",
        data={
            "csrf_token": token,
            "scope": "selected",
            "pick": [f"{first.id}:{first.version}", f"{second.id}:{second.version}"],
        },
    )
    assert response.status_code == 303
    with Inside(app):
        assert IncomeDeclaration.get_by_id(first.id).status == "submitted"
        assert IncomeDeclaration.get_by_id(second.id).status == "not_submitted"


def test_status_form_422_beside_the_field(app, staff_client):
    fy = declarations.current_fiscal_year()
    with Inside(app):
        city = _city(1)
        cycle.start(fy, actor=User.get_by_id(staff_client.user.id), today=dt.date(fy, 7, 1))
        row = IncomeDeclaration.get(IncomeDeclaration.household == city[0]["household"].id)
    url = f"/staff/declarations/{fy}/{row.id}/status"
    assert staff_client.get(url).status_code == 200
    token = csrf_token_of(staff_client)
    bad = staff_client.post(
        url, data={"csrf_token": token, "status": "investigation", "note": "", "version": row.version}
    )
    assert bad.status_code == 422 and "備考を入力してください" in bad.get_data(as_text=True)
    ok = staff_client.post(
        url,
        data={"csrf_token": token, "status": "investigation", "note": "税務署へ照会", "version": row.version},
    )
    assert ok.status_code == 303
    stale = staff_client.post(
        url, data={"csrf_token": token, "status": "tax_certified", "note": "抽出", "version": row.version}
    )
    assert stale.status_code in (409, 422)
    with Inside(app):
        assert IncomeDeclaration.get_by_id(row.id).status == "investigation"


def _routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff.declarations."):
            continue
        url = rule.rule.replace("<int:fiscal_year>", str(FY)).replace("<int:declaration_id>", "1")
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            found.append((method, url))
    return found


@pytest.mark.parametrize("who", ["contractor_client", "auditor_client"])
def test_contractor_and_auditor_are_refused_everywhere(app, request, who):
    client = request.getfixturevalue(who)
    routes = _routes(app)
    assert len(routes) >= 9
    for method, url in routes:
        response = client.open(url, method=method, data={"csrf_token": csrf_token_of(client)})
        assert response.status_code == 403, (method, url, response.status_code)
