"""The shell: home page, language choice, health check, and the layout's navigation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from peewee import InterfaceError, OperationalError

from extensions import db

from . import navigation as nav

bp = Blueprint("main", __name__)

NOTICE_LABELS = {
    "auth.credential.added": _l("認証器の追加"),
    "auth.credential.removed": _l("認証器の削除"),
    "auth.recovery.approved": _l("認証器の再登録の承認"),
    "account.created": _l("アカウントの作成"),
    "account.deactivated": _l("アカウントの無効化"),
    "account.role_changed": _l("役割の変更"),
    "security.alert": _l("警告"),
    "security.counter_regression": _l("認証器の複製の疑い"),
    "access.read_budget_exceeded": _l("閲覧件数の上限超過"),
}


@bp.record_once
def _configure_templates(state) -> None:
    # {% trans %} blocks are extracted trimmed (babel.cfg); render them trimmed too, so msgids match.
    state.app.jinja_env.policies["ext.i18n.trimmed"] = True


@bp.app_context_processor
def layout_context() -> dict:
    """What base.html needs: the navigation (lazy, so error pages may skip it) and optional-link checks."""
    return {
        "navigation": nav.navigation,
        "has_endpoint": nav.has_endpoint,
        "role_label": nav.role_label,
        "languages": current_app.config["LANGUAGES"],
        "current_language": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
    }


def safe_next(target: str | None) -> str:
    """A same-site path to return to, or the home page: never another host (no open redirect)."""
    target = target or ""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or parts.scheme
        or parts.netloc
        or "\\" in target
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        return url_for("main.home")
    return target


@bp.get("/")
def home():
    """The signed-in home: who you are, your menu; officers also see the week's security notices."""
    from flask_login import current_user

    from models import utcnow
    from services import audit

    notices = []
    if current_user.is_authenticated and current_user.role == "officer":
        notices = audit.officer_notices(utcnow() - timedelta(days=7))
    return render_template("main/home.html", notices=notices, notice_labels=NOTICE_LABELS)


@bp.post("/language")
def language():
    """Switch the interface language (kept in the session; the URL never carries it)."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.get("/healthz")
def health():
    """Liveness and database reachability, for the operators' monitoring. No personal data."""
    try:
        db.execute_sql("SELECT 1")
        database = "ok"
    except (OperationalError, InterfaceError):
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return jsonify(status="ok" if status == 200 else "degraded", database=database), status
