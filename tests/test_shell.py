"""The Japanese UI shell: layout, language switch, error pages, health check, static assets, catalogues."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import flash, render_template, render_template_string, url_for
from flask_wtf import FlaskForm
from peewee import OperationalError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Conflict, Forbidden, ServiceUnavailable, UnprocessableEntity
from werkzeug.routing import BuildError
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms

    def SelectChoice(value, label):  # noqa: N802
        return (value, label)


from app import create_app
from blueprints.main import navigation as nav
from blueprints.policy import ALL_ROLES, CITY, POLICY, PUBLIC
from extensions import db
from tests import check_catalog
from tests.conftest import declared_in_policy
from tests.conftest import test_config as make_config

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """The English pages need messages.mo (not committed); build it from the .po when missing or stale."""
    check_catalog.compile_if_stale()


# --- helpers -------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The elements of an HTML page as (tag, attributes) in document order, plus the visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def all(self, tag: str, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, **attrs) -> dict:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> tuple[str, dict]:
        found = [(t, a) for t, a in self.elements if a.get("id") == element_id]
        assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
        return found[0]


def csrf_from(html: str) -> str:
    """The CSRF token of the language form (the same one the meta tag carries)."""
    page = Page(html)
    token = page.one("meta", name="csrf-token")["content"]
    assert token
    assert all(field["value"] == token for field in page.all("input", name="csrf_token"))
    return token


def switch_language(client, lang: str, next_path: str = "/", page: str = "/login"):
    """Post the header's language form, with the token read from a page the client may open
    (/login when anonymous, / when signed in)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post("/language", data={"csrf_token": token, "lang": lang, "next": next_path})


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'", csp)
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def assert_csp_ready(html: str, response) -> None:
    """No inline script, no style attribute or element, no inline event handler; scripts carry the nonce."""
    page = Page(html)
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = page.all("script")
    assert scripts, "the layout loads htmx and app.js"
    for script in scripts:
        assert script.get("src"), f"inline <script> found: {script}"
        assert script["src"].startswith("/static/"), "scripts come from our own static files only"
        assert script.get("nonce") == nonce
    assert not page.all("style"), "<style> element found"
    for tag, attrs in page.elements:
        assert "style" not in attrs, f"style attribute on <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"inline event handler {handlers} on <{tag}>"
        for name in ("href", "src", "action"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:")
    for link in page.all("link", rel="stylesheet"):
        assert link["href"].startswith("/static/")


def assert_layout(html: str, lang: str = "ja") -> Page:
    """Skip link first, the landmarks once each, the language form, the CSRF meta tag."""
    page = Page(html)
    assert page.one("html")["lang"] == lang
    first_link = next(attrs for tag, attrs in page.elements if tag == "a")
    assert first_link["href"] == "#main" and "skip-link" in first_link["class"]
    assert page.one("main")["id"] == "main"
    assert len(page.all("header")) == 1
    assert len(page.all("footer")) == 1
    form = page.one("form", action="/language")
    assert form["method"] == "post"
    # The language form returns to this page (a page may have its own `next` field, as login does).
    language_form = Page(re.search(r'<form[^>]*action="/language".*?</form>', html, re.S).group(0))
    assert language_form.one("input", name="next")["value"].startswith("/")
    page.one("meta", name="csrf-token")
    page.one("div", id="toast-region")
    return page


# --- home and layout -------------------------------------------------------------------------------
# Anonymous visitors land on the login page: it carries the shell (skip link, landmarks, language
# switch, headers) for them. The home page needs a signed-in user.


def test_anonymous_home_goes_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert_security_headers(response)


def test_login_page_is_japanese_by_default(client, app):
    response = client.get("/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    page = assert_layout(html, "ja")
    assert app.config["SYSTEM_NAME"] in page.text
    assert app.config["CITY_NAME"] in page.text
    assert "本文へ移動" in page.text
    assert "認証器でログイン" in page.text
    assert "<title>ログイン | 市営住宅管理システム</title>" in html
    assert page.one("h1") is not None and "ログイン" in page.text
    assert page.one("nav")["aria-label"] == "メインメニュー"
    assert_security_headers(response)
    assert_csp_ready(html, response)


def test_home_is_japanese_by_default(staff_client, app):
    response = staff_client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    page = assert_layout(html, "ja")
    assert app.config["SYSTEM_NAME"] in page.text
    assert app.config["CITY_NAME"] in page.text
    assert "本文へ移動" in page.text
    assert "入居者情報ファイル" in page.text
    # The signed-in view: who is signed in, and no invitation to sign in.
    assert "ログイン中の利用者" in page.text
    assert staff_client.user.display_name in page.text
    assert staff_client.user.login_id in page.text
    assert "担当職員" in page.text
    assert "ログインしてください" not in page.text and "ログイン機能は準備中です" not in page.text
    assert "<title>ホーム | 市営住宅管理システム</title>" in html
    nav_element = page.one("nav")
    assert nav_element["aria-label"] == "メインメニュー"
    assert_security_headers(response)
    assert_csp_ready(html, response)


def test_home_tells_the_truth_about_signing_in(app):
    """With the login screen registered: a sign-in link; without it: sign-in is being prepared."""
    with app.test_request_context("/"):
        app.preprocess_request()
        registered = "auth.login" in {rule.endpoint for rule in app.url_map.iter_rules()}
        html = render_template("main/home.html")
        if registered:
            assert "ログインしてください" in html and "ログイン機能は準備中です" not in html
        else:
            assert "ログイン機能は準備中です" in html
        without_login = render_template("main/home.html", has_endpoint=lambda endpoint: False)
        assert "ログイン機能は準備中です" in without_login
        assert "ログインしてください" not in without_login


def test_anonymous_navigation_has_only_the_home_link(client):
    page = Page(client.get("/login").get_data(as_text=True))
    links = page.all("a", class_="site-nav__link")
    assert [link["href"] for link in links] == ["/"]
    assert "aria-current" not in links[0], "the login page is not the home page"
    assert not page.all("div", class_="user-block")


def expected_navigation(app, role: str) -> list[str]:
    """The URLs the menu should list for a role: home, then the role's entries that the app has and
    that need no URL argument, in the table's order."""
    get_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    urls = ["/"]
    with app.test_request_context():
        for endpoint, _label in nav.NAVIGATION[role]:
            if endpoint in get_endpoints:
                try:
                    urls.append(url_for(endpoint))
                except BuildError:
                    continue
    return urls


@pytest.mark.parametrize("role", nav.ROLES)
def test_home_navigation_follows_the_role(request, app, role):
    """Signed in, each role's header menu lists home and its own screens that exist, and the home
    page's menu repeats them; the user block names the user and the role."""
    client = request.getfixturevalue(f"{role}_client")
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = Page(html)
    links = page.all("a", class_="site-nav__link")
    expected = expected_navigation(app, role)
    assert [link["href"] for link in links] == expected
    assert links[0]["aria-current"] == "page"
    assert not [link for link in links[1:] if "aria-current" in link]
    assert "/account/authenticators" in expected, "every role manages its own authenticators"
    if role in ("contractor", "auditor", "sysadmin"):
        assert not [href for href in expected if href.startswith("/staff/")]
    menu = re.search(r'<ul class="menu-list">(.*?)</ul>', html, re.S).group(1)
    assert [a["href"] for a in Page(menu).all("a")] == expected[1:]
    page.one("div", class_="user-block")
    assert client.user.display_name in page.text
    with app.test_request_context():
        assert str(nav.ROLE_LABELS[role]) in page.text


def test_trans_blocks_render_trimmed(app):
    assert app.jinja_env.policies["ext.i18n.trimmed"] is True


def test_japanese_sentences_have_no_stray_spaces(staff_client):
    text = Page(staff_client.get("/").get_data(as_text=True)).text
    assert "業務システムです。市営住宅管理課" in text


# --- language ----------------------------------------------------------------------------------------


def test_switch_to_english_and_back(client, app):
    assert app.config.get("WTF_CSRF_ENABLED", True), "these tests run with CSRF on"
    response = switch_language(client, "en", "/login")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"

    response = client.get("/login")
    html = response.get_data(as_text=True)
    page = assert_layout(html, "en")
    assert "Skip to main content" in page.text
    assert "Sign in with authenticator" in page.text
    assert "<title>Sign in | " in html
    assert "Home" in page.text
    assert page.one("nav")["aria-label"] == "Main menu"
    # The switch now offers Japanese.
    assert page.one("button", name="lang")["value"] == "ja"
    assert_csp_ready(html, response)

    response = switch_language(client, "ja", "/login")
    assert response.status_code == 303
    assert 'lang="ja"' in client.get("/login").get_data(as_text=True)


def test_signed_in_home_follows_the_language(staff_client):
    response = switch_language(staff_client, "en", "/", page="/")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/"
    page = assert_layout(staff_client.get("/").get_data(as_text=True), "en")
    assert "Signed-in user" in page.text
    assert page.one("nav")["aria-label"] == "Main menu"


def test_language_switch_needs_the_csrf_token(client):
    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 400
    assert "リクエストを処理できません" in response.get_data(as_text=True)
    assert 'lang="ja"' in client.get("/login").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    response = switch_language(client, "fr", "/login")
    assert response.status_code == 303
    assert 'lang="ja"' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/",
        "//evil.example",
        "//evil.example/path",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "evil.example",
        "",
    ],
)
def test_language_switch_never_redirects_off_site(client, target):
    response = switch_language(client, "en", target)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == "/"


