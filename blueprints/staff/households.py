"""Finding households: one search box that understands what is typed, with filters (POST only)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("households", __name__, url_prefix="/households")
