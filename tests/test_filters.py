"""Jinja display filters on a bare Flask app with Flask-Babel (no database needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine
from flask import Flask, render_template_string, session
from flask_babel import Babel

from rules import filters

EXPECTED_FILTERS = {
    "wareki",
    "wareki_short",
    "wareki_both",
    "seireki_wareki",
    "yen",
    "yen_ja",
    "postal",
    "phone",
    "fiscal_year",
    "age",
}


@pytest.fixture
def app():
    application = Flask(__name__)
    application.config.update(TESTING=True, SECRET_KEY="filters-test-secret-key-0123456789abcdef")
    Babel(
        application,
        locale_selector=lambda: session.get("lang", "ja"),
        timezone_selector=lambda: "Asia/Tokyo",
    )
    filters.register(application)
    return application


def render(app, source: str, **context) -> str:
    with app.test_request_context("/"):
        return render_template_string(source, **context)


def test_all_filters_installed(app):
    assert set(app.jinja_env.filters) >= EXPECTED_FILTERS


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v|wareki }}", date(2024, 12, 18), "令和6年12月18日"),
        ("{{ v|wareki }}", date(2019, 5, 1), "令和元年5月1日"),
        ("{{ v|wareki_short }}", date(2024, 12, 18), "R6.12.18"),
        ("{{ v|wareki_both }}", date(2024, 12, 18), "令和6年12月18日 (2024-12-18)"),
        ("{{ v|seireki_wareki }}", date(1989, 1, 7), "昭和64年1月7日 (1989-01-07)"),
        ("{{ v|yen }}", 38600, "¥38,600"),
        ("{{ v|yen }}", -1200, "-¥1,200"),
        ("{{ v|yen_ja }}", Decimal("38600"), "38,600円"),
        ("{{ v|yen_ja(triangle=True) }}", -1200, "△1,200円"),
        ("{{ v|postal }}", "２１０８５７７", "〒210-8577"),
        ("{{ v|phone }}", "0442002948", "044-200-2948"),
        ("{{ v|fiscal_year }}", 2026, "令和8年度"),
        ("{{ v|fiscal_year }}", 2019, "令和元年度"),
    ],
)
def test_filter_values(app, source, value, expected):
    assert render(app, source, v=value) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_FILTERS))
def test_none_and_undefined_render_empty(app, name):
    assert render(app, f"[{{{{ v|{name} }}}}]", v=None) == "[]"
    assert render(app, f"[{{{{ missing|{name} }}}}]") == "[]"


@pytest.mark.parametrize(
    ("value", "long", "short", "both"),
    [
        # Naive datetimes are UTC (as stored): 05:30 UTC is 14:30 in Tokyo.
        (
            datetime(2024, 12, 18, 5, 30),
            "令和6年12月18日 14:30",
            "R6.12.18 14:30",
            "令和6年12月18日 14:30 (2024-12-18)",
        ),
        # 15:30 UTC on New Year's Eve is already 1 January in Tokyo.
        (
            datetime(2024, 12, 31, 15, 30),
            "令和7年1月1日 00:30",
            "R7.1.1 00:30",
            "令和7年1月1日 00:30 (2025-01-01)",
        ),
        # The 改元 boundary is a Tokyo date: 2019-04-30 15:00 UTC is 令和元年5月1日 00:00.
        (
            datetime(2019, 4, 30, 15, 0),
            "令和元年5月1日 00:00",
            "R1.5.1 00:00",
            "令和元年5月1日 00:00 (2019-05-01)",
        ),
        (
            datetime(2019, 4, 30, 14, 59),
            "平成31年4月30日 23:59",
            "H31.4.30 23:59",
            "平成31年4月30日 23:59 (2019-04-30)",
        ),
        # Aware datetimes are converted from their own zone.
        (
            datetime(2024, 12, 18, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
            "令和6年12月18日 23:00",
            "R6.12.18 23:00",
            "令和6年12月18日 23:00 (2024-12-18)",
        ),
    ],
)
def test_datetimes_shown_in_tokyo_time(app, value, long, short, both):
    assert render(app, "{{ v|wareki }}", v=value) == long
    assert render(app, "{{ v|wareki_short }}", v=value) == short
    assert render(app, "{{ v|wareki_both }}", v=value) == both


def test_wareki_both_keeps_wareki_in_english(app):
    with app.test_request_context("/"):
        session["lang"] = "en"
        from flask_babel import get_locale

        assert str(get_locale()) == "en"
        assert (
            render_template_string("{{ v|wareki_both }}", v=date(2024, 12, 18))
            == "令和6年12月18日 (2024-12-18)"
        )


@pytest.mark.parametrize(
    ("now_utc", "age"),
    [
        # 14:59 UTC on 14 June is 23:59 in Tokyo: still 73.
        (datetime(2024, 6, 14, 14, 59, tzinfo=UTC), 73),
        # 15:00 UTC on 14 June is already 15 June in Tokyo: the birthday, 74.
        (datetime(2024, 6, 14, 15, 0, tzinfo=UTC), 74),
    ],
)
def test_age_counts_today_in_tokyo(app, now_utc, age):
    with time_machine.travel(now_utc, tick=False):
        assert render(app, "{{ v|age }}", v=date(1950, 6, 15)) == str(age)


def test_postal_filter_shows_invalid_stored_value(app):
    assert render(app, "{{ v|postal }}", v="不明") == "不明"


def test_filter_output_is_escaped(app):
    # Values pass through formatting untouched when unreadable; autoescape must still apply.
    assert render(app, "{{ v|phone }}", v="<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert render(app, "{{ v|postal }}", v="<i>") == "&lt;i&gt;"


def test_filters_do_not_need_a_request(app):
    # Batch jobs render notices outside any request.
    template = app.jinja_env.from_string("{{ d|wareki }} {{ n|yen_ja }}")
    with app.app_context():
        assert template.render(d=date(2026, 4, 1), n=38600) == "令和8年4月1日 38,600円"
