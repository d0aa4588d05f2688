"""The shell in a real browser: Japanese rendering, skip link, language switch, 404, htmx wiring, CSP.

An anonymous visitor lands on the login page, so the shell is seen there; the htmx probe routes are
test-only and declared PUBLIC in the policy for the test's duration."""

from __future__ import annotations

import pytest
from flask import Blueprint, request
from flask_htmx import make_response

from blueprints.policy import PUBLIC

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app, allow_in_policy):
    """The shared app plus two htmx endpoints to exercise static/js/app.js (CSRF protection stays on),
    declared PUBLIC in the policy for this test only."""
    probe = Blueprint("e2e_probe", __name__)

    @probe.post("/_e2e/form")
    def form():
        if request.form.get("x") != "good":
            return '<p id="probe-result">入力内容に誤りがあります</p>', 422
        # flask-htmx serialises the trigger with json.dumps: ASCII escapes, so Japanese survives the header.
        return make_response('<p id="probe-result">保存しました</p>', trigger={"toast": "保存しました"})

    @probe.post("/_e2e/conflict")
    def conflict():
        return '<p id="probe-result">conflict</p>', 409

    app.register_blueprint(probe)
    allow_in_policy("e2e_probe.form", ["POST"], PUBLIC)
    allow_in_policy("e2e_probe.conflict", ["POST"], PUBLIC)
    return app


@pytest.fixture
def console_errors(page):
    """Console errors, page errors (a CSP violation shows up here) and failed requests, except the
    pages a test opens on purpose (listed in EXPECTED_FAILURES)."""
    errors: list[str] = []

    def on_console(msg):
        # Failed requests are logged by the browser and by htmx; the response hook below checks them.
        expected = ("Failed to load resource", "Response Status Error Code")
        if msg.type == "error" and not msg.text.startswith(expected):
            errors.append(msg.text)

    def on_response(response):
        path = response.url.split("//", 1)[1].split("/", 1)[1]
        if response.status >= 400 and "/" + path not in EXPECTED_FAILURES:
            errors.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", on_response)
    return errors


EXPECTED_FAILURES = {"/no-such-page", "/_e2e/form", "/_e2e/conflict"}  # 404, 422/400, 409 on purpose


def test_shell_in_japanese_then_english_then_404(page, live_server, screenshot, console_errors):
    # An anonymous visitor to the home page is sent to the login page, in Japanese.
    response = page.goto(live_server + "/")
    assert response.status == 200
    assert page.url == live_server + "/login"
    assert response.request.redirected_from.response().status == 303
    assert page.locator("html").get_attribute("lang") == "ja"
    name = page.locator(".site-header__name")
    assert name.inner_text() == "市営住宅管理システム"
    assert name.is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "ログイン"
    assert page.get_by_role("button", name="認証器でログイン").is_visible()
    # Japanese glyphs are drawn with a real font (not tofu): the ten-character name has a sensible width.
    assert name.bounding_box()["width"] > 150
    screenshot("shell-login-ja-1366", full_page=True)

    # The skip link is hidden until the first Tab, then visible, and takes the user to <main>.
    skip = page.locator("a.skip-link")
    before = skip.bounding_box()
    assert before["y"] + before["height"] <= 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    after = skip.bounding_box()
    assert after["y"] >= 0 and after["height"] > 0
    assert skip.inner_text() == "本文へ移動"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "visible focus"
    screenshot("shell-skip-link-focus")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'main'")

    # htmx 2 is loaded and configured by app.js.
    assert page.evaluate("htmx.version").startswith("2.0.")
    assert page.evaluate("htmx.config.responseHandling.some(r => r.code === '422' && r.swap && !r.error)")
    assert page.evaluate("htmx.config.historyCacheSize") == 0

    # Switch to English through the header form: back on the login page, now in English.
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.url == live_server + "/login"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert page.get_by_role("button", name="Sign in with authenticator").is_visible()
    assert page.locator("a.skip-link").inner_text() == "Skip to main content"
    assert page.get_by_role("navigation", name="Main menu").is_visible()
    screenshot("shell-login-en-1366", full_page=True)

    # A missing page: generic, in the chosen language, with a way home.
    response = page.goto(live_server + "/no-such-page")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert page.get_by_text("Error code: 404").is_visible()
    screenshot("shell-404-en-1366")

    # Back to Japanese from the error page: the form returns to the same path.
    page.get_by_role("button", name="日本語").click()
    page.wait_for_load_state()
    assert page.url.endswith("/no-such-page")
    assert page.get_by_role("heading", level=1).inner_text() == "ページが見つかりません"
    assert page.get_by_role("link", name="ホームへ戻る").is_visible()
    screenshot("shell-404-ja-1366")

    assert console_errors == []


def send(page, path: str, values: dict | None = None) -> None:
    """Start an htmx POST into #main; do not await its promise (page.evaluate has no timeout)."""
    page.evaluate(
        "([path, values]) => { htmx.ajax('POST', path, {target: '#main', values: values}); }",
        [path, values or {}],
    )


def test_htmx_sends_csrf_swaps_422_and_shows_toasts(page, live_server, console_errors):
    page.goto(live_server + "/login")
    page.wait_for_function("window.htmx && window.housingApp")

    # 422: swapped into the target (the CSRF header went along, or CSRFProtect would answer 400).
    send(page, "/_e2e/form", {"x": "bad"})
    page.wait_for_selector("#probe-result")
    assert page.locator("#probe-result").inner_text() == "入力内容に誤りがあります"

    # Success: the HX-Trigger toast appears in the live region.
    send(page, "/_e2e/form", {"x": "good"})
    toast = page.locator("#toast-region .toast--success")
    toast.wait_for()
    assert "保存しました" in toast.inner_text()

    # 409: swapped (the server's fragment shows both versions) and an error toast says why; it can be closed.
    send(page, "/_e2e/conflict")
    error = page.locator("#toast-region .toast--error")
    error.wait_for()
    assert "ほかの人が先に更新しました" in error.inner_text()
    assert error.get_attribute("role") == "alert"
    assert page.locator("#probe-result").inner_text() == "conflict"
    error.get_by_role("button", name="閉じる").click()
    assert page.locator("#toast-region .toast--error").count() == 0

    # A request without the CSRF header is refused (and reported as an error toast).
    page.evaluate(
        "document.addEventListener('htmx:configRequest', e => delete e.detail.headers['X-CSRFToken'], {once: true})"
    )
    send(page, "/_e2e/form", {"x": "good"})
    page.locator("#toast-region .toast--error").wait_for()

    assert console_errors == []


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768), (390, 844)])
def test_layout_at_common_sizes(page, live_server, screenshot, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server + "/")
    assert page.url == live_server + "/login"
    # Nothing overflows sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(f"shell-login-ja-{width}x{height}")


def test_print_layout_hides_navigation(page, live_server, screenshot):
    page.goto(live_server + "/")
    assert page.url == live_server + "/login"
    # On screen the navigation and the language switch are there; in print they are not.
    assert page.locator(".site-nav").is_visible()
    assert page.locator(".language-switch").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".site-nav").is_visible()
    assert not page.locator(".language-switch").is_visible()
    assert page.get_by_role("heading", level=1).is_visible()
    screenshot("shell-login-ja-print", full_page=True)
