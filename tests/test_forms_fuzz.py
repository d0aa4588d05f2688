"""Fuzz every form of the staff screens with CSRF on: no input gives a server error.

The forms are not listed by hand: a crawler starts from the pages staff open (a demo household's file,
the estates, parking and search pages), follows the links to forms (each URL shape once), and parses
every POST form (fields, hidden values, select options). Hypothesis then posts hostile and random
values into each form — with the real CSRF token and the version the form carries — and every answer
must be a deliberate one: 200, 303, 400, 403, 404, 409, 422 or 429, never a 5xx or an exception.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token_of
from tests.test_household_page import app, demo_template, enrich, full_household  # noqa: F401 (fixtures)

START = [
    "/staff/households/",
    "/staff/estates/",
    "/staff/estates/vacancies",
    "/staff/parking/",
    "/staff/parking/inspections",
]
# Links never followed: they end the session, change the language or reveal a My Number.
SKIP = re.compile(r"/logout|/language|/reveal|/step-up|/static/|/login|/enroll|/sessions")
MAX_PAGES = 150
ALLOWED = {200, 303, 400, 403, 404, 409, 422, 429}

HOSTILE = [
    "",
    " ",
    "　",
    "0",
    "-1",
    "1e9",
    "99999999999999999999",
    "NaN",
    "令和99年13月40日",
    "2026-02-30",
    "0000-00-00",
    "ｶﾜｻｷ ﾀﾛｳ",
    "かわさき",
    "\x00",
    "\u202e",
    "a\r\nb",
    "'; DROP TABLE person; --",
    "<script>alert(1)</script>",
    "𠮷野家",
    "🏠",
    "x" * 5000,
    "１２３４５６７８９０１２",
    "123456789012",
    "〒210-8577",
    "044-200-2948",
    "12,000円",
]


def shape(url: str) -> str:
    """The URL with its ids replaced: /staff/household/7/members/3/edit → …/N/members/N/edit."""
    return re.sub(r"/\d+", "/N", urlsplit(url).path)


class PageParser(HTMLParser):
    """Links (href, hx-get) and POST forms with their fields."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: dict | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "hx-get"):
            if tag in ("a", "button", "input", "select") and a.get(key):
                self.links.append(a[key])
        if tag == "form":
            method = (a.get("method") or "get").lower()
            action = a.get("hx-post") or a.get("action") or ""
            self._form = {"action": action, "method": method, "fields": {}, "options": {}}
        elif self._form is not None and tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file"):
                if kind == "submit" and a.get("value"):
                    self._form["options"].setdefault(a["name"], []).append(a["value"])
                return
            if kind in ("checkbox", "radio"):
                self._form["options"].setdefault(a["name"], []).append(a.get("value", "y"))
                self._form["fields"].setdefault(a["name"], "")
            else:
                self._form["fields"][a["name"]] = a.get("value", "")
                if kind == "hidden":
                    self._form.setdefault("hidden", set()).add(a["name"])
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = {"name": a["name"]}
            self._form["fields"][a["name"]] = ""
            self._form["options"].setdefault(a["name"], [])
        elif self._form is not None and tag == "option" and self._select is not None:
            self._form["options"][self._select["name"]].append(a.get("value", ""))
        elif self._form is not None and tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ""
        elif self._form is not None and tag == "button" and a.get("name"):
            self._form["options"].setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            if self._form["method"] == "post":
                self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def crawl(client, starts: list[str]) -> dict[str, tuple[str, dict]]:
    """{form shape: (page url, form)}: every POST form reachable from the start pages, once per shape."""
    seen_pages: set[str] = set()
    forms: dict[str, tuple[str, dict]] = {}
    queue = list(starts)
    while queue and len(seen_pages) < MAX_PAGES:
        url = queue.pop(0)
        if shape(url) in seen_pages or SKIP.search(url) or not url.startswith("/staff/"):
            continue
        seen_pages.add(shape(url))
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code < 500, url
            if response.status_code != 200 or "text/html" not in response.content_type:
                continue
            parser = PageParser()
            parser.feed(response.get_data(as_text=True))
            for link in parser.links:
                target = urljoin(url, link).split("#")[0]
                target = urlsplit(target).path if target.startswith(("http://", "https://")) else target
                if target.startswith("/staff/") and shape(target) not in seen_pages:
                    queue.append(target)
            for form in parser.forms:
                action = urljoin(url, form["action"] or url)
                if action.startswith("/staff/") and not SKIP.search(action):
                    forms.setdefault(shape(action), (action, form))
    return forms


def values_for(form: dict):
    """A Hypothesis strategy of form bodies: hostile or random text in every field, options mixed in."""
    fields = {}
    for name, default in form["fields"].items():
        if name == "csrf_token":
            continue
        options = [o for o in form["options"].get(name, []) if o is not None]
        choices = [st.sampled_from(HOSTILE), st.text(max_size=40), st.just(default)]
        if options:
            choices.append(st.sampled_from(options))
        if name == "version" and default:
            choices = [st.just(default), st.just(default), st.sampled_from(HOSTILE)]
        fields[name] = st.one_of(*choices)
    return st.fixed_dictionaries(fields)


@pytest.fixture
def crawled(app, staff_client):  # noqa: F811
    hid = full_household(app)
    enrich(app, hid, staff_client.user)
    forms = crawl(staff_client, [f"/staff/household/{hid}", *START])
    return forms


def test_the_crawler_finds_the_forms_of_the_household_file(crawled):
    shapes = set(crawled)
    assert "/staff/household/N/edit" in shapes
    assert "/staff/households/" in shapes  # the search form posts too


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(data=st.data())
def test_no_form_input_gives_a_server_error(app, staff_client, crawled, data):  # noqa: F811
    token = csrf_token_of(staff_client)
    for form_shape, (action, form) in sorted(crawled.items()):
        body = data.draw(values_for(form), label=form_shape)
        body["csrf_token"] = token
        for headers in ({"HX-Request": "true"}, {}):
            response = staff_client.post(action, data=body, headers=headers)
            assert response.status_code in ALLOWED, (form_shape, body, response.status_code)
