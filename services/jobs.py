"""Background jobs: long runs (a PDF for every household, the yearly rent run) outside the request.

The job table is the queue. ``submit`` writes a row and wakes a daemon thread of the web process,
which runs queued jobs one after another inside an application context (``JOBS_THREAD``, on by
default; tests turn it off and call ``run_pending``). ``flask jobs work`` runs the same loop as a
separate worker, for deployments that prefer a service of its own.

A worker claims a job with one conditional UPDATE (``WHERE id = ? AND state = ? AND attempts = ?``),
so any number of workers on SQLite or PostgreSQL never run the same job twice at once. A running job
proves it is alive through its heartbeat, refreshed each time it reports progress; a job whose
heartbeat is older than ``JOBS_STALE_SECONDS`` (its worker died: a restart, a deploy, a crash) is
claimed again and its handler runs from the start, at most ``MAX_ATTEMPTS`` times in all.

Handlers therefore must be idempotent and resumable: running one again after it stopped anywhere
must leave the same result as running it once. Commit work in batches that a second run recognises
as done (a decision already recorded for a household, a notice run already issued for this job:
``notices.issue_run(..., job=job)`` returns it instead of issuing again), and call ``report`` between
batches (at least every ``JOBS_STALE_SECONDS``), never inside a transaction of their own.

Register a handler with ``@jobs.handler("kind")``: ``fn(job, report)``, where
``report(done, total, message=None)`` records the progress in its own short transaction. What the
handler returns, a model instance (a NoticeRun …) or None, becomes the job's result. A handler that
raises ``JobError`` fails the job with its message; any other exception fails it with a general
message, and the log gets the exception's type and where it was raised — never its text, which may
hold personal data. params and messages hold ids and figures only, never names or My Numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from extensions import db
from models import ALL_MODELS, Job, User
from models.base import utcnow
from services import audit

MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not resumed again
POLL_SECONDS = 5  # how long an idle worker sleeps before it looks at the table again
REPORT_INTERVAL = 0.5  # seconds between two progress writes (the last one is always written)
DEFAULT_STALE_SECONDS = 300

GENERAL_FAILURE = _l("処理中にエラーが発生したため中断しました。担当者（システム管理者）に連絡してください。")
INTERRUPTED = _l("処理が繰り返し中断されたため停止しました。担当者（システム管理者）に連絡してください。")
UNKNOWN_KIND = _l("この種類の処理はこのシステムに登録されていません。")


class JobLost(Exception):
    """This worker no longer owns the job: it was claimed again (its heartbeat went stale) or stopped.
    Raised by report() so the handler ends where it is; the job is left to its new owner, unwritten."""


class JobError(Exception):
    """A failure the handler explains: its message (Japanese, no personal data) is shown to staff."""

    def __init__(self, message) -> None:
        self.message = str(message)
        super().__init__(self.message)


@dataclass(frozen=True)
class Handler:
    """A registered kind of job: the function that runs it and the name staff see."""

    kind: str
    run: Callable
    label: object


_HANDLERS: dict[str, Handler] = {}


def handler(kind: str, label=None):
    """Register fn(job, report) as the handler of kind (label: what the job page calls it)."""
    if not isinstance(kind, str) or not 0 < len(kind) <= Job.kind.max_length:
        raise ValueError("a job kind is a short non-empty string")

    def register(fn: Callable) -> Callable:
        known = _HANDLERS.get(kind)
        if known is not None and known.run.__qualname__ != fn.__qualname__:
            raise ValueError(f"job kind {kind!r} already has a handler")
        _HANDLERS[kind] = Handler(kind, fn, label if label is not None else kind)
        return fn

    return register


def label_of(kind: str):
    """The name of a kind of job for screens (the kind itself when no handler names it)."""
    known = _HANDLERS.get(kind)
    return known.label if known else kind


def params_of(job: Job) -> dict:
    """The job's parameters as submitted."""
    return json.loads(job.params or "{}")


