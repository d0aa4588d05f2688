"""Browser test fixtures: the app on a live local server, and a headless Chromium page."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests import check_catalog

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serve(app) -> Iterator[str]:
    """Run app on 127.0.0.1 with a free port in a thread; yield its base URL (host name localhost)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # The browser keeps HTTP/1.1 connections open: do not wait for their threads when stopping.
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The base URL of the test app (the shared `app` fixture: its own migrated database)."""
    check_catalog.compile_if_stale()
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium):
    """Headless Chromium (skips without it, fails under REQUIRE_BROWSER=1)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1366×768, Japanese locale, and its page."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page, tmp_path):
    """screenshot(name, **options): a PNG in tmp_path and, when SCREENSHOT_DIR is set, there too."""
    extra = os.environ.get("SCREENSHOT_DIR")

    def take(name: str, target=None, **options) -> Path:
        path = tmp_path / f"{name}.png"
        data = (target or page).screenshot(path=str(path), **options)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            (Path(extra) / f"{name}.png").write_bytes(data)
        return path

    return take
