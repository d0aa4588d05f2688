"""Background jobs (一括処理): where a long run stands, and what it produced.

A job's page shows its progress; with htmx the status fragment asks again every second while the
job is queued or running and stops once it has finished; without JavaScript a link reloads the page.
Jobs carry no personal data (kind, counts, a message), so every city user may follow any job; what a
job produced (a notice run's PDF) is opened through its own audited route.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l
from peewee import JOIN

from blueprints.staff.inline import wants_fragment
from models import Job, NoticeRun, User
from services import jobs, notices

bp = Blueprint("jobs", __name__)

RECENT = 50
STATE_LABELS = {
    # i18n: the state of a background job
    "queued": _l("待機中"),
    "running": _l("実行中"),
    "done": _l("完了"),
    "failed": _l("失敗"),
}


@bp.route("/jobs/")
def index():
    """The most recent jobs, newest first."""
    rows = list(
        Job.select(Job, User)
        .join(User, JOIN.LEFT_OUTER, on=(Job.created_by == User.id))
        .order_by(Job.id.desc())
        .limit(RECENT)
    )
    return render_template(
        "staff/jobs/index.html", rows=rows, label_of=jobs.label_of, state_labels=STATE_LABELS
    )


@bp.route("/jobs/<int:job_id>")
def show(job_id: int):
    """One job: its page, or (htmx polling) its status fragment."""
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        abort(404)
    if job.state in ("queued", "running"):
        jobs.wake()  # a job queued before the web process restarted starts when someone looks at it
    result = jobs.result_of(job) if job.state == "done" else None
    context = {
        "job": job,
        "label": jobs.label_of(job.kind),
        "run": result if isinstance(result, NoticeRun) else None,
        "state_labels": STATE_LABELS,
        "kind_label": lambda kind: notices.KIND_LABELS.get(kind, kind),
    }
    if wants_fragment():
        return render_template("staff/jobs/_status.html", **context)
    return render_template("staff/jobs/show.html", **context)
