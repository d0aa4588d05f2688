"""Shared fixtures: the app on a fresh migrated SQLite file, PostgreSQL when present, no outbound network."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from contextlib import contextmanager

import pytest

from app import create_app
from extensions import db

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- no outbound network: the app must load nothing from outside (SECURITY.md) -------------------
_real_connect = socket.socket.connect


def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise OSError(f"outbound connection to {host} blocked in tests")
        except ValueError:
            if host != "localhost":
                raise OSError(f"outbound connection to {host} blocked in tests") from None
    return _real_connect(self, address)


socket.socket.connect = _loopback_only


def test_config(tmp_path, **overrides) -> dict:
    """The configuration every test app starts from."""
    config = {
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "KEY_DIR": str(tmp_path / "instance" / "keys"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "JOBS_THREAD": False,  # tests run queued jobs themselves (services.jobs.run_pending)
    }
    config.update(overrides)
    return config


test_config.__test__ = False  # a helper, not a test, when imported into test modules


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """One SQLite file migrated to head; each test gets a copy (faster than migrating every time)."""
    from services.schema import upgrade

    base = tmp_path_factory.mktemp("template")
    app = create_app(test_config(base))
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    return base / "test.db"


@pytest.fixture
def app(tmp_path, migrated_template):
    """The app on its own migrated SQLite database."""
    shutil.copy(migrated_template, tmp_path / "test.db")
    application = create_app(test_config(tmp_path))
    yield application
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def database(app):
    """An open connection, inside an app context, for tests that use the models and services directly."""
    with app.app_context():
        db.connect(reuse_if_open=True)
        yield db
        if not db.is_closed():
            db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def engine_db(request, tmp_path):
    """A migrated database on each engine (SQLite, then PostgreSQL), connected in an app context."""
    from services import schema

    if request.param == "sqlite":
        application = create_app(test_config(tmp_path))
    else:
        application = create_app(test_config(tmp_path, DATABASE_URL=request.getfixturevalue("pg_url")))
    with application.app_context():
        db.connect(reuse_if_open=True)
        schema.upgrade()
        yield db
        db.close()


def _require(kind: str) -> bool:
    return os.environ.get(f"REQUIRE_{kind}") == "1"


@pytest.fixture(scope="session")
def pg_server():
    """The admin URL of a reachable PostgreSQL server, or skip (fail under REQUIRE_PG=1)."""
    try:
        import psycopg2

        conn = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
        conn.close()
    except Exception as exc:  # any failure to reach the server means "not here"
        if _require("PG"):
            pytest.fail(f"PostgreSQL is required (REQUIRE_PG=1) but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg2

    name = f"housing_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if not db.is_closed():
            db.close()
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def pg_app(tmp_path, pg_url):
    """The app on an empty PostgreSQL database (not yet migrated)."""
    application = create_app(test_config(tmp_path, DATABASE_URL=pg_url))
    yield application
    if not db.is_closed():
        db.close()


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium():
    """The Chromium executable for browser tests, or skip (fail under REQUIRE_BROWSER=1)."""
    path = chromium_path()
    if not path:
        if _require("BROWSER"):
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def pdftoppm():
    """poppler's pdftoppm, which renders notices as a reader's viewer would, or skip (fail under
    REQUIRE_BROWSER=1: CI installs it with Chromium)."""
    path = shutil.which("pdftoppm")
    if not path:
        if _require("BROWSER"):
            pytest.fail("pdftoppm is required (REQUIRE_BROWSER=1) but not installed")
        pytest.skip("poppler-utils (pdftoppm) is not installed (apt-get install poppler-utils)")
    return path


# --- accounts and sign-in through the real WebAuthn endpoints ----------------------------------------


def csrf_token_of(client) -> str:
    """The CSRF token of the client's session (from the meta tag of a public page)."""
    import re

    html = client.get("/logged-out").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def post_json(client, url: str, body: dict | None = None, token: str | None = None):
    """A fetch-like POST: JSON body, the CSRF header, Accept: application/json."""
    headers = {"X-CSRFToken": token or csrf_token_of(client), "Accept": "application/json"}
    return client.post(url, json=body or {}, headers=headers)


