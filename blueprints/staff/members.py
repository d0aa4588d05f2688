"""世帯員 (氏名・生年月日・障害者手帳・生活保護・個人番号) の登録と編集."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("members", __name__)
