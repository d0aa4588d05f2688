"""PDF notices: a page per household, the Japanese font embedded, 和暦 date, name and title in the text,
each notice logged with a unique number, never a My Number, the file kept owner-only, its download
audited and refused to the roles that may not read it."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import stat
import subprocess

import pytest
from pypdf import PdfReader

from extensions import db
from models import AuditEntry, Job, Notice, NoticeRun, Person, User, utcnow
from rules import mynumber as mynumber_rules
from services import jobs, mynumber, notices
from services.vault import keyring_for
from tests.factories import make_building, make_estate, make_household, make_person, make_tenancy, make_unit

ISSUED = dt.date(2026, 7, 1)
TITLE = "令和8年度 家賃決定通知書"


@pytest.fixture
def staff(database):
    return User.create(login_id="notice-staff", display_name="職員 帳票", role="staff")


@pytest.fixture
def city(database):
    """Three households of one estate; the first head has a My Number registered."""
    estate = make_estate(
        name="市営宮前平住宅", address="川崎市宮前区宮前平三丁目12番1号", postal_code="2160006"
    )
    building = make_building(estate=estate, number="3")
    households = []
    for index, name in enumerate(["山田 太郎", "鈴木 花子", "佐藤 次郎"]):
        household = make_household()
        make_person(household=household, name=name)
        make_tenancy(household=household, unit=make_unit(building=building, room_number=f"{101 + index}"))
        households.append(household)
    return households


def _pages(households, extra_rows: int = 0, kind: str = "rent_decision"):
    pages = []
    for household in households:
        blocks = [
            notices.Paragraph("令和8年4月1日からのあなたの家賃を次のとおり決定したので通知します。"),
            notices.Table([("決定家賃（月額）", "38,600円"), ("収入区分", "区分3")], heading="1 決定の内容"),
            notices.Steps(
                ["家賃算定基礎額 45,400円", "45,400円 × 0.923077 × 0.922 = 38,638.9円"], heading="2 算定"
            ),
            notices.Note("不服がある場合は審査請求をすることができます。"),
        ]
        if extra_rows:
            rows = [(f"令和7年{n}月分", "住宅使用料", f"{38600 + n:,}円") for n in range(extra_rows)]
            blocks.append(notices.Table(rows, heading="3 明細", header=("年月", "種別", "金額")))
        pages.append(
            notices.NoticePage(
                kind,
                household.id,
                notices.address_of(household),
                TITLE,
                blocks,
                subject_table="rent_decision",
            )
        )
    return pages


def _reader(run) -> PdfReader:
    return PdfReader(io.BytesIO(notices.file_path(run).read_bytes()))


def _text(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def test_a_run_is_one_pdf_with_a_page_per_household_and_each_notice_logged(app, city, staff):
    run = notices.issue_run("rent_decision", 2026, _pages(city), staff.id, issued_on=ISSUED)
    reader = _reader(run)
    assert len(reader.pages) == run.pages == 3
    texts = _text(reader)
    for text, name in zip(texts, ["山田 太郎", "鈴木 花子", "佐藤 次郎"], strict=True):
        assert "令和8年7月1日" in text and TITLE in text
        assert f"{name} 様" in text
        assert "〒216-0006" in text and "市営宮前平住宅3号棟" in text
        assert "38,600円" in text and "川崎市長" in text
    logged = list(Notice.select().where(Notice.run == run.id).order_by(Notice.id))
    assert [n.document_no for n in logged] == ["R8-家決-000001", "R8-家決-000002", "R8-家決-000003"]
    assert [n.page for n in logged] == [1, 2, 3]
    assert {(n.household_id, n.issued_by_id, n.issued_on, n.kind) for n in logged} == {
        (h.id, staff.id, ISSUED, "rent_decision") for h in city
    }
    for text, notice in zip(texts, logged, strict=True):
        assert notice.document_no in text
    path = notices.file_path(run)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run.file_sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    entry = AuditEntry.get(AuditEntry.action == "notice.issue")
    assert (entry.actor_id, entry.target_table, json.loads(entry.target_ids)) == (
        staff.id,
        "notice_run",
        [run.id],
    )


def test_the_japanese_fonts_are_embedded_as_truetype(app, city, staff):
    run = notices.issue_run("rent_decision", 2026, _pages(city[:1]), staff.id, issued_on=ISSUED)
    embedded = set()
    for page in _reader(run).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                embedded.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert {"BIZUDMincho-Regular", "BIZUDGothic-Bold"} <= embedded


def test_poppler_renders_the_notice_without_font_complaints(app, city, staff, tmp_path, pdftoppm):
    run = notices.issue_run("rent_decision", 2026, _pages(city[:1]), staff.id, issued_on=ISSUED)
    done = subprocess.run(
        [pdftoppm, "-r", "30", "-png", str(notices.file_path(run)), str(tmp_path / "page")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def test_a_long_notice_continues_on_further_pages_and_the_next_household_starts_a_new_one(app, city, staff):
    run = notices.issue_run(
        "rent_decision", 2026, _pages(city[:2], extra_rows=70), staff.id, issued_on=ISSUED
    )
    logged = list(Notice.select().where(Notice.run == run.id).order_by(Notice.id))
    assert logged[0].page == 1 and logged[1].page > 2  # the first notice took several pages
    assert run.pages == 2 * (logged[1].page - 1)
    texts = _text(_reader(run))
    continuation = texts[1]
    assert "山田 太郎 様" in continuation and "R8-家決-000001（続き）" in continuation
    assert "年月" in continuation  # the table's header is repeated
    assert f"1 / {logged[1].page - 1}" in texts[0]
    assert "鈴木 花子 様" in texts[logged[1].page - 1]


def test_numbers_run_on_per_kind_and_fiscal_year(app, city, staff):
    notices.issue_run("rent_decision", 2026, _pages(city[:2]), staff.id, issued_on=ISSUED)
    second = notices.issue_run("rent_decision", 2026, _pages(city[2:]), staff.id, issued_on=ISSUED)
    other = notices.issue_run(
        "over_income", 2026, _pages(city[:1], kind="over_income"), staff.id, issued_on=ISSUED
    )
    march = notices.issue_run(
        "rent_decision", 2025, _pages(city[:1]), staff.id, issued_on=dt.date(2027, 3, 31)
    )  # still 令和8年度
    april = notices.issue_run(
        "rent_decision", 2027, _pages(city[:1]), staff.id, issued_on=dt.date(2027, 4, 1)
    )
    numbers = {run.id: [n.document_no for n in run.notices] for run in (second, other, march, april)}
    assert numbers[second.id] == ["R8-家決-000003"]
    assert numbers[other.id] == ["R8-超認-000001"]
    assert numbers[march.id] == ["R8-家決-000004"]
    assert numbers[april.id] == ["R9-家決-000001"]


def test_address_of_prefers_the_mailing_address_then_the_dwelling(app, city, staff):
    household = city[0]
    addressee = notices.address_of(household)
    assert addressee == notices.Addressee(
        "2160006", "川崎市宮前区宮前平三丁目12番1号\u3000市営宮前平住宅3号棟101号室", "山田 太郎 様"
    )
    household.mail_name, household.mail_postal_code, household.mail_address = (
        "山田 一郎",
        "2100001",
        "川崎市川崎区本町1-1",
    )
    household.save()
    assert notices.address_of(household) == notices.Addressee(
        "2100001", "川崎市川崎区本町1-1", "山田 一郎 様"
    )


def test_a_moved_out_household_is_written_to_at_its_heads_address(app, staff):
    household = make_household(status="moved_out")
    make_person(household=household, name="高橋 三郎", postal_code="2130001", address="川崎市高津区溝口1-1-1")
    make_tenancy(household=household, status="ended", move_out_date=dt.date(2025, 3, 31))
    assert notices.address_of(household) == notices.Addressee(
        "2130001", "川崎市高津区溝口1-1-1", "高橋 三郎 様"
    )


def test_a_notice_never_carries_a_my_number(app, city, staff):
    number = mynumber_rules.generate(random.Random(11))
    head = city[0].members.where(Person.is_head).get()
    mynumber.store(head, number, checked_against_document=True, keyring=keyring_for(app.config), actor=staff)
    run = notices.issue_run("rent_decision", 2026, _pages(city), staff.id, issued_on=ISSUED)
    raw = notices.file_path(run).read_bytes()
    text = "".join(_text(_reader(run)))
    assert number not in re.sub(r"\s", "", text) and number.encode() not in raw
    # A caller that put the number in a text by mistake is refused before anything is written.
    leaking = _pages(city[:1])[0]
    leaking = notices.NoticePage(
        "rent_decision",
        leaking.household_id,
        leaking.addressee,
        TITLE,
        [notices.Paragraph(f"個人番号 {number}")],
    )
    before = (NoticeRun.select().count(), Notice.select().count(), sorted(notices.storage_dir().iterdir()))
    with pytest.raises(ValueError, match="My Number"):
        notices.issue_run("rent_decision", 2026, [leaking], staff.id, issued_on=ISSUED)
    assert (
        NoticeRun.select().count(),
        Notice.select().count(),
        sorted(notices.storage_dir().iterdir()),
    ) == before


def test_a_housing_code_that_happens_to_pass_the_check_digit_still_prints(app, city, staff):
    # One 12-digit 住宅コード in ten passes the My Number check digit; it is the file's own identifier.
    code = mynumber_rules.generate(random.Random(5))
    unit = city[0].tenancies.get().unit
    unit.housing_code = code
    unit.save()
    page = _pages(city[:1])[0]
    page.blocks.append(notices.Table([("住宅コード", code)]))
    run = notices.issue_run("rent_decision", 2026, [page], staff.id, issued_on=ISSUED)
    assert code in re.sub(r"\s", "", "".join(_text(_reader(run))))
    # The same kind of number that is not one of the file's identifiers is refused.
    stray = _pages(city[:1])[0]
    stray.blocks.append(notices.Paragraph(mynumber_rules.generate(random.Random(6))))
    with pytest.raises(ValueError, match="My Number"):
        notices.issue_run("rent_decision", 2026, [stray], staff.id, issued_on=ISSUED)


def test_a_failure_while_writing_leaves_nothing_behind(app, city, staff, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(notices, "render", broken)
    with pytest.raises(OSError):
        notices.issue_run("rent_decision", 2026, _pages(city), staff.id, issued_on=ISSUED)
    assert NoticeRun.select().count() == 0 and Notice.select().count() == 0
    assert list(notices.storage_dir().iterdir()) == []


def test_bad_runs_are_refused(app, city, staff):
    with pytest.raises(ValueError):
        notices.issue_run("rent_decision", 2026, [], staff.id)
    with pytest.raises(ValueError):
        notices.issue_run("no_such_kind", 2026, _pages(city[:1]), staff.id)
    with pytest.raises(ValueError):
        notices.issue_run("over_income", 2026, _pages(city[:1]), staff.id)  # a page of another kind
    assert NoticeRun.select().count() == 0


@jobs.handler("test_rent_notices", label="家賃決定通知書の作成")
def _rent_notices(job, report):
    from models import Household

    households = list(Household.select().where(Household.id.in_(jobs.params_of(job)["households"])))
    return notices.issue_run("rent_decision", 2026, _pages(households), job.created_by_id, report, job=job)


def test_a_job_issues_a_run_once_even_when_it_runs_again(app, city, staff):
    job = jobs.submit("test_rent_notices", {"households": [h.id for h in city]}, staff.id)
    jobs.run_pending()
    job = Job.get_by_id(job.id)
    run = jobs.result_of(job)
    assert job.state == "done" and isinstance(run, NoticeRun) and (job.done, job.total) == (3, 3)
    # The worker died after the run was issued but before the job was marked done: resumed, it
    # returns the same run instead of numbering the notices again.
    Job.update(state="running", heartbeat_at=utcnow() - dt.timedelta(hours=1)).where(
        Job.id == job.id
    ).execute()
    jobs.run_pending()
    assert jobs.result_of(Job.get_by_id(job.id)).id == run.id
    assert Notice.select().count() == 3


def test_a_resumed_job_discards_what_its_interrupted_attempt_reserved(app, city, staff):
    job = jobs.submit("test_rent_notices", {"households": [h.id for h in city]}, staff.id)
    half = NoticeRun.create(kind="rent_decision", fiscal_year=2026, created_by=staff, job=job.id)
    Notice.create(
        run=half,
        kind="rent_decision",
        document_no="R8-家決-000001",
        issued_on=ISSUED,
        issued_by=staff,
        household=city[0],
    )
    jobs.run_pending()
    run = jobs.result_of(Job.get_by_id(job.id))
    assert NoticeRun.select().count() == 1 and run.file_sha256 is not None
    numbers = [(n.document_no, n.household_id) for n in Notice.select().order_by(Notice.id)]
    assert numbers == [(f"R8-家決-{i:06d}", h.id) for i, h in enumerate(city, start=1)]


# --- the screens ----------------------------------------------------------------------------------------


def _issue(app, households_count: int = 2):
    with app.app_context(), db.connection_context():
        user = User.create(login_id="issuer", display_name="職員 発行", role="staff")
        estate = make_estate(postal_code="2100001", address="川崎市川崎区本町1-1")
        households = []
        for _ in range(households_count):
            household = make_household()
            make_person(household=household)
            make_tenancy(household=household, unit=make_unit(building=make_building(estate=estate)))
            households.append(household)
        return notices.issue_run("rent_decision", 2026, _pages(households), user.id, issued_on=ISSUED).id


def test_the_download_sends_the_pdf_uncached_and_is_audited(app, staff_client):
    run_id = _issue(app)
    response = staff_client.get(f"/staff/notices/{run_id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    with app.app_context(), db.connection_context():
        entry = AuditEntry.get(AuditEntry.action == "notice.download")
        assert (entry.actor_id, entry.target_table) == (staff_client.user.id, "notice_run")
        assert json.loads(entry.target_ids) == [run_id] and entry.outcome == "allowed"
        assert entry.reason is None


def test_the_download_of_a_run_holding_a_protected_household_is_flagged(app, staff_client):
    run_id = _issue(app)
    with app.app_context(), db.connection_context():
        household = Notice.select().where(Notice.run == run_id).first().household
        household.support_measure = True
        household.save()
    assert staff_client.get(f"/staff/notices/{run_id}.pdf").status_code == 200
    with app.app_context(), db.connection_context():
        assert AuditEntry.get(AuditEntry.action == "notice.download").reason == "支援措置対象"


def test_the_download_is_refused_to_contractors_and_auditors(app, contractor_client, auditor_client):
    run_id = _issue(app)
    for client in (contractor_client, auditor_client):
        assert client.get(f"/staff/notices/{run_id}.pdf").status_code == 403
        assert client.get("/staff/notices/").status_code == 403
    with app.app_context(), db.connection_context():
        assert not AuditEntry.select().where(AuditEntry.action == "notice.download").exists()
        assert AuditEntry.select().where(AuditEntry.action == "access.denied").count() >= 4


def test_a_missing_run_is_404_and_a_purged_or_altered_file_is_410(app, staff_client):
    assert staff_client.get("/staff/notices/999999.pdf").status_code == 404
    run_id = _issue(app)
    with app.app_context(), db.connection_context():
        path = notices.file_path(NoticeRun.get_by_id(run_id))
    path.write_bytes(path.read_bytes() + b"%")
    altered = staff_client.get(f"/staff/notices/{run_id}.pdf")
    assert altered.status_code == 410 and "一致しない" in altered.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        NoticeRun.update(created_at=utcnow() - dt.timedelta(days=6 * 366)).where(
            NoticeRun.id == run_id
        ).execute()
        assert notices.purge_expired() == 1
        assert notices.purge_expired() == 0
        assert NoticeRun.get_by_id(run_id).file_removed_at is not None
        assert Notice.select().where(Notice.run == run_id).count() == 2  # the log stays
    assert not path.exists()
    gone = staff_client.get(f"/staff/notices/{run_id}.pdf")
    assert gone.status_code == 410 and "保存期間" in gone.get_data(as_text=True)


def test_the_runs_list_shows_what_was_printed_when_and_by_whom(app, staff_client):
    run_id = _issue(app, households_count=2)
    html = staff_client.get("/staff/notices/").get_data(as_text=True)
    assert "家賃決定通知書" in html and "職員 発行" in html and "令和8年度" in html
    assert f'href="/staff/notices/{run_id}.pdf"' in html
    row = re.search(r"<tr>\s*<td>[^<]*</td>\s*<td>家賃決定通知書</td>.*?</tr>", html, re.S).group(0)
    assert re.findall(r'<td class="numeric">(\d+)</td>', row) == ["2", "2"]
