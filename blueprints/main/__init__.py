"""The shell: home page, language choice, health check, and the layout's navigation."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from peewee import InterfaceError, OperationalError

from extensions import db

from . import navigation as nav

bp = Blueprint("main", __name__)


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
    """The front page of the system."""
    return render_template("main/home.html")


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
