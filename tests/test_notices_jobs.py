"""Background jobs: progress and result, failures that stay with their job, stale jobs resumed, the
worker thread, the CLI worker and the job page (htmx polling until done)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest

from extensions import db
from models import AuditEntry, Job, Office, User, utcnow
from services import jobs

SEEN: dict[str, list] = {}


@jobs.handler("test_counting", label="テスト集計")
def _counting(job, report):
    """Three steps; after each report the row already holds the progress (its own transaction)."""
    params = jobs.params_of(job)
    SEEN["counting"] = []
    for done in range(1, params["steps"] + 1):
        report(done, params["steps"], f"{done}件目を処理しました")
        SEEN["counting"].append(Job.get_by_id(job.id).done)
    return Office.create(code=f"J{job.id}", name="一括処理の結果")


@jobs.handler("test_crashing")
def _crashing(job, report):
    report(1, 2)
    raise RuntimeError("山田 太郎 の処理で失敗")  # a message with personal data: never shown, never logged


@jobs.handler("test_refusing")
def _refusing(job, report):
    raise jobs.JobError("対象の年度の家賃算定表がありません。")


@jobs.handler("test_resumable")
def _resumable(job, report):
    SEEN.setdefault("resumed", []).append(job.attempts)
    report(1, 1)


@jobs.handler("test_overtaken")
def _overtaken(job, report):
    """On its first attempt another worker takes the job over (the heartbeat looked stale to it)."""
    SEEN.setdefault("overtaken", []).append(job.attempts)
    if job.attempts == 1:
        Job.update(heartbeat_at=utcnow() - dt.timedelta(hours=1)).where(Job.id == job.id).execute()
        seen = Job.select(Job.id, Job.state, Job.attempts).where(Job.id == job.id).get()
        assert jobs._claim(seen, utcnow()) is not None  # the second worker, attempt 2
        if not jobs.params_of(job).get("report", True):
            return None  # finishes without reporting again: only the final write is left to fence
        report(1, 2, "一回目の処理")
        SEEN["overtaken"].append("kept going")
    report(2, 2)
    return None


@pytest.fixture
def staff(database):
    return User.create(login_id="jobs-staff", display_name="職員 一", role="staff")


def test_a_job_reports_progress_and_keeps_its_result(database, staff):
    job = jobs.submit("test_counting", {"steps": 3}, staff.id)
    assert job.state == "queued"
    assert jobs.run_pending() == 1
    job = Job.get_by_id(job.id)
    assert (job.state, job.done, job.total) == ("done", 3, 3)
    assert SEEN["counting"] == [1, 2, 3]  # visible to others while the handler still ran
    assert job.message == "3件目を処理しました"
    assert job.finished_at is not None and job.attempts == 1
    result = jobs.result_of(job)
    assert isinstance(result, Office) and result.code == f"J{job.id}"
    entry = AuditEntry.get(AuditEntry.action == "job.submit")
    assert (entry.actor_id, json.loads(entry.target_ids)) == (staff.id, [job.id])
    assert jobs.run_pending() == 0  # nothing left


def test_a_failing_job_fails_alone_with_a_message_and_no_personal_data_in_the_log(database, staff, caplog):
    crashing = jobs.submit("test_crashing", {}, staff.id)
    refusing = jobs.submit("test_refusing", {}, staff.id)
    counting = jobs.submit("test_counting", {"steps": 1}, staff.id)
    with caplog.at_level(logging.INFO):
        assert jobs.run_pending() == 3
    crashing, refusing, counting = (Job.get_by_id(j.id) for j in (crashing, refusing, counting))
    assert crashing.state == "failed" and crashing.error.startswith(
        "処理中にエラーが発生したため中断しました。"
    )
    assert "山田" not in (crashing.error + (crashing.message or ""))
    assert refusing.state == "failed" and refusing.error == "対象の年度の家賃算定表がありません。"
    assert counting.state == "done"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged and "_crashing" in logged  # enough to find the bug
    assert "山田" not in logged and "Traceback" not in logged


def test_submit_refuses_an_unknown_kind_and_a_my_number_in_params(database, staff):
    from rules import mynumber

    with pytest.raises(ValueError):
        jobs.submit("no_such_kind", {}, staff.id)
    with pytest.raises(ValueError):
        jobs.submit(
            "test_counting", {"steps": 1, "note": mynumber.generate(__import__("random").Random(3))}, staff.id
        )
    assert Job.select().count() == 0


def test_a_running_job_whose_worker_died_is_resumed_and_a_live_one_is_left_alone(database, staff):
    long_ago = utcnow() - dt.timedelta(hours=1)
    dead = Job.create(
        kind="test_resumable", state="running", attempts=1, heartbeat_at=long_ago, created_by=staff
    )
    alive = Job.create(
        kind="test_resumable", state="running", attempts=1, heartbeat_at=utcnow(), created_by=staff
    )
    SEEN["resumed"] = []
    assert jobs.run_pending() == 1
    dead, alive = Job.get_by_id(dead.id), Job.get_by_id(alive.id)
    assert (dead.state, dead.attempts) == ("done", 2)
    assert SEEN["resumed"] == [2]
    assert alive.state == "running"  # its worker is still reporting: not taken over


def test_a_job_interrupted_too_often_is_failed_instead_of_resumed_again(database, staff):
    long_ago = utcnow() - dt.timedelta(hours=1)
    job = Job.create(
        kind="test_resumable",
        state="running",
        attempts=jobs.MAX_ATTEMPTS,
        heartbeat_at=long_ago,
        created_by=staff,
    )
    SEEN["resumed"] = []
    assert jobs.run_pending() == 0
    job = Job.get_by_id(job.id)
    assert job.state == "failed" and job.error.startswith("処理が繰り返し中断されたため停止しました。")
    assert SEEN["resumed"] == []


def test_two_workers_never_claim_the_same_job(database, staff):
    job = jobs.submit("test_resumable", {}, staff.id)
    seen = Job.get_by_id(job.id)
    assert jobs._claim(seen, utcnow()) is not None
    assert jobs._claim(seen, utcnow()) is None  # the second worker read the same row: too late


@pytest.mark.parametrize("reports", [True, False])
def test_a_worker_whose_job_was_taken_over_stops_writing_to_it(database, staff, reports):
    job = jobs.submit("test_overtaken", {"report": reports}, staff.id)
    SEEN["overtaken"] = []
    assert jobs.run_pending() == 1  # attempt 1 runs; attempt 2 belongs to the other worker
    row = Job.get_by_id(job.id)
    assert SEEN["overtaken"] == [1]  # report() stopped the first attempt where it was
    assert (row.state, row.attempts, row.done, row.message, row.finished_at) == ("running", 2, 0, None, None)
    # The new owner's writes still land, and it finishes the job.
    row.attempts = 2
    report = jobs._reporter(row)
    report(1, 2, "二回目の処理")
    assert Job.get_by_id(job.id).message == "二回目の処理"
    assert jobs._finish(row, state="done") and Job.get_by_id(job.id).state == "done"


def test_the_cli_worker_runs_pending_jobs_once(app, runner, database, staff):
    job = jobs.submit("test_counting", {"steps": 2}, staff.id)
    db.close()
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "ran 1 jobs" in result.output
    db.connect(reuse_if_open=True)
    assert Job.get_by_id(job.id).state == "done"


def test_the_web_process_thread_runs_a_submitted_job(app, database, staff):
    app.config["JOBS_THREAD"] = True
    try:
        job = jobs.submit("test_counting", {"steps": 2}, staff.id)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Job.get_by_id(job.id).state != "done":
            time.sleep(0.1)
        assert Job.get_by_id(job.id).state == "done"
    finally:
        app.config["JOBS_THREAD"] = False
        jobs._worker.event.set()
        jobs._worker.thread.join(timeout=15)
    assert not jobs._worker.thread.is_alive()


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(True, True), (False, False), ("0", False), ("off", False), ("1", True), ("", False)],
)
def test_jobs_thread_reads_as_a_switch_from_the_environment(value, enabled):
    assert jobs.thread_enabled({"JOBS_THREAD": value}) is enabled


def test_no_thread_is_started_when_jobs_thread_is_off(database, staff):
    before = jobs._worker.thread
    jobs.submit("test_counting", {"steps": 1}, staff.id)
    assert jobs._worker.thread is before and Job.get(Job.kind == "test_counting").state == "queued"


# --- the job page ---------------------------------------------------------------------------------------


def _job(app, **fields):
    with app.app_context(), db.connection_context():
        return Job.create(kind="test_counting", **fields).id


def test_the_job_page_shows_progress_and_polls_while_running(app, staff_client):
    job_id = _job(app, state="running", done=2, total=5, message="2件目を処理しました", heartbeat_at=utcnow())
    page = staff_client.get(f"/staff/jobs/{job_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "テスト集計" in html and "実行中" in html
    assert '<progress class="job-status__bar" max="5" value="2"' in html
    assert 'hx-trigger="every 1s"' in html
    assert "最新の状態を表示" in html  # without JavaScript: a refresh link
    fragment = staff_client.get(f"/staff/jobs/{job_id}", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text and 'hx-trigger="every 1s"' in text


def test_the_job_page_stops_polling_once_done_and_links_the_notice_run(app, staff_client):
    from models import NoticeRun

    with app.app_context(), db.connection_context():
        run = NoticeRun.create(kind="rent_decision", fiscal_year=2026, created_by=staff_client.user, pages=12)
    job_id = _job(app, state="done", done=12, total=12, result_table="notice_run", result_id=run.id)
    fragment = staff_client.get(f"/staff/jobs/{job_id}", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "hx-trigger" not in text
    assert f'href="/staff/notices/{run.id}.pdf"' in text and "家賃決定通知書 12枚" in text


def test_a_failed_job_shows_its_message(app, staff_client):
    job_id = _job(app, state="failed", error="対象の年度の家賃算定表がありません。")
    html = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert "処理は完了しませんでした" in html and "対象の年度の家賃算定表がありません。" in html
    assert "hx-trigger" not in html


def test_the_jobs_pages_are_for_city_staff_only(app, staff_client, contractor_client, auditor_client):
    job_id = _job(app, state="queued")
    assert staff_client.get("/staff/jobs/").status_code == 200
    assert staff_client.get("/staff/jobs/999999").status_code == 404
    for client in (contractor_client, auditor_client):
        assert client.get(f"/staff/jobs/{job_id}").status_code == 403
        assert client.get("/staff/jobs/").status_code == 403
