"""Jinja filters for Japanese display conventions: 和暦, yen, postal codes, phone numbers, 年度, age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Flask
from jinja2 import Undefined

from rules import formatting, wareki

TOKYO = ZoneInfo("Asia/Tokyo")


def _blank_for_none(func: Callable) -> Callable:
    # Every filter shows an empty cell for a missing value instead of "None" or an error.
    @wraps(func)
    def wrapper(value, *args, **kwargs):
        if value is None or isinstance(value, Undefined):
            return ""
        return func(value, *args, **kwargs)

    return wrapper


def to_tokyo(value: datetime) -> datetime:
    """value in Asia/Tokyo; a naive datetime is taken as UTC, as the database stores it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TOKYO)


def today_tokyo() -> date:
    """Today's date in Japan, whatever the server's time zone."""
    return datetime.now(TOKYO).date()


def _wareki(value: date, style: str) -> str:
    if isinstance(value, datetime):
        local = to_tokyo(value)
        return f"{wareki.to_wareki(local.date(), style)} {local:%H:%M}"
    return wareki.to_wareki(value, style)


@_blank_for_none
def wareki_filter(value: date) -> str:
    """令和6年12月18日; a datetime shows Tokyo time too: 令和6年12月18日 14:05."""
    return _wareki(value, "long")


@_blank_for_none
def wareki_short_filter(value: date) -> str:
    """R6.12.18 for narrow columns; a datetime shows Tokyo time too."""
    return _wareki(value, "short")


@_blank_for_none
def wareki_both_filter(value: date) -> str:
    """和暦 with the 西暦 date beside it: 令和6年12月18日 (2024-12-18), the same in every locale."""
    # 和暦 is the calendar of official documents, so English pages show it too, with the ISO date
    # that any reader can check.
    if isinstance(value, datetime):
        local = to_tokyo(value)
        return f"{wareki.to_wareki(local.date())} {local:%H:%M} ({local:%Y-%m-%d})"
    return f"{wareki.to_wareki(value)} ({value.isoformat()})"


@_blank_for_none
def fiscal_year_filter(value: int) -> str:
    """令和8年度 for the fiscal year 2026."""
    return wareki.fiscal_year_label(int(value))


@_blank_for_none
def age_filter(value: date) -> int:
    """Age today (Asia/Tokyo) of a person born on value."""
    return wareki.age_on(value, today_tokyo())


@_blank_for_none
def postal_filter(value: str) -> str:
    """〒210-8577; text that is not a postal code is shown as stored rather than failing the page."""
    try:
        return formatting.postal(value)
    except ValueError:
        return value


FILTERS: dict[str, Callable] = {
    "wareki": wareki_filter,
    "wareki_short": wareki_short_filter,
    "wareki_both": wareki_both_filter,
    # Same filter under the name some screens' specs use.
    "seireki_wareki": wareki_both_filter,
    "yen": _blank_for_none(formatting.yen),
    "yen_ja": _blank_for_none(formatting.yen_ja),
    "postal": postal_filter,
    "phone": _blank_for_none(formatting.phone),
    "fiscal_year": fiscal_year_filter,
    "age": age_filter,
}


def register(app: Flask) -> None:
    """Install the display filters on the app's Jinja environment."""
    app.jinja_env.filters.update(FILTERS)