def test_language_switch_returns_to_the_same_page(client):
    response = switch_language(client, "en", "/healthz")
    assert urlsplit(response.headers["Location"]).path == "/healthz"


# --- error pages -------------------------------------------------------------------------------------


@pytest.fixture
def error_app(app, allow_in_policy):
    """The app with routes that fail in each way an error page must cover, declared in the policy
    for signed-in users for this test only."""

    def abort_with(code: int):
        exceptions = {403: Forbidden, 409: Conflict, 422: UnprocessableEntity, 503: ServiceUnavailable}
        raise exceptions[code]()

    def boom():
        raise RuntimeError("secret detail: 山田太郎 123456789012")

    def database_down():
        raise OperationalError("database is locked: secret detail")

    app.add_url_rule("/_test/abort/<int:code>", view_func=abort_with)
    app.add_url_rule("/_test/boom", view_func=boom)
    app.add_url_rule("/_test/db", view_func=database_down)
    for endpoint in ("abort_with", "boom", "database_down"):
        allow_in_policy(endpoint, ["GET"], ALL_ROLES)
    return app


@pytest.fixture
def error_client(error_app, make_user, login):
    """A signed-in staff client of error_app (the error pages as the users see them)."""
    client = error_app.test_client()
    client.user = make_user("staff")
    login(client, client.user)
    return client


