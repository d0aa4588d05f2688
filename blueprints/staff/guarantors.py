"""連帯保証人・緊急連絡人."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("guarantors", __name__)
