"""駐車場・区画・契約・車両と車検切れの一覧."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("parking", __name__)