ERROR_CASES = [
    ("get", "/no-such-page", 404, "ページが見つかりません"),
    ("post", "/", 405, "この操作は許可されていません"),
    ("get", "/_test/abort/403", 403, "この操作は許可されていません"),
    ("get", "/_test/abort/409", 409, "ほかの人が先に更新しました"),
    ("get", "/_test/abort/422", 422, "入力内容を確認してください"),
    ("get", "/_test/abort/503", 503, "ただいま利用できません"),
    ("get", "/_test/boom", 500, "システムエラーが発生しました"),
    ("get", "/_test/db", 503, "ただいま利用できません"),
]


def assert_generic_error_page(response, status: int, title: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    page = assert_layout(html, "ja")
    assert page.one("h1") is not None
    assert title in page.text
    assert f"エラーコード: {status}" in page.text
    assert page.all("a", href="/", class_="button button--primary"), "a link home"
    for leak in ("secret detail", "Traceback", "山田", "123456789012", "RuntimeError", "OperationalError"):
        assert leak not in html
    assert_security_headers(response)
    assert_csp_ready(html, response)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "path", "status", "title"), ERROR_CASES)
def test_error_pages_are_generic_japanese_and_safe(error_client, method, path, status, title):
    assert_generic_error_page(getattr(error_client, method)(path), status, title)


@pytest.mark.parametrize(("method", "path", "status", "title"), ERROR_CASES[:2])
def test_error_pages_for_anonymous_visitors(error_app, method, path, status, title):
    """No route matched: the 404/405 pages answer before any login is asked for."""
    assert_generic_error_page(getattr(error_app.test_client(), method)(path), status, title)


