"""The shell: home page, language choice, health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from peewee import OperationalError

from extensions import db

bp = Blueprint("main", __name__)


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
    target = request.form.get("next", "")
    # Only same-site paths: no open redirect.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("main.home")
    return redirect(target, code=303)


@bp.get("/healthz")
def health():
    """Liveness and database reachability, for the operators' monitoring. No personal data."""
    try:
        db.execute_sql("SELECT 1")
        database = "ok"
    except OperationalError:
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return jsonify(status="ok" if status == 200 else "degraded", database=database), status
