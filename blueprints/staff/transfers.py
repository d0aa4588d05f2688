"""口座振替登録と金融機関の検索."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transfers", __name__)
