"""Jinja filters for Japanese display conventions."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Install the display filters on the app's Jinja environment."""