def test_server_errors_show_the_shell_without_navigation(error_client):
    home = error_client.get("/").get_data(as_text=True)
    assert "<nav" in home and 'class="user-block' in home, "the signed-in shell has both"
    html = error_client.get("/_test/boom").get_data(as_text=True)
    assert "<nav" not in html
    assert 'class="user-block' not in html


def test_405_sends_the_allow_header_and_nothing_odd(error_client):
    response = error_client.post("/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert len(response.headers.getlist("Content-Type")) == 1
    assert len(response.headers.getlist("Allow")) == 1


def test_error_pages_follow_the_language(error_client):
    switch_language(error_client, "en", page="/")
    response = error_client.get("/no-such-page")
    page = assert_layout(response.get_data(as_text=True), "en")
    assert response.status_code == 404
    assert "Page not found" in page.text
    assert "Error code: 404" in page.text
    assert "Back to home" in page.text


def test_error_page_falls_back_to_static_html_when_the_template_fails(error_app, monkeypatch):
    import blueprints.errors as errors

    def broken(*args, **kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr(errors, "render_template", broken)
    response = error_app.test_client().get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "エラーコード: 404" in html
    assert "template broke" not in html
    assert_security_headers(response)


# --- deny by default ----------------------------------------------------------------------------------


def test_a_route_missing_from_the_policy_is_refused(app, make_user, login, allow_in_policy):
    """A route nobody declared answers 403 whoever asks, and the refusal is audited; declared for a
    role, it opens to that role, sends an anonymous visitor to login, and still refuses other roles."""
    from models import AuditEntry

    app.add_url_rule("/_test/undeclared", endpoint="_test.undeclared", view_func=lambda: "secret view")
    staff = app.test_client()
    staff.user = make_user("staff")
    login(staff, staff.user)
    contractor = app.test_client()
    login(contractor, make_user("contractor"))
    anonymous = app.test_client()

    def denials() -> int:
        with app.app_context(), db.connection_context():
            return AuditEntry.select().where(AuditEntry.action == "access.denied").count()

    before = denials()
    response = staff.get("/_test/undeclared")
    assert response.status_code == 403
    assert "secret view" not in response.get_data(as_text=True)
    assert "この操作は許可されていません" in response.get_data(as_text=True)
    assert denials() == before + 1
    response = anonymous.get("/_test/undeclared")
    assert response.status_code == 403
    assert "secret view" not in response.get_data(as_text=True)
    assert anonymous.get("/_test/undeclared", headers={"Accept": "application/json"}).status_code == 403

    allow_in_policy("_test.undeclared", ["GET"], {"staff"})
    with pytest.raises(ValueError, match="declared twice"):
        allow_in_policy("_test.undeclared", ["GET"], {"officer"})
    response = staff.get("/_test/undeclared")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "secret view")
    response = anonymous.get("/_test/undeclared")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert contractor.get("/_test/undeclared").status_code == 403


def test_policy_declarations_are_undone_after_the_test():
    """What allow_in_policy declares is gone afterwards, and it never overrides a real entry."""
    before = {endpoint: dict(rules) for endpoint, rules in POLICY.items()}
    with declared_in_policy() as declare:
        declare("_test.scratch", ["GET", "POST"], PUBLIC)
        declare("main.home", ["POST"], {"staff"})
        assert POLICY["_test.scratch"] == {"GET": PUBLIC, "POST": PUBLIC}
        assert POLICY["main.home"]["POST"] == frozenset({"staff"})
        with pytest.raises(ValueError, match="declared twice"):
            declare("main.home", ["GET"], PUBLIC)
        assert POLICY["main.home"]["GET"] == ALL_ROLES
    assert {endpoint: dict(rules) for endpoint, rules in POLICY.items()} == before


# --- health ---------------------------------------------------------------------------------------------


def test_health_is_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert_security_headers(response)


def test_health_reports_an_unreachable_database_as_json_503(tmp_path):
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "not-a-file.db").mkdir()
    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'not-a-file.db'}"))
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "degraded"
    page = client.get("/")
    assert page.status_code == 503
    assert "ただいま利用できません" in page.get_data(as_text=True)


