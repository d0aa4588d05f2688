"""Enrollment, login and logout in Chromium with the DevTools virtual authenticator (internal, UV)."""

from __future__ import annotations

import re

import pytest

from models.security import Credential, UserSession

pytestmark = pytest.mark.browser

LINK = re.compile(r"(http://localhost:\d+/enroll/[A-Za-z0-9_-]{43})")


@pytest.fixture
def origin(app, live_server):
    """The live server's origin as the relying party's only origin (RP ID localhost)."""
    app.config["WEBAUTHN_RP_ID"] = "localhost"
    app.config["WEBAUTHN_ORIGINS"] = [live_server]
    return live_server


@pytest.fixture
def authenticator(page):
    """A virtual platform authenticator that holds discoverable credentials and verifies the user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    created = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, created["authenticatorId"]


@pytest.fixture
def problems(page):
    """Console errors and page errors (a CSP violation shows up here)."""
    found: list[str] = []
    page.on("console", lambda msg: found.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


def test_enroll_from_the_cli_link_log_in_and_out(app, page, origin, authenticator, screenshot, problems):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--role", "officer", "--name", "川崎 一郎", "--login-id", "kawasaki"]
    )
    assert result.exit_code == 0, result.output
    link = LINK.search(result.output).group(1)
    assert link.startswith(origin + "/enroll/")

    # Enrollment page: the person's name, a name for the key, one button.
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "認証器の登録"
    assert page.get_by_text("川崎 一郎 さんがログインに使う認証器を登録します。").is_visible()
    page.get_by_label("認証器の名前").fill("この端末")
    screenshot("auth-enroll-ja", full_page=True)
    page.get_by_role("button", name="認証器を登録").click()
    page.wait_for_url(origin + "/login")
    assert page.get_by_text("認証器を登録しました。").is_visible()
    cdp, authenticator_id = authenticator
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"]
    screenshot("auth-login-ja", full_page=True)

    # Login: one button, no login ID (usernameless).
    assert page.locator("input[type=text], input[type=password]").count() == 0
    page.get_by_role("button", name="認証器でログイン").click()
    page.wait_for_url(origin + "/")
    assert page.locator(".user-block__name").inner_text().strip().endswith("川崎 一郎")
    assert page.locator(".user-block__role").inner_text().strip().endswith("保護責任者")
    signed_in = page.locator("#signed-in-heading")
    assert signed_in.is_visible()
    assert page.get_by_role("row", name="ユーザID kawasaki").is_visible()
    assert page.get_by_text("予備の認証器を登録してください").first.is_visible()
    screenshot("auth-home-signed-in-ja", full_page=True)

    credential = Credential.get()
    assert credential.nickname == "この端末" and credential.last_used_at is not None
    assert UserSession.select().where(UserSession.revoked_at.is_null()).count() == 1

    page.goto(origin + "/account/authenticators")
    assert page.get_by_role("heading", level=1).inner_text() == "認証器"
    screenshot("auth-authenticators-ja", full_page=True)

    # Step-up from the authenticators page, then back to it with the add form open.
    page.get_by_role("link", name="本人確認して追加する").click()
    page.wait_for_url(re.compile(r".*/step-up\?next=.*"))
    screenshot("auth-step-up-ja", full_page=True)
    page.get_by_role("button", name="認証器で本人確認").click()
    page.wait_for_url(origin + "/account/authenticators")
    assert page.get_by_role("button", name="認証器を登録").is_visible()

    # Logout: the server ends the session, the browser forgets its cookies.
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(origin + "/logged-out")
    assert page.get_by_text("ログアウトしました").first.is_visible()
    screenshot("auth-logged-out-ja", full_page=True)
    assert not [c for c in page.context.cookies() if c["name"] == "session" and "sid" in c["value"]]
    assert UserSession.get().revoked_reason == "logout"
    page.goto(origin + "/")
    assert page.url == origin + "/login"
    assert problems == []


def test_login_refused_without_a_registered_key(app, page, origin, authenticator, screenshot):
    page.goto(origin + "/login")
    page.get_by_role("button", name="認証器でログイン").click()
    error = page.locator("[data-webauthn-error]")
    error.wait_for(state="visible")
    assert (
        error.inner_text()
        .strip()
        .endswith(
            (
                "認証器の操作が取り消されたか、時間切れになりました。もう一度お試しください。",
                "認証器を確認できません。",
            )
        )
    )
    screenshot("auth-login-error-ja", full_page=True)
    assert page.url == origin + "/login"
