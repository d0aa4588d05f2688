"""世帯の異動 (同居・転出・出生・死亡・承継・住替え・退去)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("events", __name__)