# --- navigation -------------------------------------------------------------------------------------


class FakeUser:
    is_authenticated = True

    def __init__(self, role, display_name="試験 花子"):
        self.role = role
        self.display_name = display_name


def test_every_role_has_navigation_and_a_label():
    assert set(nav.NAVIGATION) == set(nav.ROLES) == set(nav.ROLE_LABELS)
    for entries in nav.NAVIGATION.values():
        endpoints = [endpoint for endpoint, _ in entries]
        assert len(endpoints) == len(set(endpoints))


def test_contractors_and_auditors_never_get_staff_screens():
    for role in ("contractor", "auditor", "sysadmin"):
        assert not [e for e, _ in nav.NAVIGATION[role] if e.startswith("staff.")]
    assert not [e for e, _ in nav.NAVIGATION["sysadmin"] if e.split(".")[0] in ("staff", "portal", "audit")]


@pytest.fixture
def staff_stubs(app, allow_in_policy):
    """Stub staff screens (a menu entry, and one that needs an argument), declared for city staff.
    The household search exists now: it is stubbed only while it does not."""
    if "staff.households.index" not in app.view_functions:
        app.add_url_rule("/staff/households/", endpoint="staff.households.index", view_func=lambda: "")
        allow_in_policy("staff.households.index", ["GET"], CITY)
    app.add_url_rule(
        "/staff/disclosure/<int:request_id>",
        endpoint="staff.disclosure.index",
        view_func=lambda request_id: "",
    )
    allow_in_policy("staff.disclosure.index", ["GET"], CITY)
    return app


def test_navigation_lists_only_registered_endpoints(staff_stubs):
    app = staff_stubs
    with app.test_request_context("/staff/households/"):
        app.preprocess_request()
        assert [i.endpoint for i in nav.items_for(None)] == ["main.home"]
        registered = {rule.endpoint for rule in app.url_map.iter_rules()}
        staff = nav.items_for(FakeUser("staff"))
        expected = ["main.home"] + [e for e, _ in nav.NAVIGATION["staff"] if e in registered]
        # disclosure needs an argument: it cannot be a menu entry and is left out.
        expected.remove("staff.disclosure.index")
        assert [i.endpoint for i in staff] == expected
        assert staff[1].endpoint == "staff.households.index"
        assert [i.current for i in staff[:2]] == [False, True]
        assert staff[1].url == "/staff/households/"
        contractor = [i.endpoint for i in nav.items_for(FakeUser("contractor"))]
        assert contractor[0] == "main.home" and "staff.households.index" not in contractor
        assert [i.endpoint for i in nav.items_for(FakeUser("nobody"))] == ["main.home"]


def test_signed_in_navigation_shows_a_new_screen_to_its_roles_only(staff_stubs, request):
    """A staff screen that exists appears in the menus of city staff and officers (current on its own
    page), never in a contractor's, auditor's or system administrator's."""
    for role in nav.ROLES:
        client = request.getfixturevalue(f"{role}_client")
        page = Page(client.get("/").get_data(as_text=True))
        hrefs = [link["href"] for link in page.all("a", class_="site-nav__link")]
        assert ("/staff/households/" in hrefs) == (role in CITY), (role, hrefs)
        assert not [href for href in hrefs if href.startswith("/staff/disclosure/")]
    staff = request.getfixturevalue("staff_client")
    response = staff.get("/staff/households/")
    assert response.status_code == 200
    contractor = request.getfixturevalue("contractor_client")
    assert contractor.get("/staff/households/").status_code == 403


def test_user_block_renders_only_for_an_authenticated_user(app):
    with app.test_request_context("/"):
        app.preprocess_request()
        html = render_template("main/home.html", current_user=FakeUser("officer"))
        page = Page(html)
        assert page.all("div", class_="user-block")
        assert "試験 花子" in page.text
        assert "保護責任者" in page.text

        anonymous = FakeUser("officer")
        anonymous.is_authenticated = False
        assert 'class="user-block' not in render_template("main/home.html", current_user=anonymous)


# --- macros -----------------------------------------------------------------------------------------


class SampleForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField(
        "氏名", validators=[DataRequired(message="氏名を入力してください")], description="全角で入力"
    )
    kana = StringField("氏名カナ")
    agree = BooleanField("確認しました", validators=[DataRequired(message="確認してください")])
    kind = RadioField(
        "区分",
        choices=[SelectChoice("a", "一般"), SelectChoice("b", "特認")],
        validators=[InputRequired(message="選んでください")],
    )
    ward = SelectField("区", choices=[SelectChoice("1", "川崎区"), SelectChoice("2", "幸区")])
    submit = SubmitField("保存")


MACRO_TEMPLATE = (
    '{% from "_macros.html" import render_field with context %}'
    "{% for name in ['name', 'kana', 'agree', 'kind', 'ward', 'submit'] %}{{ render_field(form[name]) }}{% endfor %}"
    "{{ render_field(form.kana, hint='カタカナで入力', autocomplete='off') }}"
)


def test_render_field_with_errors_links_the_messages(app):
    with app.test_request_context("/", method="POST"):
        form = SampleForm(formdata=MultiDict({"name": "", "ward": "1"}))
        assert not form.validate()
        page = Page(render_template_string(MACRO_TEMPLATE, form=form))

    tag, name = page.by_id("name")
    assert tag == "input" and name["aria-invalid"] == "true"
    assert name["aria-describedby"].split() == ["name-hint", "name-error"]
    assert page.by_id("name-hint")[0] == "p"
    assert page.by_id("name-error")[0] == "ul"
    assert "氏名を入力してください" in page.text
    assert page.one("label", for_="name")
    assert "必須" in page.text

    tag, agree = page.by_id("agree")
    assert agree["type"] == "checkbox" and agree["aria-invalid"] == "true"
    assert agree["aria-describedby"] == "agree-error"

    fieldset = page.by_id("kind")
    assert fieldset[0] == "fieldset" and fieldset[1]["aria-describedby"] == "kind-error"
    radios = page.all("input", type="radio")
    assert len(radios) == 2 and all(r["aria-invalid"] == "true" for r in radios)
    assert page.all("legend")


def test_render_field_without_errors_is_not_invalid(app):
    with app.test_request_context("/"):
        form = SampleForm()
        page = Page(render_template_string(MACRO_TEMPLATE, form=form))

    names = [attrs for tag, attrs in page.elements if attrs.get("id") == "name"]
    assert "aria-invalid" not in names[0]
    assert names[0]["aria-describedby"] == "name-hint"
    kana = [attrs for tag, attrs in page.elements if attrs.get("id") == "kana"]
    assert "aria-describedby" not in kana[0]
    # The explicit hint and extra attributes reach the control.
    assert kana[1]["aria-describedby"] == "kana-hint"
    assert kana[1]["autocomplete"] == "off"
    assert page.one("select", id="ward")["class"] == "select"
    assert page.one("input", type="submit")["class"] == "button button--primary"
    assert not [a for t, a in page.elements if "aria-invalid" in a]


def test_flash_messages_render_as_notices(app):
    with app.test_request_context("/"):
        app.preprocess_request()
        flash("保存しました", "success")
        flash("<b>入力</b>を確認", "error")
        flash("お知らせです")
        html = render_template("main/home.html")
    page = Page(html)
    assert page.all("div", class_="notice notice--success notice--compact", role="status")
    assert page.all("div", class_="notice notice--error notice--compact", role="alert")
    assert page.all("div", class_="notice notice--info notice--compact", role="status")
    assert "&lt;b&gt;入力&lt;/b&gt;" in html, "flashed text is escaped"


def test_toast_region_carries_the_messages_for_app_js(client):
    region = Page(client.get("/login").get_data(as_text=True)).one("div", id="toast-region")
    assert region["aria-live"] == "polite"
    for key in ("default", "403", "404", "409", "429", "500", "503", "network"):
        assert region[f"data-msg-{key}"]
    assert region["data-close-label"] == "閉じる"


# --- static assets ------------------------------------------------------------------------------------


