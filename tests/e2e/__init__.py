"""Browser tests: headless Chromium (Debian's) through Playwright against a live server."""