@pytest.fixture
def soft_keys():
    """The software authenticator of every user made by make_user: {user id: SoftAuthenticator}."""
    return {}


@pytest.fixture
def make_user(app, soft_keys):
    """make_user(role, office=None, **fields): an active account with one registered software
    authenticator (registered through services.auth with py_webauthn's real verification).
    A contractor without an office gets a new one."""
    import itertools

    from models.security import Office, User
    from services import auth
    from tests.soft_authenticator import SoftAuthenticator

    counter = itertools.count(1)

    def make(role: str = "staff", office=None, *, authenticators: int = 1, **fields):
        n = next(counter)
        with app.app_context():
            if role == "contractor" and office is None:
                office = Office.create(code=f"OF{n:03d}", name=f"テスト事務所{n}")
            user = User.create(
                **{
                    "login_id": f"{role}{n}",
                    "display_name": f"試験 {role}{n}",
                    "role": role,
                    "office": office,
                    **fields,
                }
            )
            key = SoftAuthenticator(
                origin=app.config["WEBAUTHN_ORIGINS"][0], rp_id=app.config["WEBAUTHN_RP_ID"]
            )
            for number in range(authenticators):
                options, challenge = auth.registration_options(user)
                auth.finish_registration(
                    user, key.create(options), challenge, f"キー{number + 1}", {"actor": user}
                )
        soft_keys[user.id] = key
        return user

    return make


@pytest.fixture
def login(soft_keys):
    """login(client, user): sign in with the user's software authenticator through /login/options and
    /login/verify, as the browser does; returns the verify response (asserted 200)."""

    def sign_in(client, user, **assertion_knobs):
        token = csrf_token_of(client)
        options = post_json(client, "/login/options", token=token)
        assert options.status_code == 200, options.get_data(as_text=True)
        assertion = soft_keys[user.id].get(options.get_json(), **assertion_knobs)
        response = post_json(client, "/login/verify", {"credential": assertion}, token=token)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    return sign_in


def _signed_in_client(app, make_user, login, role: str):
    client = app.test_client()
    client.user = make_user(role)
    login(client, client.user)
    return client


@pytest.fixture
def staff_client(app, make_user, login):
    """A client signed in as a city staff member (担当職員); the user is client.user."""
    return _signed_in_client(app, make_user, login, "staff")


@pytest.fixture
def officer_client(app, make_user, login):
    """A client signed in as an officer (保護責任者)."""
    return _signed_in_client(app, make_user, login, "officer")


@pytest.fixture
def contractor_client(app, make_user, login):
    """A client signed in as a 公社 contractor (with its own office)."""
    return _signed_in_client(app, make_user, login, "contractor")


@pytest.fixture
def auditor_client(app, make_user, login):
    """A client signed in as an auditor (監査)."""
    return _signed_in_client(app, make_user, login, "auditor")


@pytest.fixture
def sysadmin_client(app, make_user, login):
    """A client signed in as a system administrator (運用保守)."""
    return _signed_in_client(app, make_user, login, "sysadmin")


# --- the policy table for test-only routes -------------------------------------------------------------


@contextmanager
def declared_in_policy():
    """Yield declare(endpoint, methods, who), which adds entries to blueprints.policy.POLICY as
    policy.allow does (PUBLIC or a set of roles); the entries it added are removed on exit."""
    from blueprints import policy

    added: list[tuple[str, str]] = []

    def declare(endpoint: str, methods, who) -> None:
        for method in methods:
            policy.allow(endpoint, [method], who)  # raises on a duplicate: nothing of ours recorded
            added.append((endpoint, method))

    try:
        yield declare
    finally:
        for endpoint, method in reversed(added):
            rules = policy.POLICY.get(endpoint, {})
            rules.pop(method, None)
            if not rules:
                policy.POLICY.pop(endpoint, None)


@pytest.fixture
def allow_in_policy():
    """allow_in_policy(endpoint, methods, who): declare a test-only route in the policy table for this
    test only (allow() refuses a method declared twice, so nothing may leak into the next test)."""
    with declared_in_policy() as declare:
        yield declare