def test_htmx_2_is_vendored_with_its_licence_and_loaded(client):
    files = sorted((STATIC / "vendor").glob("htmx-*.min.js"))
    assert len(files) == 1
    version = re.search(r'version:"([^"]+)"', files[0].read_text()).group(1)
    assert re.fullmatch(r"2\.0\.\d+", version)
    assert files[0].name == f"htmx-{version}.min.js"
    assert (STATIC / "vendor" / f"htmx-{version}.LICENSE").exists()
    html = client.get("/login").get_data(as_text=True)
    assert f"/static/vendor/htmx-{version}.min.js" in html
    assert client.get(f"/static/vendor/htmx-{version}.min.js").status_code == 200


def test_design_tokens_are_vendored_and_used(client):
    tokens = STATIC / "vendor" / "digital-go-jp" / "tokens.css"
    assert "--color-primitive-blue-900" in tokens.read_text()
    assert "MIT License" in (STATIC / "vendor" / "digital-go-jp" / "LICENSE").read_text()
    app_css = (STATIC / "css" / "app.css").read_text()
    assert "var(--color-primitive-blue-" in app_css
    assert ":focus-visible" in app_css
    html = client.get("/login").get_data(as_text=True)
    assert html.index("digital-go-jp/tokens.css") < html.index("css/app.css")
    for path in ("vendor/digital-go-jp/tokens.css", "css/app.css", "css/print.css", "js/app.js"):
        assert client.get(f"/static/{path}").status_code == 200


def test_print_stylesheet(client):
    css = (STATIC / "css" / "print.css").read_text()
    assert "size: A4" in css
    assert ".site-nav" in css
    assert re.search(r"a\[href\]::after[^{]*\{\s*content: none", css)
    page = Page(client.get("/login").get_data(as_text=True))
    assert page.one("link", href="/static/css/print.css")["media"] == "print"


def test_app_js_configures_htmx_for_422_and_csrf():
    js = (STATIC / "js" / "app.js").read_text()
    assert "responseHandling" in js and '"422"' in js
    assert "X-CSRFToken" in js and 'meta[name="csrf-token"]' in js
    assert 'addEventListener("toast"' in js
    assert "innerHTML" not in js, "toasts are built with textContent"
    assert "historyCacheSize = 0" in js


# --- catalogues ----------------------------------------------------------------------------------------


def test_catalogues_are_complete():
    assert check_catalog.problems("ja") == []
    assert check_catalog.problems("en") == []


def test_check_catalog_reports_fuzzy_and_empty_entries(tmp_path):
    po = tmp_path / "messages.po"
    source = check_catalog.po_path("en").read_text(encoding="utf-8")
    source += '\n#, fuzzy\nmsgid "新しい文"\nmsgstr "A new sentence"\n\nmsgid "訳のない文"\nmsgstr ""\n'
    po.write_text(source, encoding="utf-8")
    found = check_catalog.problems("en", po)
    assert any("新しい文" in line and "fuzzy" in line for line in found)
    assert any("訳のない文" in line and "empty msgstr" in line for line in found)


def test_catalogues_match_the_source(tmp_path):
    """`pybabel update --check`: a string added or changed in the code without the catalogues fails."""
    pybabel = Path(sys.executable).with_name("pybabel")
    if not pybabel.exists():
        pytest.skip("pybabel is not installed beside this Python")
    pot = tmp_path / "messages.pot"
    shutil.copytree(ROOT / "translations", tmp_path / "translations")
    common = {"cwd": ROOT, "capture_output": True, "text": True, "check": False}
    extract = subprocess.run(
        [pybabel, "extract", "-F", "babel.cfg", "-k", "_l", "-k", "_n:1,2", "-c", "i18n:", "-o", pot]
        + ["--omit-header", "--no-location", "."],
        **common,
    )
    assert extract.returncode == 0, extract.stderr
    update = subprocess.run(
        [pybabel, "update", "-i", pot, "-d", tmp_path / "translations", "--ignore-obsolete"]
        + ["--ignore-pot-creation-date", "--check"],
        **common,
    )
    assert update.returncode == 0, "catalogues are stale: run `make translations`\n" + update.stderr


def test_english_catalogue_translates_every_shell_string():
    """Spot check that the en catalogue is real English, not the Japanese copied over."""
    catalog = check_catalog.load("en")
    untranslated = [m.id for m in catalog if m.id and m.string == m.id]
    assert untranslated == []
