"""Application factory: configuration, extensions, blueprints, filters, error pages and CLI."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask, g, request, session
from peewee import InterfaceError, OperationalError
from werkzeug.routing import IntegerConverter

import config as config_module
from extensions import babel, csrf, db, htmx, init_database, limiter, login_manager

ROOT = Path(__file__).resolve().parent


def select_locale() -> str:
    """Japanese unless the user chose English (kept in the session, never in the URL)."""
    from flask import current_app

    chosen = session.get("lang")
    return chosen if chosen in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


class RecordIdConverter(IntegerConverter):
    """`<int:…>` in every route: a number the database can hold (ids are 64-bit signed), else no route
    matches and the answer is 404 — never an overflow inside a query."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. test_config overrides everything else (tests pass DATABASE_URL, SECRET_KEY…)."""
    instance = Path((test_config or {}).get("INSTANCE_PATH", ROOT / "instance"))
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.url_map.converters["int"] = RecordIdConverter
    app.config.from_mapping(config_module.load(instance, test_config))
    app.config["SESSION_COOKIE_NAME"] = (
        "__Host-session" if app.config["APP_ENV"] == "production" else "session"
    )
    app.config["SESSION_COOKIE_SECURE"] = app.config["APP_ENV"] == "production"

    logging.getLogger("peewee").setLevel(logging.WARNING)
    init_database(app.config["DATABASE_URL"])

    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Tokyo")
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    _register_database_hooks(app)
    _register_security_headers(app)
    _check_keys(app)

    from blueprints.policy import enforce

    # Deny by default: every request passes the policy table (after the connection is open).
    app.before_request(enforce)

    from blueprints.auth import bp as auth_bp
    from blueprints.errors import register_error_handlers
    from blueprints.main import bp as main_bp
    from blueprints.portal import bp as portal_bp
    from blueprints.staff import bp as staff_bp
    from rules import filters

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(portal_bp)
    register_error_handlers(app)
    filters.register(app)

    import cli

    cli.register(app)
    return app


def _check_keys(app: Flask) -> None:
    """Refuse to start without the vault and audit keys (production never generates them)."""
    from services import audit, vault

    vault.keyring_for(app.config)
    audit.audit_key(app.config)


def _register_database_hooks(app: Flask) -> None:
    """One connection per request; a database that cannot be reached becomes a 503, never partial data."""

    @app.before_request
    def open_connection():
        if request.endpoint in (None, "static"):
            return
        try:
            db.connect(reuse_if_open=True)
        except (OperationalError, InterfaceError) as exc:
            app.logger.error("database unavailable: %s", type(exc).__name__)
            from flask import abort

            abort(503)

    @app.teardown_request
    def close_connection(exc):
        if not db.is_closed():
            db.close()


def _register_security_headers(app: Flask) -> None:
    """Headers on every response, error pages included (SECURITY.md: Input, output, browser)."""

    @app.before_request
    def make_nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def inject_nonce():
        return {"csp_nonce": lambda: g.get("csp_nonce", "")}

    @app.after_request
    def set_headers(response):
        nonce = g.get("csp_nonce", "")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "object-src 'none'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if app.config["APP_ENV"] == "production":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        response.vary.add("HX-Request")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
