"""Shared steps of the browser tests: enroll and sign in, and a JavaScript-disabled context."""

from __future__ import annotations

from tests.e2e.test_login_browser import LINK


def enroll_and_sign_in(
    app,
    page,
    origin,
    *,
    role="staff",
    login_id="saiwai",
    name="幸 次郎",
    device="窓口PC",
    seed=False,
    office=None,
) -> None:
    """Optionally seed the demo city; create a user via the CLI (a contractor with its office's code),
    enroll the virtual authenticator, sign in."""
    runner = app.test_cli_runner()
    if seed:
        seeded = runner.invoke(args=["seed", "demo"])
        assert seeded.exit_code == 0, seeded.output
    args = ["users", "create", "--role", role, "--name", name, "--login-id", login_id]
    result = runner.invoke(args=args + (["--office", office] if office else []))
    assert result.exit_code == 0, result.output
    page.goto(LINK.search(result.output).group(1))
    page.get_by_label("認証器の名前").fill(device)
    page.get_by_role("button", name="認証器を登録").click()
    page.wait_for_url(origin + "/login")
    page.get_by_role("button", name="認証器でログイン").click()
    page.wait_for_url(origin + "/")


def without_javascript(browser, page):
    """A new JavaScript-disabled browser context carrying page's signed-in cookies (close it when done)."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", java_script_enabled=False
    )
    context.add_cookies(page.context.cookies())
    return context
