"""Canary: the demo city's My Numbers (each a known canary once decrypted here) appear nowhere they
must not — in no page or fragment any role can open, no log line, no audit row, and not in the raw
SQLite file or its WAL. The one place a number may appear is the answer to an authorised reveal,
which tests/test_reveal.py covers.
"""

from __future__ import annotations

import logging
import re

from extensions import db
from models import AuditEntry, PersonalNumber
from services import mynumber
from services.vault import keyring_for
from tests.conftest import csrf_token_of
from tests.test_forms_fuzz import START, PageParser, crawl  # noqa: F401
from tests.test_household_page import app, demo_template, enrich, full_household  # noqa: F401 (fixtures)


def canaries(app) -> set[str]:  # noqa: F811
    keyring = keyring_for(app.config)
    with app.app_context(), db.connection_context():
        return {mynumber.decrypt_row(row, keyring) for row in PersonalNumber.select()}


def spaced(number: str) -> list[str]:
    """The spellings a leak could take: 123456789012, 1234 5678 9012, 1234-5678-9012."""
    parts = [number[:4], number[4:8], number[8:]]
    return [number, " ".join(parts), "-".join(parts)]


def visible_pages(client, starts) -> dict[str, str]:
    """Every page and fragment reachable from the start pages by GET (each URL shape once)."""
    pages: dict[str, str] = {}
    seen: set[str] = set()
    queue = list(starts)
    while queue and len(seen) < 200:
        url = queue.pop(0)
        shape = re.sub(r"/\d+", "/N", url)
        if shape in seen or re.search(r"/logout|/language|/reveal|/static/", url):
            continue
        seen.add(shape)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code < 500, url
            if "text/html" not in response.content_type:
                continue
            html = response.get_data(as_text=True)
            pages[f"{url} {headers}"] = html
            parser = PageParser()
            parser.feed(html)
            queue += [link.split("#")[0] for link in parser.links if link.startswith("/") and "?" not in link]
    return pages


def test_no_my_number_leaves_the_vault(app, staff_client, contractor_client, auditor_client, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    numbers = canaries(app)
    assert len(numbers) > 1000  # the demo city registers its members' numbers
    hid = full_household(app)
    enrich(app, hid, staff_client.user)

    pages = visible_pages(staff_client, ["/", f"/staff/household/{hid}", *START])
    token = csrf_token_of(staff_client)
    for query in ("ワタナベ", "渡辺", "川崎"):
        response = staff_client.post("/staff/households/", data={"q": query, "csrf_token": token})
        pages[f"search {query}"] = response.get_data(as_text=True)
    for client in (contractor_client, auditor_client):
        pages.update(visible_pages(client, ["/", f"/staff/household/{hid}"]))
    assert len(pages) > 40

    patterns = [s for n in numbers for s in spaced(n)]
    finder = re.compile("|".join(map(re.escape, patterns)))
    sample = next(iter(numbers))
    assert finder.search(f"番号 {sample[:4]}-{sample[4:8]}-{sample[8:]} です")  # the net would catch one
    leaks = [name for name, html in pages.items() if finder.search(html)]
    assert leaks == []

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert finder.search(logged) is None

    with app.app_context(), db.connection_context():
        for entry in AuditEntry.select():
            row = " ".join(str(v) for v in entry.__data__.values() if v is not None)
            assert finder.search(row) is None, entry.id
        database_file = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    from pathlib import Path

    raw = b"".join(p.read_bytes() for p in Path(database_file).parent.glob(Path(database_file).name + "*"))
    for number in numbers:
        assert number.encode() not in raw
        assert number.encode("utf-16-le") not in raw