def _json_default(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be a job parameter")


# --- submitting -----------------------------------------------------------------------------------------


def submit(kind: str, params: Mapping, actor_id: int | None, **context) -> Job:
    """Queue a job of kind with params (ids and figures, JSON) on behalf of actor_id; returns the row.

    ValueError for an unregistered kind, params that are not a JSON object or that hold a My Number.
    context: session_ref, ip for the audit entry. The worker thread is woken after the row is written.
    """
    if kind not in _HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    if not isinstance(params, Mapping):
        raise ValueError("job params are a mapping")
    text = json.dumps(dict(params), ensure_ascii=False, sort_keys=True, default=_json_default)
    if audit.contains_my_number(json.loads(text)):
        raise ValueError("job params must not hold a My Number")
    actor = User.get_by_id(actor_id) if actor_id is not None else None
    context.pop("actor", None)
    with db.atomic():
        job = Job.create(kind=kind, params=text, created_by=actor)
        audit.record(
            "job.submit", actor=actor, target_table="job", target_ids=[job.id], reason=kind, **context
        )
    wake()
    return job


# --- running --------------------------------------------------------------------------------------------


def _stale_seconds() -> int:
    if has_app_context():
        return int(current_app.config.get("JOBS_STALE_SECONDS", DEFAULT_STALE_SECONDS))
    return DEFAULT_STALE_SECONDS


def _candidates(now: dt.datetime) -> list[Job]:
    stale = now - dt.timedelta(seconds=_stale_seconds())
    return list(
        Job.select(Job.id, Job.state, Job.attempts)
        .where((Job.state == "queued") | ((Job.state == "running") & (Job.heartbeat_at < stale)))
        .order_by(Job.id)
        .limit(20)
    )


def _claim(seen: Job, now: dt.datetime) -> Job | None:
    """Take seen for this worker if nobody changed it since it was read; None when another worker did."""
    if seen.attempts >= MAX_ATTEMPTS:
        with db.atomic():
            changed = (
                Job.update(
                    state="failed", error=str(INTERRUPTED), finished_at=now, heartbeat_at=now, updated_at=now
                )
                .where((Job.id == seen.id) & (Job.state == seen.state) & (Job.attempts == seen.attempts))
                .execute()
            )
        if changed:
            current_app.logger.error("job %s: stopped after %s interrupted attempts", seen.id, seen.attempts)
        return None
    with db.atomic():
        changed = (
            Job.update(
                state="running",
                attempts=Job.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                updated_at=now,
                error=None,
            )
            .where((Job.id == seen.id) & (Job.state == seen.state) & (Job.attempts == seen.attempts))
            .execute()
        )
    if changed != 1:
        return None
    if seen.state == "running":
        current_app.logger.warning(
            "job %s: heartbeat stale, resuming (attempt %s)", seen.id, seen.attempts + 1
        )
    return Job.get_by_id(seen.id)


def _owned(job: Job):
    """The fencing condition of this worker's writes: the job is still running under the attempt it
    claimed. A worker taking a stale job over increments attempts, so the first one's writes miss."""
    return (Job.id == job.id) & (Job.attempts == job.attempts) & (Job.state == "running")


def _reporter(job: Job) -> Callable:
    """report(done, total, message=None) for job: progress and heartbeat in a short transaction;
    JobLost when the job was claimed by another worker meanwhile."""
    last = {"at": 0.0, "message": None}

    def report(done: int, total: int, message=None) -> None:
        done, total = max(int(done), 0), max(int(total), 0)
        text = str(message)[: Job.message.max_length] if message is not None else None
        clock = time.monotonic()
        if clock - last["at"] < REPORT_INTERVAL and done < total and text == last["message"]:
            return
        last.update(at=clock, message=text)
        values = {"done": done, "total": total, "heartbeat_at": utcnow(), "updated_at": utcnow()}
        if text is not None:
            values["message"] = text
        with db.atomic():
            changed = Job.update(values).where(_owned(job)).execute()
        if not changed:
            raise JobLost(job.id)
        job.done, job.total = done, total
        if text is not None:
            job.message = text

    return report


def _result_columns(result) -> dict:
    if result is None:
        return {"result_table": None, "result_id": None}
    meta = getattr(result, "_meta", None)
    if meta is None or getattr(result, "id", None) is None:
        raise TypeError("a job handler returns a saved model instance or None")
    return {"result_table": meta.table_name, "result_id": int(result.id)}


def _finish(job: Job, **values) -> bool:
    """Record the outcome, only while this worker still owns the job (False when it no longer does)."""
    now = utcnow()
    values.update(finished_at=now, heartbeat_at=now, updated_at=now)
    with db.atomic():
        changed = Job.update(values).where(_owned(job)).execute()
    if not changed:
        current_app.logger.warning(
            "job %s: attempt %s no longer owns the job, outcome dropped", job.id, job.attempts
        )
    return bool(changed)


def _where_it_failed(exc: BaseException) -> str:
    """The exception's type and the frames it passed through: enough to find the bug, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    places = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-6:]))
    return f"{type(exc).__name__} at {places}"


def _run(job: Job) -> None:
    known = _HANDLERS.get(job.kind)
    if known is None:
        current_app.logger.error("job %s: no handler for kind %s", job.id, job.kind)
        _finish(job, state="failed", error=str(UNKNOWN_KIND))
        return
    try:
        result = known.run(job, _reporter(job))
        columns = _result_columns(result)
    except JobLost:  # another worker resumed it: stop here, quietly, and leave the job to that attempt
        if not db.is_closed() and db.in_transaction():
            db.rollback()
        current_app.logger.warning(
            "job %s: attempt %s stopped, the job was claimed again", job.id, job.attempts
        )
    except JobError as exc:
        current_app.logger.warning("job %s (%s) failed: %s", job.id, job.kind, type(exc).__name__)
        _finish(job, state="failed", error=exc.message[: Job.error.max_length])
    except Exception as exc:  # any failure of a handler fails its job, never the worker
        if not db.is_closed() and db.in_transaction():
            db.rollback()
        current_app.logger.error("job %s (%s) failed: %s", job.id, job.kind, _where_it_failed(exc))
        _finish(job, state="failed", error=str(GENERAL_FAILURE))
    else:
        done = max(job.done, job.total)
        _finish(job, state="done", done=done, total=max(job.total, done), **columns)


def run_pending() -> int:
    """Run every queued job (and every running one whose worker died) now, in this thread; how many ran.

    Needs an application context and an open connection. One job's failure never stops the others.
    Handlers run in the office's language (BABEL_DEFAULT_LOCALE): messages are stored as shown.
    """
    ran = 0
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "ja")):
        while True:
            claimed = None
            for seen in _candidates(utcnow()):
                claimed = _claim(seen, utcnow())
                if claimed is not None:
                    break
            if claimed is None:
                return ran
            _run(claimed)
            ran += 1


def result_of(job: Job):
    """The record the job produced (a NoticeRun …), or None."""
    if not job.result_table or job.result_id is None:
        return None
    model = next((m for m in ALL_MODELS if m._meta.table_name == job.result_table), None)
    return model.get_or_none(model.id == job.result_id) if model else None


# --- the worker thread of the web process ---------------------------------------------------------------


class _Worker:
    """One daemon thread per process that runs queued jobs; woken by submit, polls otherwise.

    It ends at its next wake-up once the app's JOBS_THREAD is turned off."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.thread: threading.Thread | None = None
        self.app: Flask | None = None

    def wake(self, app: Flask) -> None:
        with self.lock:
            self.app = app
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.loop, name="jobs-worker", daemon=True)
                self.thread.start()
        self.event.set()

    def loop(self) -> None:
        while True:
            self.event.wait(POLL_SECONDS)
            self.event.clear()
            app = self.app
            if not thread_enabled(app.config):  # turned off: the thread ends
                return
            try:
                with app.app_context():
                    db.connect(reuse_if_open=True)
                    try:
                        run_pending()
                    finally:
                        db.close()
            except Exception as exc:  # the database was unreachable: try again at the next poll
                app.logger.error("jobs worker: %s", _where_it_failed(exc))


_worker = _Worker()


def thread_enabled(config: Mapping) -> bool:
    """JOBS_THREAD as a switch: False, or 0/false/no/off from the environment (FLASK_JOBS_THREAD), is off."""
    value = config.get("JOBS_THREAD", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def wake() -> None:
    """Start (or wake) the web process's worker thread, unless JOBS_THREAD is off (tests, CLI workers)."""
    if not has_app_context() or not thread_enabled(current_app.config):
        return
    _worker.wake(current_app._get_current_object())


def work(once: bool = False, idle: Callable[[float], None] = time.sleep) -> int:
    """The `flask jobs work` loop: run pending jobs, sleep, repeat (once: a single pass); jobs run."""
    ran = 0
    while True:
        ran += run_pending()
        if once:
            return ran
        idle(POLL_SECONDS)
