"""Notices issued (発行帳票): the runs printed (what, when, by whom, how many), and their PDFs.

The download sends the run's file as it was issued, audited as an access to the personal data it
holds (services.notices.run_file), never cached by the browser.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user

from blueprints.context import audit_context
from services import notices

bp = Blueprint("notices", __name__)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


@bp.route("/notices/")
def index():
    """The runs issued, newest first."""
    per_page = 50
    page = _page_number()
    rows, count = notices.runs(page, per_page)
    result = SimpleNamespace(page=page, pages=max(1, -(-count // per_page)))
    return render_template(
        "staff/notices/index.html", rows=rows, count=count, result=result, kind_labels=notices.KIND_LABELS
    )


@bp.route("/notices/<int:run_id>.pdf")
def download(run_id: int):
    """The run's PDF (audited; 404 for no such run, 410 once its file was deleted or altered)."""
    try:
        run, path = notices.run_file(current_user, run_id, **audit_context())
    except notices.RunUnavailable as exc:
        if not exc.gone:
            abort(404)
        return render_template("staff/notices/unavailable.html", message=exc.message), 410
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"notice-run-{run.id}-{run.kind}.pdf",
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
