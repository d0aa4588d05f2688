"""One household's tenant file (入居者情報ファイル), section by section."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("household", __name__, url_prefix="/household")
