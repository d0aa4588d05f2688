"""団地・棟・住戸と空き住戸の一覧."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("estates", __name__)
